/* The virtual board's USB identity on the emulated bus. */
#include "usb_board.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"
#include "sim.h"
#include "usb_dfu_lpc.h"
#include "usb_dfuse.h"
#include "usb_picoboot.h"
#include "usb_testbed.h"

#define KLIPPER_VID 0x1d50
#define KLIPPER_PID 0x614e
#define KATAPULT_PID 0x6177
#define GSUSB_PID 0x606f /* Klipper's USB to CAN bus bridge (Linux gs_usb) */
/* A plugged DFU device is served at this pace; a CDC device only shows in sysfs. */
#define DFU_POLL_MS 1
#define CDC_POLL_MS 50

enum shown { SHOWN_NONE, SHOWN_CDC, SHOWN_DFU, SHOWN_BRIDGE };

struct sim_usb {
    char port[32];
    struct dfuse_opts dfuse;
    bool no_dfu;
    struct usb_testbed *tb;
    enum shown shown;
    char tty[64];            /* the CDC device's tty as shown ("pts/7") */
    enum sim_mode cdc_mode;  /* what the CDC device was shown for */
    struct usb_model cdc;
    struct dfuse_dev *dfu;   /* the STM32 ROM, or */
    struct lpc_dfu *lpc;     /* the LPC176x DFU bootloader, or */
    struct picoboot_dev *pico; /* the RP2040's BOOTSEL ROM */
    char product[64], serial[40];
};

static int parse_spec(struct sim_usb *u, const char *spec, struct mf_err *err)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *save, *part = strtok_r(buf, ",", &save);
    if (!part || !strchr(part, '-'))
        return mf_fail(err, MF_E_USAGE, "--usb needs a USB port like 1-1 first, not '%s'; nothing was started.", spec);
    snprintf(u->port, sizeof(u->port), "%s", part);
    while ((part = strtok_r(NULL, ",", &save))) {
        char *end;
        if (!strncmp(part, "weak-cell=", 10)) {
            u->dfuse.weak_cell = (uint32_t)strtoul(part + 10, &end, 0);
            if (*end || !u->dfuse.weak_cell)
                return mf_fail(err, MF_E_USAGE, "--usb weak-cell needs a flash address, not '%s'.", part + 10);
        } else if (!strcmp(part, "leave-answers")) {
            u->dfuse.leave_answers = true;
        } else if (!strcmp(part, "no-dfu")) {
            u->no_dfu = true;
        } else {
            return mf_fail(err, MF_E_USAGE, "--usb: unknown setting '%s' (weak-cell=ADDR, leave-answers, no-dfu); "
                           "nothing was started.", part);
        }
    }
    return 0;
}

/* The firmware's own USB device: Klipper's ids with pid, its device
 * class bytes, the configuration, and the strings Klipper gives it
 * (manufacturer, the MCU as product, the chip id as serial number). */
static void make_app_device(struct sim_usb *u, const struct sim *s, uint16_t pid, const uint8_t class[3],
                            const uint8_t *config, size_t config_len, const char *manufacturer)
{
    uint8_t device[18] = { 18, 1, 0x00, 0x02, class[0], class[1], class[2], 64, KLIPPER_VID & 0xff, KLIPPER_VID >> 8,
                           (uint8_t)pid, (uint8_t)(pid >> 8), 0x00, 0x01, 1, 2, 3, 1 };
    memset(&u->cdc, 0, sizeof(u->cdc));
    memcpy(u->cdc.descriptors, device, sizeof(device));
    memcpy(u->cdc.descriptors + sizeof(device), config, config_len);
    u->cdc.descriptors_len = sizeof(device) + config_len;
    u->cdc.vid = KLIPPER_VID, u->cdc.pid = pid;
    snprintf(u->product, sizeof(u->product), "%s", s->mcu.type ? s->mcu.type->name : "stm32");
    u->cdc.strings[1] = manufacturer;
    u->cdc.strings[2] = u->product;
    u->cdc.strings[3] = u->cdc.serial = u->serial;
}

/* The board running Klipper or Katapult: a CDC ACM device (communication
 * and data interfaces, no endpoints needed for enumeration). */
