/* What to do next, added to an error at the command line, where the user's
 * command and its options are known; the layers below report the fact. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board/board.h"
#include "cli/commands.h"
#include "link/link.h"
#include "printer/service.h"

/* What to do about each fact, to follow the low layer's sentence after "; ". */
static const char *const fact_advice[] = {
    [MF_FACT_BOARD_NEEDED] = "give it with --board NAME ('mcuflash boards' lists them)",
    [MF_FACT_DICT_OTHER] = "give the klipper.dict of the same build with -d, or leave out -d",
    [MF_FACT_POWER_CYCLE] = "or use --wait to have mcuflash wait for the power cycle",
    [MF_FACT_NO_IMAGE] = "or give it with -f NAME=FILE",
    [MF_FACT_NO_CONFIG] = "give the printer's printer.cfg with --config FILE",
    [MF_FACT_FOLDER_IN_WAY] = "remove or rename that folder on the card and try again",
    [MF_FACT_CAN_IFACE] = "nothing was sent; check the interface with 'ip -details link show' (it must be up, at "
                          "the bus's bitrate), or name another with --canbus-interface",
};

static void advice(const struct mf_err *err, const char *device, char *buf, size_t cap)
{
    char real[PATH_MAX];
    buf[0] = '\0';
    if (err->fact == MF_FACT_PORT_BUSY) {
        /* The Klipper service is what holds a port while it runs. */
        if (device && realpath(device, real) && link_holders(real, NULL, 0) > 0 &&
            service_state("klipper") == SERVICE_ACTIVE)
            snprintf(buf, cap, "the klipper service runs: stop it first (sudo systemctl stop klipper) and try "
                     "again, or let 'mcuflash update' stop and start it");
        else
            snprintf(buf, cap, "stop %s first (for Klipper: sudo systemctl stop klipper) and try again",
                     strstr(err->msg, "), pid ") ? "those programs" : "that program");
    } else if ((size_t)err->fact < sizeof(fact_advice) / sizeof(fact_advice[0]) && fact_advice[err->fact]) {
        snprintf(buf, cap, "%s", fact_advice[err->fact]);
    }
}

void cli_advise(struct mf_err *err, const char *device)
{
    char text[256];
    advice(err, device, text, sizeof(text));
    size_t len = strlen(err->msg);
    if (!text[0] || !len || err->msg[len - 1] != '.')
        return;
    snprintf(err->msg + len - 1, sizeof(err->msg) - (len - 1), "; %s.", text);
    err->fact = MF_FACT_NONE;
}

/* The SDIO slot of the STM32 families that have one, as software SPI sees
 * it: MISO on D0, MOSI on CMD, SCLK on CLK, chip select on D3. */
static const char *const sdio_slot_pins[4] = { "PC8", "PD2", "PC12", "PC11" };

static bool on_sdio_slot(const struct board *b)
{
    if (strncasecmp(b->mcu, "stm32", 5) || !b->spi_pins[0] || !b->cs_pin || strcasecmp(b->cs_pin, sdio_slot_pins[3]))
        return false;
    for (int i = 0; i < 3; i++)
        if (strcasecmp(b->spi_pins[i], sdio_slot_pins[i]))
            return false;
    return true;
}

void cli_advise_not_flashed(struct mf_err *err, const struct board_db *db, const struct board *b)
{
    if (err->code != MF_E_NOT_FLASHED || !b || !b->origin.file || b->card_access != BOARD_CARD_SPI ||
        !on_sdio_slot(b))
        return;
    char names[160] = "";
    for (size_t i = 0, len = 0, n = 0; i < board_db_count(db) && n < 2 && len < sizeof(names); i++) {
        const struct board *o = board_db_board(db, i);
        if (!o->origin.file && o->card_access == BOARD_CARD_SDIO && !strcasecmp(o->mcu, b->mcu) && on_sdio_slot(o)) {
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", n ? " or " : "", o->name);
            n++;
        }
    }
    /* First, as it is the specific reason: the message may be cut at its end. */
    char hint[sizeof(err->msg)];
    snprintf(hint, sizeof(hint), "%s drives the card by software SPI on PC8, PD2, PC12, PC11: that is the %s's SDIO "
             "slot, and its bootloader most likely reads it in SD mode; %s%s%s'card_access: sdio' in %s%s flashes it "
             "on a warm reset.", b->name, b->mcu, names[0] ? "the built-in " : "", names, names[0] ? " (or " : "",
             b->origin.file, names[0] ? ")" : "");
    size_t h = strnlen(hint, sizeof(err->msg) - 2);
    memmove(err->msg + h + 1, err->msg, sizeof(err->msg) - h - 1);
    err->msg[sizeof(err->msg) - 1] = '\0';
    memcpy(err->msg, hint, h);
    err->msg[h] = ' ';
}
