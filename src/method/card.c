#include "method/card.h"

#include <stdio.h>
#include <string.h>

#include "klipper/mcu.h"
#include "method/reconnect.h"
#include "sd/klipper_bus.h"

#define RECONNECT_TIMEOUT_MS 30000

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int mf_bus_from_board(const struct board *b, const struct kl_dict *d, bool fast, struct mf_bus_spec *spec,
                      struct mf_err *err)
{
    memset(spec, 0, sizeof(*spec));
    spec->fast = fast;
    struct kl_mcu_features f;
    kl_mcu_features(d, &f);
    int32_t v;
    const struct kl_enum *sdio_enum = f.sdio_bus_enum ? kl_dict_enum(d, f.sdio_bus_enum) : NULL;
    bool sdio_ok = f.sdio && b->sdio_bus && sdio_enum && kl_enum_value(sdio_enum, b->sdio_bus, &v) == 0;
    /* SD mode keeps the card readable for an SD-mode bootloader after a
     * warm reset; SPI mode would lock it until the power is cut. */
    if (sdio_ok && (b->card_access == BOARD_CARD_SDIO || !b->cs_pin)) {
        spec->kind = MF_BUS_SDIO;
        copy(spec->sdio_bus, sizeof(spec->sdio_bus), b->sdio_bus);
        return 0;
    }
    if (!b->cs_pin && !b->sdio_bus)
        return mf_fail(err, MF_E_MISMATCH, "Board %s has no SD card wired to its MCU; nothing was changed; flash it "
                       "with 'mcuflash flash', which takes the route the board supports.", b->name);
    if (!b->cs_pin)
        return mf_fail(err, MF_E_MISMATCH, "Board %s reaches its card only over SDIO bus %s, which the firmware "
                       "does not offer; nothing was changed; build Klipper with SDIO support or add SPI pins to the "
                       "board definition.", b->name, b->sdio_bus ? b->sdio_bus : "(none)");
    if (board_check_mcu(b, d, err) < 0)
        return -1;
    copy(spec->cs_pin, sizeof(spec->cs_pin), b->cs_pin);
    if (board_is_swspi(b)) {
        if (!f.sw_spi)
            return mf_fail(err, MF_E_MISMATCH, "Board %s needs software SPI, which the firmware was built without; "
                           "nothing was changed; enable \"software SPI\" in make menuconfig and flash it once by "
                           "other means.", b->name);
        spec->kind = MF_BUS_SWSPI;
        for (int i = 0; i < 3; i++)
            copy(spec->sw_pins[i], sizeof(spec->sw_pins[i]), b->spi_pins[i]);
    } else {
        spec->kind = MF_BUS_SPI;
        copy(spec->spi_bus, sizeof(spec->spi_bus), b->spi_bus);
    }
    return 0;
}

void mf_bus_describe(const struct mf_bus_spec *spec, char *buf, size_t cap)
{
    switch (spec->kind) {
    case MF_BUS_SDIO:
        snprintf(buf, cap, "SDIO bus %s (SD mode)", spec->sdio_bus);
        break;
    case MF_BUS_SWSPI:
        snprintf(buf, cap, "software SPI (MISO %s, MOSI %s, SCLK %s, CS %s)", spec->sw_pins[0], spec->sw_pins[1],
                 spec->sw_pins[2], spec->cs_pin);
        break;
    case MF_BUS_SPI:
        snprintf(buf, cap, "hardware SPI %s (CS %s)", spec->spi_bus, spec->cs_pin);
        break;
    }
}

