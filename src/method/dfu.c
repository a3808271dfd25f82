/* The DFU route: the STM32 ROM bootloader (DfuSe, 0483:df11) or a plain
 * DFU 1.1 bootloader (the LPC176x one, 1d50:6015), reached from running
 * Klipper by the 1200-baud touch and found again on the same USB port, or
 * already waiting there (target usb:PORT or usb:VID:PID).
 * DfuSe: only the pages the image touches are erased; everything written is
 * read back and compared before the ROM is asked to start it.  A board whose
 * read-back differs stays in its bootloader, where it can be flashed again.
 * The ROM leaves DFU by dropping off the bus: that is success, proven by
 * the new Klipper answering with the image's own dictionary.
 * Plain DFU: the image goes down block by block, manifestation resets the
 * board; the bootloader cannot read back, so the new Klipper's dictionary
 * is the only proof, and it is required. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "link/bootentry.h"
#include "link/usbport.h"
#include "method/route.h"
#include "usb/dfuse.h"
#include "util/clock.h"

#define KLIPPER_VID 0x1d50
#define KLIPPER_PID 0x614e
#define KATAPULT_PID 0x6177
#define HID_BOOTLOADER_VID 0x1209
#define HID_BOOTLOADER_PID 0xbeba
#define ST_DFU_VID 0x0483
#define ST_DFU_PID 0xdf11
/* An STM32 reset into its ROM and USB enumeration; slow boards and hubs
 * take seconds. */
#define APPEAR_TIMEOUT_MS 15000
#define MAX_CANDIDATES 8
#define UDEV_RULES "/usr/lib/udev/rules.d/60-mcuflash.rules"

/* Boards whose heater or fan outputs float while the chip sits in its ROM
 * bootloader (Klipper's docs/Bootloader_Entry.md, "STM32 DFU Warning"). */
static const char *const outputs_float[] = { "btt-octopus-f429-v1", "btt-octopus-f446-v1" };

struct dfu_route {
    struct mf_flash_opts back_opts; /* usb: targets: the Klipper device that comes back */
    struct usb_port_info before;    /* the running board, before the touch */
    struct usbdev_info dev;
    struct usbdev *usb;
    struct dfu_dev dfu;
    struct dfu_layout layout;
    uint32_t addr;                  /* where the image goes */
    bool plain;                     /* plain DFU 1.1: no layout, no read-back, no leave command */
    bool erased;                    /* dfuse_program got as far as erasing */
    uint64_t entered_us;            /* when the board entered DFU here (0: it was there) */
};

static struct dfu_route *state(struct mf_job *j)
{
    return j->state;
}

static bool usb_target(const struct mf_job *j)
{
    return j->o->target.device && !strncmp(j->o->target.device, "usb:", 4);
}

static void dfu_ids(const struct mf_job *j, struct usbdev_id *id)
{
    id->vid = ST_DFU_VID, id->pid = ST_DFU_PID;
    if (j->o->board)
        board_dfu_ids(j->o->board, &id->vid, &id->pid);
}

static void list_devices(const struct usbdev_info *d, int n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%04x:%04x at port %s", i ? ", " : "", d[i].vid, d[i].pid,
                               d[i].port);
}

