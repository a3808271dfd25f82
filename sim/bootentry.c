/* What runs when the board comes up, and the ways into its bootloader:
 * Katapult's bootentry_check() (a request code, or no application), the
 * application started from flash (its vector table and dictionary), and the
 * requests Klipper acts on (1200-baud touch, CAN admin frame; the UART
 * string is found by the MCU's block parser), plus COMPLETE's jump. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appimage.h"
#include "sim.h"
#include "usb_board.h"
#include "util/clock.h"

const char *sim_mode_name(enum sim_mode m)
{
    static const char *const names[] = { "klipper", "katapult", "crashed", "silent", "dfu" };
    return names[m];
}

/* The flash changed under Klipper's feet: its dictionary is the board's
 * identity from now on. */
void sim_take_identity(struct sim *s)
{
    struct mf_err err = { 0 };
    s->mode = MODE_SILENT;
    if (!s->flash.dict)
        return;
    if (sim_mcu_set_identity(&s->mcu, s->flash.dict, s->flash.dict_len, &err) < 0) {
        fprintf(stderr, "mcuflash-sim: the flashed firmware's dictionary is unusable (%s); the board stays silent.\n",
                err.msg);
        return;
    }
    s->mode = MODE_KLIPPER;
    if (cardslot_wire(&s->slot, s->board, s->mcu.dict, &err) < 0)
        fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
}

static uint32_t ram_low(const struct sim *s)
{
    return s->mcu.type && s->mcu.type->family == FAMILY_LPC176X ? 0x10000000u : 0x20000000u;
}

/* Katapult jumps to the application: what its vector table and contents
 * make of the board. */
static void start_application(struct sim *s)
{
    char *dict = NULL;
    size_t len = 0;
    enum app_outcome out = app_start(&s->flash, ram_low(s), s->flash.ram_top, &dict, &len);
    bool same = dict && s->flash.dict && len == s->flash.dict_len && !memcmp(dict, s->flash.dict, len);
    if (!same && !(dict == NULL && s->flash.dict == NULL)) {
        struct mf_err err = { 0 };
        flash_adopt(&s->flash, dict, len);
        if (flash_save(&s->flash, &err) < 0)
            fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
    }
    free(dict);
    if (out == APP_CRASHES)
        s->mode = MODE_CRASHED;
    else if (!same || s->mode != MODE_KLIPPER)
        sim_take_identity(s);
}

/* Katapult's bootentry_check(): a request, or no application, keeps it. */
void sim_choose_firmware(struct sim *s)
{
    if (s->enter_rom_dfu) {
        s->enter_rom_dfu = false;
        s->mode = MODE_DFU;
        return;
    }
    if (!s->opt.katapult)
        return; /* the SD-card bootloader (if any) has had its say */
    if (s->enter_katapult || !app_present(&s->flash)) {
        s->enter_katapult = false;
        s->mode = MODE_KATAPULT;
        return;
    }
    start_application(s);
}

void sim_request_bootloader(struct sim *s)
{
    /* Klipper sets Katapult's request code and resets; without Katapult the
     * board just boots again (as an LPC176x with its stock SD bootloader). */
    s->enter_katapult = s->opt.katapult;
    /* Klipper's STM32 code jumps to the ROM's DFU bootloader instead. */
    s->enter_rom_dfu = !s->opt.katapult && sim_usb_rom_dfu(s);
    sim_reset(s, false);
}

void sim_rom_dfu_leave(struct sim *s)
{
    start_application(s);
    sim_reset(s, false);
}

/* Bootloader requests that do not come as bytes: the 1200-baud touch on a
 * USB board, the CAN admin frame; Katapult's COMPLETE. */
void sim_watch_entry(struct sim *s)
{
    if (s->state != BOARD_RUNNING)
        return;
    if (sim_running(s, MODE_KATAPULT) && katapult_app_due(&s->katapult, mf_now_us())) {
        s->katapult.complete = false;
        sim_reset(s, false); /* application_jump(): a reset with the start-app code */
        return;
    }
    struct can_node *node = &s->port.can;
    if (port_has_node(&s->port) && node->id_conflict) {
        node->id_conflict = false;
        if (sim_running(s, MODE_KLIPPER))
            sim_mcu_force_shutdown(&s->mcu, "Another CAN node assigned this ID");
    }
    bool can_request = port_has_node(&s->port) && node->bootloader_requested;
    node->bootloader_requested = false;
    /* Katapult's check_reboot() does nothing: only Klipper reacts. */
    if (sim_running(s, MODE_KLIPPER) && (can_request || port_touched_1200(&s->port)))
        sim_request_bootloader(s);
}