static void make_cdc(struct sim_usb *u, const struct sim *s)
{
    static const uint8_t config[] = {
        9, 2, 27, 0, 2, 1, 0, 0xc0, 50,
        9, 4, 0, 0, 0, 0x02, 0x02, 0x00, 0,
        9, 4, 1, 0, 0, 0x0a, 0x00, 0x00, 0,
    };
    static const uint8_t class[3] = { 0xef, 0x02, 0x01 };
    bool katapult = s->mode == MODE_KATAPULT;
    make_app_device(u, s, katapult ? KATAPULT_PID : KLIPPER_PID, class, config, sizeof(config),
                    katapult ? "katapult" : "Klipper");
}

/* A USB to CAN bridge running Klipper (usb_canbus.c): one vendor
 * interface with two bulk endpoints, no tty; the host's CAN interface is
 * the board's router (usbcan.h), not this model. */
static void make_bridge(struct sim_usb *u, const struct sim *s)
{
    static const uint8_t config[] = {
        9, 2, 32, 0, 1, 1, 0, 0xc0, 50,
        9, 4, 0, 0, 2, 0xff, 0xff, 0xff, 0,
        7, 5, 0x04, 0x02, 64, 0, 0,
        7, 5, 0x84, 0x02, 64, 0, 0,
    };
    static const uint8_t class[3] = { 0, 0, 0 };
    make_app_device(u, s, GSUSB_PID, class, config, sizeof(config), "Klipper");
}

/* An LPC176x board whose definition names the LPC17xx DFU bootloader. */
static bool has_lpc_dfu(const struct sim *s)
{
    uint16_t vid, pid;
    return s->board && board_dfu_ids(s->board, &vid, &pid) && vid == 0x1d50 && pid == 0x6015 && s->mcu.type &&
           s->mcu.type->family == FAMILY_LPC176X;
}

static bool dfu_left(const struct sim_usb *u)
{
    if (u->pico)
        return picoboot_stats(u->pico)->rebooted;
    return u->dfu ? dfuse_stats(u->dfu)->left : u->lpc ? lpc_dfu_stats(u->lpc)->left : false;
}

static void show(struct sim *s, enum shown what)
{
    struct sim_usb *u = s->usb;
    struct mf_err err = { 0 };
    usb_testbed_unplug(u->tb, u->port);
    dfuse_free(u->dfu);
    lpc_dfu_free(u->lpc);
    picoboot_free(u->pico);
    u->dfu = NULL;
    u->lpc = NULL;
    u->pico = NULL;
    u->shown = SHOWN_NONE;
    int rc = 0;
    if (what == SHOWN_CDC) {
        const char *pts = s->port.pty.slave_name;
        snprintf(u->tty, sizeof(u->tty), "%s", strncmp(pts, "/dev/", 5) ? pts : pts + 5);
        make_cdc(u, s);
        u->cdc_mode = s->mode;
        rc = usb_testbed_plug(u->tb, u->port, &u->cdc, u->tty, &err);
    } else if (what == SHOWN_BRIDGE) {
        make_bridge(u, s);
        rc = usb_testbed_plug(u->tb, u->port, &u->cdc, NULL, &err);
    } else if (what == SHOWN_DFU && has_lpc_dfu(s)) {
        u->lpc = lpc_dfu_new(s->flash.mem, s->flash.mem_size, s->timing.realistic);
        rc = u->lpc ? usb_testbed_plug(u->tb, u->port, lpc_dfu_usb(u->lpc), NULL, &err) : -1;
    } else if (what == SHOWN_DFU && picoboot_mcu(s->mcu.type->name)) {
        struct picoboot_opts po = { s->mcu.type->name, s->timing.realistic, u->dfuse.weak_cell, s->flash.mem,
                                    s->flash.mem_size };
        u->pico = picoboot_new(&po);
        rc = u->pico ? usb_testbed_plug(u->tb, u->port, picoboot_usb(u->pico), NULL, &err) : -1;
    } else if (what == SHOWN_DFU) {
        u->dfuse.mcu = s->mcu.type->name;
        u->dfuse.realistic = s->timing.realistic;
        u->dfuse.flash = s->flash.mem;
        u->dfuse.flash_size = s->flash.mem_size;
        u->dfu = dfuse_new(&u->dfuse);
        rc = u->dfu ? usb_testbed_plug(u->tb, u->port, dfuse_usb(u->dfu), NULL, &err) : -1;
    }
    if (rc < 0)
        fprintf(stderr, "mcuflash-sim: the USB device could not be shown: %s\n", err.msg);
    else
        u->shown = what;
}