/* A device already in DFU: usb:BUS-PORT[.PORT] or usb:VID:PID. */
static int find_waiting(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const char *spec = j->o->target.device + 4;
    struct usbdev_id id;
    dfu_ids(j, &id);
    const char *port = NULL;
    unsigned vid, pid;
    char tail;
    if (sscanf(spec, "%4x:%4x%c", &vid, &pid, &tail) == 2)
        id.vid = (uint16_t)vid, id.pid = (uint16_t)pid;
    else if (strchr(spec, '-'))
        port = spec;
    else if (*spec)
        return mf_fail(err, MF_E_USAGE, "'%s' names no USB device; nothing was done; give usb:BUS-PORT (as in "
                       "/sys/bus/usb/devices, e.g. usb:1-1.3) or usb:VID:PID (e.g. usb:0483:df11).",
                       j->o->target.device);
    struct usbdev_info found[MAX_CANDIDATES];
    int n = usbdev_find(&id, 1, port, found, MAX_CANDIDATES, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return mf_fail(err, MF_E_DEVICE, "No DFU device %04x:%04x is on USB%s%s; nothing was done; put the board in "
                       "its bootloader (hold BOOT0 and press reset) or give its Klipper serial device to enter it "
                       "from the firmware.", id.vid, id.pid, port ? " port " : "", port ? port : "");
    if (n > 1) {
        char list[512];
        list_devices(found, n, list, sizeof(list));
        return mf_fail(err, MF_E_USAGE, "%d DFU devices are on USB (%s); nothing was done; name one by its port, "
                       "e.g. usb:%s.", n, list, found[0].port);
    }
    s->dev = found[0];
    return 0;
}

/* What came back on the port instead of the DFU device, and what it means. */
static int not_dfu(struct mf_job *j, struct dfu_route *s, const struct usb_port_info *after, bool present,
                   struct mf_err *err)
{
    char what[900], cmd[512];
    if (!present)
        snprintf(what, sizeof(what), "nothing came back on USB port %s within %d s", s->before.port,
                 APPEAR_TIMEOUT_MS / 1000);
    else if (after->vid == KLIPPER_VID && after->pid == KLIPPER_PID)
        snprintf(what, sizeof(what), "Klipper came back on USB port %s, so this build cannot reach the ROM "
                 "bootloader from the firmware (some boards cannot at all)", s->before.port);
    else if (after->vid == KLIPPER_VID && after->pid == KATAPULT_PID && mf_command(j->o, "katapult", false, cmd,
                                                                                   sizeof(cmd)))
        snprintf(what, sizeof(what), "Katapult came up on USB port %s instead: flash through it with '%s'",
                 s->before.port, cmd);
    else if (after->vid == KLIPPER_VID && after->pid == KATAPULT_PID)
        snprintf(what, sizeof(what), "Katapult came up on USB port %s instead", s->before.port);
    else if (after->vid == HID_BOOTLOADER_VID && after->pid == HID_BOOTLOADER_PID)
        snprintf(what, sizeof(what), "an HID bootloader (1209:beba) came up on USB port %s instead, which mcuflash "
                 "does not speak", s->before.port);
    else
        snprintf(what, sizeof(what), "%04x:%04x (%s %s) came up on USB port %s instead", after->vid, after->pid,
                 after->manufacturer, after->product, s->before.port);
    const struct board *b = j->o->board;
    char sd[600] = "";
    if (b && (b->spi_bus || b->sdio_bus) && mf_command(j->o, "sdcard", false, cmd, sizeof(cmd)))
        snprintf(sd, sizeof(sd), " Its SD card works without touching the board: '%s'.", cmd);
    return mf_fail(err, MF_E_DEVICE, "The board did not appear as a DFU device after the bootloader request: %s; "
                   "nothing was written.%s", what, sd);
}

/* Running Klipper: look at it, warn, touch, and find the ROM on its port. */
static int enter_from_klipper(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    usbport_identify("/", o->target.device, &s->before);
    if (!s->before.usb)
        return mf_fail(err, MF_E_USAGE, "%s is not a USB device, and the DFU route needs the board's own USB port; "
                       "nothing was done.", o->target.device);
    struct mf_conn conn;
    if (mf_target_connect(&o->target, &conn, err) < 0)
        return -1;
    const struct kl_dict *d = kl_session_dict(conn.session);
    const char *mcu = kl_dict_const(d, "MCU");
    snprintf(j->r->running_before, sizeof(j->r->running_before), "%s", d->version ? d->version : "unknown");
    snprintf(j->mcu, sizeof(j->mcu), "%s", mcu ? mcu : "");
    mf_disconnect(&conn);
    mf_job_note(j, "connected", "Connected over USB port %s: %s running %s.", s->before.port, j->mcu,
                j->r->running_before);
    for (size_t i = 0; o->board && i < sizeof(outputs_float) / sizeof(outputs_float[0]); i++)
        if (!strcasecmp(o->board->name, outputs_float[i]))
            mf_job_note(j, "warning", "Warning: on board %s heaters and fans may switch on while the chip is in its "
                        "ROM bootloader; mcuflash keeps that time short, but disconnect the heaters if you can.",
                        o->board->name);
    mf_job_note(j, "enter", "Asking the firmware to start its USB bootloader (1200-baud touch).");
    if (bootentry_usb_touch(o->target.device, err) < 0)
        return -1;
    s->entered_us = mf_now_us();
    struct usbdev_id id;
    dfu_ids(j, &id);
    struct usb_port_info after;
    struct mf_err wait_err;
    uint64_t until = s->entered_us + APPEAR_TIMEOUT_MS * 1000ull;
    bool present = false;
    /* The port goes away, then the ROM appears on it; anything else that
     * appears is given the rest of the time to turn into it. */
    if (usbport_wait_return("/", &s->before, true, APPEAR_TIMEOUT_MS, &after, &wait_err) == 0) {
        present = true;
        while (!(after.vid == id.vid && after.pid == id.pid) && mf_now_us() < until) {
            mf_sleep_us(100000);
            present = usbport_read("/", s->before.port, &after) == 1;
        }
    }
    if (!present || after.vid != id.vid || after.pid != id.pid)
        return not_dfu(j, s, &after, present, err);
    struct usbdev_info found[1];
    int n = usbdev_find(&id, 1, s->before.port, found, 1, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return mf_fail(err, MF_E_DEVICE, "The DFU device on USB port %s is in sysfs but libusb does not list it; "
                       "nothing was written; unplug and replug the board.", s->before.port);
    s->dev = found[0];
    return 0;
}

static int open_device(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    int denied = 0;
    if (usbdev_open(&s->dev, 0, &s->usb, &denied, err) < 0) {
        if (denied) {
            size_t n = strlen(err->msg);
            snprintf(err->msg + n, sizeof(err->msg) - n, " Nothing was written; install mcuflash's udev rules (%s, "
                     "then 'sudo udevadm control --reload' and replug the board) or run mcuflash as root.",
                     UDEV_RULES);
        }
        return -1;
    }
    char name[256];
    if (usbdev_set_alt(s->usb, 0, err) < 0 || dfu_attach(&s->dfu, s->usb, 0, err) < 0)
        return -1;
    if (s->dfu.version != 0x011a) {
        s->plain = true;
        snprintf(j->r->bootloader, sizeof(j->r->bootloader), "DFU bootloader %04x:%04x at port %s (DFU %x.%02x, "
                 "%u-byte transfers)", s->dev.vid, s->dev.pid, s->dev.port, s->dfu.version >> 8,
                 s->dfu.version & 0xff, s->dfu.transfer_size);
        mf_job_note(j, "bootloader", "In the %s.", j->r->bootloader);
        return 0;
    }
    usbdev_alt_name(s->usb, 0, name, sizeof(name));
    if (dfu_layout_parse(name, &s->layout, err) < 0)
        return -1;
    snprintf(j->r->bootloader, sizeof(j->r->bootloader), "STM32 ROM DfuSe %04x:%04x at port %s (\"%s\", %u-byte "
             "transfers)", s->dev.vid, s->dev.pid, s->dev.port, s->layout.name, s->dfu.transfer_size);
    mf_job_note(j, "bootloader", "In the %s.", j->r->bootloader);
    return 0;
}

/* Where the image goes: the address its vector table was linked for, which
 * the shared image check has held against the board's application address.
 * Memory the ROM's layout does not offer is refused before any erase. */
static int choose_address(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct mf_firmware *fw = &j->fw;
    const struct board *b = j->o->board;
    if (fw->link.status == FW_LINK_KNOWN || fw->link.status == FW_LINK_INFERRED)
        s->addr = fw->link.address;
    else if (fw->link.status == FW_LINK_AMBIGUOUS && b && b->napp_addresses)
        s->addr = b->app_addresses[0];
    else
        return mf_fail(err, MF_E_INPUT, "%s has no vector table that says where it goes, and DFU writes to an "
                       "address; nothing was written; give a Klipper build (klipper.bin or klipper.elf).",
                       j->o->firmware_path);
    /* A plain DFU bootloader writes where it starts the application: the
     * shared image check has held the image against that address. */
    if (s->plain) {
        if (!b || !b->napp_addresses) {
            mf_fail(err, MF_E_USAGE, "A plain DFU bootloader writes at its own application address, which only the "
                    "board definition knows; nothing was written.");
            return mf_fact(err, MF_FACT_BOARD_NEEDED);
        }
        return 0;
    }
    if (dfu_layout_check_write(&s->layout, s->addr, (uint32_t)fw->card.size, err) < 0)
        return mf_wrap(err, "%s (%zu bytes at 0x%08X) does not fit the device's memory: ", j->o->firmware_path,
                       fw->card.size, (unsigned)s->addr);
    return 0;
}

static int dfu_open(struct mf_job *j, struct mf_err *err)
{
    struct dfu_route *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    j->state = s;
    if (j->o->board) {
        struct usbdev_id id;
        if (!board_dfu_ids(j->o->board, &id.vid, &id.pid)) {
            const struct board *b = j->o->board;
            struct mf_flash_opts serial = *j->o;
            char cmd[512];
            if (usb_target(j))
                serial.target.device = "SERIAL-DEVICE";
            if ((b->spi_bus || b->sdio_bus) && mf_command(&serial, "sdcard", false, cmd, sizeof(cmd)))
                return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; its SD card "
                               "works without touching the board: '%s'.", b->name, cmd);
            if (mf_command(&serial, "katapult", false, cmd, sizeof(cmd)))
                return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; install "
                               "Katapult and flash it with '%s'.", b->name, cmd);
            return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; install Katapult "
                           "and flash it through Katapult.", b->name);
        }
    }
    if (usb_target(j) ? find_waiting(j, s, err) : enter_from_klipper(j, s, err))
        return -1;
    if (open_device(j, s, err) < 0 || choose_address(j, s, err) < 0)
        return -1;
    return 0;
}