int mf_card_connect(const char *device, uint32_t baud, const struct mf_progress *p, struct mf_card *c,
                    struct mf_err *err)
{
    memset(c, 0, sizeof(*c));
    copy(c->device, sizeof(c->device), device);
    c->baud = baud;
    if (mf_connect(device, baud, &c->conn, err) < 0)
        return -1;
    struct kl_mcu_config cfg;
    if (kl_mcu_get_config(c->conn.session, &cfg, err) < 0) {
        mf_disconnect(&c->conn);
        return -1;
    }
    if (!cfg.is_config && !cfg.is_shutdown)
        return 0;
    /* Bus set-up needs an unconfigured MCU, as after power-on. */
    mf_progress_note(p, "reset", cfg.is_shutdown ? "The MCU is shut down; resetting it first."
                                                 : "The MCU is configured; resetting it first.");
    if (mf_reset_reconnect(&c->conn, device, baud, RECONNECT_TIMEOUT_MS, err) < 0)
        return -1;
    if (kl_mcu_get_config(c->conn.session, &cfg, err) < 0) {
        mf_disconnect(&c->conn);
        return -1;
    }
    if (cfg.is_config || cfg.is_shutdown) {
        mf_disconnect(&c->conn);
        return mf_fail(err, MF_E_DEVICE, "The board at %s is still configured after a reset; is Klipper (or "
                       "another program) reconfiguring it? Nothing was changed; stop that program and try again.",
                       device);
    }
    return 0;
}

static int open_bus(struct mf_card *c, struct mf_err *err)
{
    const struct mf_bus_spec *s = &c->spec;
    if (s->kind == MF_BUS_SDIO)
        return klipper_sdio_open(c->conn.session, s->sdio_bus, &c->bus, err);
    struct klipper_spi_config cfg = {
        .bus = s->kind == MF_BUS_SWSPI ? "swspi" : s->spi_bus,
        .cs_pin = s->cs_pin,
        .sw_pins = { s->sw_pins[0], s->sw_pins[1], s->sw_pins[2] },
        .rate = s->fast ? KLIPPER_SD_SPI_FAST_RATE : KLIPPER_SD_SPI_RATE,
    };
    return klipper_spi_open(c->conn.session, &cfg, &c->bus, err);
}

int mf_card_attach(struct mf_card *c, const struct mf_bus_spec *spec, bool need_fs, struct mf_err *err)
{
    c->spec = *spec;
    if (open_bus(c, err) < 0)
        return -1;
    if (sd_open(c->bus, &c->card, err) < 0)
        return -1;
    struct mf_err fserr;
    if (fat_mount(sd_card_blockdev(c->card), &c->vol, &fserr) < 0) {
        c->vol = NULL;
        copy(c->fs_error, sizeof(c->fs_error), fserr.msg);
        if (need_fs) {
            *err = fserr;
            return -1;
        }
    }
    return 0;
}

int mf_card_check_writable(struct mf_card *c, struct mf_err *err)
{
    const struct sd_card_info *ci = sd_card_info(c->card);
    /* Klipper's SPI and SDIO commands never see a lock switch: a full-size
     * card's switch is sensed by the socket only, and microSD cards have
     * none.  What refuses the write is the card's own protection. */
    if (ci->write_protected)
        return mf_fail(err, MF_E_CARD, "The SD card is write-protected by its own CSD register (%s); nothing was "
                       "written; no lock switch is involved (microSD cards have none, and the board does not read "
                       "the switch of a full-size card): %s", ci->perm_write_protect ? "permanently" : "temporarily",
                       ci->perm_write_protect ? "use another card."
                                              : "clear the protection with an SD card tool on a computer, or use "
                                                "another card.");
    return fat_check_writable(c->vol, err);
}

/* Unmount and leave the card and its bus; the link stays open. */
static int release_card(struct mf_card *c, struct mf_err *err)
{
    int rc = 0;
    if (c->vol && fat_unmount(c->vol, err) < 0)
        rc = -1;
    c->vol = NULL;
    struct mf_err ignore;
    if (c->card)
        sd_close(c->card, &ignore);
    c->card = NULL;
    if (c->bus)
        c->bus->ops->close(c->bus);
    c->bus = NULL;
    return rc;
}

int mf_card_close(struct mf_card *c, bool reset_mcu, struct mf_err *err)
{
    int rc = release_card(c, err);
    struct mf_err ignore;
    if (c->conn.session && reset_mcu)
        kl_mcu_reset(c->conn.session, &ignore);
    if (c->conn.session)
        mf_disconnect(&c->conn);
    return rc;
}

int mf_card_close_settled(struct mf_card *c, struct mf_err *err)
{
    int rc = release_card(c, err);
    struct mf_err ignore;
    if (c->conn.session)
        mf_reset_reconnect(&c->conn, c->device, c->baud, RECONNECT_TIMEOUT_MS, &ignore);
    if (c->conn.session)
        mf_disconnect(&c->conn);
    return rc;
}