/* What the bus should show for the board as it is now. */
static enum shown wanted(const struct sim *s)
{
    if (s->state == BOARD_RUNNING && s->mode == MODE_DFU)
        return SHOWN_DFU;
    if (s->port.kind == SIM_LINK_USBCAN && port_is_up(&s->port) && s->mode == MODE_KLIPPER)
        return SHOWN_BRIDGE;
    if (sim_on_usb(s) && port_is_up(&s->port) && (s->mode == MODE_KLIPPER || s->mode == MODE_KATAPULT))
        return SHOWN_CDC;
    return SHOWN_NONE;
}

void sim_usb_step(struct sim *s)
{
    struct sim_usb *u = s->usb;
    if (!u)
        return;
    usb_testbed_iterate(u->tb, 0);
    if (u->shown == SHOWN_DFU && dfu_left(u)) {
        /* The ROM jumped: the device is gone once its last answer is out. */
        if (usb_testbed_model(u->tb, u->port))
            return;
        show(s, SHOWN_NONE);
        sim_rom_dfu_leave(s);
        return;
    }
    enum shown want = wanted(s);
    const char *pts = s->port.pty.slave_name;
    bool tty_moved = want == SHOWN_CDC && (strcmp(u->tty, strncmp(pts, "/dev/", 5) ? pts : pts + 5) ||
                                           u->cdc_mode != s->mode);
    if (want != u->shown || tty_moved)
        show(s, want);
}

int sim_usb_poll_ms(const struct sim *s)
{
    const struct sim_usb *u = s->usb;
    if (!u)
        return -1;
    return u->shown == SHOWN_DFU ? DFU_POLL_MS : CDC_POLL_MS;
}

bool sim_usb_rom_dfu(const struct sim *s)
{
    const struct sim_usb *u = s->usb;
    if (!u || u->no_dfu || !s->mcu.type)
        return false;
    if (has_lpc_dfu(s) || picoboot_mcu(s->mcu.type->name))
        return true;
    struct dfuse_opts probe = { .mcu = s->mcu.type->name };
    struct dfuse_dev *d = dfuse_new(&probe);
    dfuse_free(d);
    return d != NULL;
}

const char *sim_usb_root(const struct sim *s)
{
    return s->usb ? usb_testbed_root(s->usb->tb) : NULL;
}

/* Klipper's USB serial number is the chip's unique id in hex: 12 bytes on an
 * STM32, 16 on an LPC176x, 8 on an RP2040 or RP2350 (src/<arch>/chipid.c).
 * A fixed id of that length, told apart by the flash size. */
static void default_serial(const struct sim *s, char out[40])
{
    enum mcu_family f = s->mcu.type ? s->mcu.type->family : FAMILY_STM32F4;
    size_t bytes = f == FAMILY_LPC176X ? 16 : f == FAMILY_RP2040 ? 8 : 12;
    uint32_t seed = 0x3574364cu ^ (uint32_t)s->flash.mem_size;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02X", (unsigned)((seed >> (8 * (i % 4))) ^ (i * 0x1d)) & 0xff);
}

int sim_usb_start(struct sim *s, struct mf_err *err)
{
    if (!s->opt.usb)
        return 0;
    if (!sim_on_usb(s))
        return mf_fail(err, MF_E_USAGE, "--usb needs --link usb or usb-can; nothing was started.");
    struct sim_usb *u = calloc(1, sizeof(*u));
    if (!u)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    s->usb = u;
    if (parse_spec(u, s->opt.usb, err) < 0)
        return -1;
    if (!usb_testbed_available())
        return mf_fail(err, MF_E_FAIL, "This mcuflash-sim was built without umockdev, so --usb cannot emulate a USB "
                       "bus; install libumockdev-dev and rebuild; nothing was started.");
    if (s->opt.chip_id)
        snprintf(u->serial, sizeof(u->serial), "%s", s->opt.chip_id);
    else
        default_serial(s, u->serial);
    u->tb = usb_testbed_new(err);
    return u->tb ? 0 : -1;
}

void sim_usb_stop(struct sim *s)
{
    struct sim_usb *u = s->usb;
    if (!u)
        return;
    usb_testbed_free(u->tb);
    dfuse_free(u->dfu);
    lpc_dfu_free(u->lpc);
    picoboot_free(u->pico);
    free(u);
    s->usb = NULL;
}