static void on_progress(const char *phase, size_t done, size_t total, void *ctx)
{
    struct mf_job *j = ctx;
    struct dfu_route *s = state(j);
    s->erased = true;
    mf_progress_update(j->o->progress, !strcmp(phase, "write") ? "upload" : phase, done, total);
}

static void plain_progress(size_t done, size_t total, void *ctx)
{
    struct mf_job *j = ctx;
    mf_progress_update(j->o->progress, "upload", done, total);
}

/* Plain DFU: the whole image, then manifestation, which resets the board. */
static int plain_write(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct fw_image *im = &j->fw.card;
    mf_job_note(j, "upload", "Writing %zu bytes in %u-byte blocks; this bootloader cannot read back, so the "
                "firmware that starts proves the write.", im->size, s->dfu.transfer_size);
    uint64_t t0 = mf_now_us();
    s->erased = true; /* the bootloader erases as the blocks arrive */
    if (dfu_make_idle(&s->dfu, err) < 0 ||
        dfu_download_image(&s->dfu, im->data, im->size, plain_progress, j, err) < 0) {
        struct mf_err why = *err;
        return mf_fail(err, why.code, "%.400s The board stays in its DFU bootloader with an incomplete image; run "
                       "'%s' again (target usb:%s).", why.msg, j->again_cmd, s->dev.port);
    }
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes; the bootloader is starting them (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

static int dfu_write(struct mf_job *j, struct mf_err *err)
{
    struct dfu_route *s = state(j);
    const struct fw_image *im = &j->fw.card;
    if (s->plain)
        return plain_write(j, s, err);
    mf_job_note(j, "upload", "Erasing and writing %zu bytes at 0x%08X in %u-byte blocks.", im->size,
                (unsigned)s->addr, s->dfu.transfer_size);
    uint64_t t0 = mf_now_us();
    if (dfuse_program(&s->dfu, &s->layout, s->addr, im->data, im->size, on_progress, j, err) < 0) {
        if (!s->erased)
            return -1;
        struct mf_err why = *err;
        return mf_fail(err, why.code, "%.400s The board stays in its DFU bootloader with an incomplete image; "
                       "run '%s' again (target usb:%s), or power-cycle it into the old bootloader path.", why.msg,
                       j->again_cmd, s->dev.port);
    }
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes and read them back: identical (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

/* After the leave: the Klipper device that comes up on the port. */
static void follow_to_klipper(struct mf_job *j, struct dfu_route *s)
{
    if (!usb_target(j))
        return;
    s->back_opts = *j->o;
    s->back_opts.target.device = strdup(j->o->target.device);
    struct usb_port_info now;
    uint64_t until = mf_now_us() + (uint64_t)j->o->reconnect_timeout_s * 1000000ull;
    while (mf_now_us() < until) {
        if (usbport_read("/", s->dev.port, &now) == 1 && now.tty[0]) {
            free((char *)s->back_opts.target.device);
            s->back_opts.target.device = strdup(now.tty);
            break;
        }
        mf_sleep_us(100000);
    }
    j->o = &s->back_opts;
}

/* Where the firmware the board had starts: the board's application
 * address, else the start of the ROM's flash (the image refused may have
 * been built for another address). */
static uint32_t old_firmware_address(const struct mf_job *j, const struct dfu_route *s)
{
    const struct board *b = j->o->board;
    if (b && b->napp_addresses)
        return b->app_addresses[0];
    return s->layout.count ? s->layout.seg[0].start : s->addr;
}

static int dfu_leave(struct mf_job *j, bool written, struct mf_err *err)
{
    struct dfu_route *s = state(j);
    if (!s || !s->usb)
        return 0;
    int rc = 0;
    /* Start the new image only when all of it was read back identical; an
     * untouched board goes back to the firmware it had.  A plain DFU
     * bootloader started it itself at the end of the download. */
    if (!s->plain && (written || !s->erased)) {
        mf_job_note(j, "start", written ? "Starting the new firmware." : "Nothing was written; starting the "
                    "firmware the board had again.");
        rc = dfuse_leave(&s->dfu, written ? s->addr : old_firmware_address(j, s),
                         written ? err : &(struct mf_err){ 0 });
    }
    usbdev_close(s->usb);
    s->usb = NULL;
    if (s->entered_us)
        mf_job_note(j, "dfu_time", "The board spent %.1f s in its bootloader.",
                    (double)(mf_now_us() - s->entered_us) / 1e6);
    if (written && rc == 0)
        follow_to_klipper(j, s);
    return written ? rc : 0;
}

static int dfu_judge(struct mf_job *j, int running, struct mf_err *err)
{
    struct mf_flash_result *r = j->r;
    if (running < 0) {
        char why[sizeof(err->msg)];
        memcpy(why, err->msg, sizeof(why));
        bool plain = state(j) && state(j)->plain;
        return mf_fail(err, MF_E_DEVICE, "The %s, but the board did not come back as Klipper (%.300s) Check the "
                       "build's 'make menuconfig' (bootloader offset, communication interface), then run '%s'.",
                       plain ? "DFU bootloader took the firmware and started it"
                             : "ROM bootloader wrote the firmware, read it back identical and started it",
                       why, j->check_cmd);
    }
    if (running == 1)
        return mf_judge_flashed(j);
    r->verdict = MF_OLD_RUNNING;
    snprintf(r->advice, sizeof(r->advice), "The board runs %s, not the new build, although the bootloader took the "
             "image for 0x%08X; check that the board starts its application there, and run '%s'.",
             r->running_after, state(j) ? (unsigned)state(j)->addr : 0u, j->check_cmd);
    return mf_fail(err, MF_E_NOT_FLASHED, "%s", r->advice);
}

static void dfu_stopped_writing(const struct mf_job *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "nothing was started: the board waits in its DFU bootloader with a partly written image; "
             "run '%s' to flash it", j->again_cmd);
}

static void dfu_release(struct mf_job *j)
{
    struct dfu_route *s = state(j);
    if (!s)
        return;
    usbdev_close(s->usb);
    if (s->back_opts.target.device)
        free((char *)s->back_opts.target.device);
    free(s);
    j->state = NULL;
}

const struct mf_route mf_route_dfu = {
    .name = "dfu",
    .open = dfu_open,
    .write = dfu_write,
    .leave = dfu_leave,
    .judge = dfu_judge,
    .stopped_writing = dfu_stopped_writing,
    .release = dfu_release,
};
