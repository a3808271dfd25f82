/* Reaching a USB bootloader device (method/usbboot.h). */
#include "method/usbboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/bootentry.h"
#include "method/usbids.h"
#include "util/clock.h"

#define HID_BOOTLOADER_VID 0x1209
#define HID_BOOTLOADER_PID 0xbeba
/* A reset into the ROM and USB enumeration; slow boards and hubs take
 * seconds. */
#define APPEAR_TIMEOUT_MS 15000
#define MAX_CANDIDATES 8
#define UDEV_RULES "/usr/lib/udev/rules.d/60-mcuflash.rules"

/* Every USB bootloader a route here speaks: with no target, the one
 * device waiting must be the only one of them all. */
static const struct usbdev_id all_bootloaders[] = {
    { 0x0483, 0xdf11 }, { 0x1d50, 0x6015 }, { 0x2e8a, 0x0003 }, { 0x2e8a, 0x000f },
};

bool usbboot_target(const struct mf_job *j)
{
    return j->o->target.device && !strncmp(j->o->target.device, "usb:", 4);
}

static void list_devices(const struct usbdev_info *d, int n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (int i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%04x:%04x at port %s", i ? ", " : "", d[i].vid, d[i].pid,
                               d[i].port);
}

/* "0483:df11", "2e8a:0003 or 2e8a:000f" */
static void id_text(const struct usbdev_id *ids, size_t n, char *out, size_t cap)
{
    size_t at = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && at < cap; i++)
        at += (size_t)snprintf(out + at, cap - at, "%s%04x:%04x", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                               ids[i].vid, ids[i].pid);
}

int usbboot_find_waiting(struct mf_job *j, const struct usbboot_kind *k, struct usbboot *b, struct mf_err *err)
{
    const char *spec = j->o->target.device + 4;
    const struct usbdev_id *ids = k->ids;
    size_t nids = k->nids;
    struct usbdev_id given;
    const char *port = NULL;
    unsigned vid, pid;
    char tail;
    if (sscanf(spec, "%4x:%4x%c", &vid, &pid, &tail) == 2) {
        given.vid = (uint16_t)vid, given.pid = (uint16_t)pid;
        ids = &given, nids = 1;
    } else if (strchr(spec, '-')) {
        port = spec;
    } else if (*spec) {
        return mf_fail(err, MF_E_USAGE, "'%s' names no USB device; nothing was done; give usb:BUS-PORT (as in "
                       "/sys/bus/usb/devices, e.g. usb:1-1.3) or usb:VID:PID (e.g. usb:%04x:%04x).",
                       j->o->target.device, k->ids[0].vid, k->ids[0].pid);
    }
    struct usbdev_info found[MAX_CANDIDATES];
    int n = 0;
    if (!*spec) {
        n = usbdev_find(all_bootloaders, sizeof(all_bootloaders) / sizeof(all_bootloaders[0]), NULL, found,
                        MAX_CANDIDATES, err);
        if (n > 1) {
            char list[512];
            list_devices(found, n, list, sizeof(list));
            return mf_fail(err, MF_E_USAGE, "%d USB bootloader devices are on USB (%s); nothing was done; name one "
                           "by its port, e.g. usb:%s.", n, list, found[0].port);
        }
    }
    if (n >= 0)
        n = usbdev_find(ids, nids, port, found, MAX_CANDIDATES, err);
    if (n < 0)
        return -1;
    if (n == 0) {
        char which[64];
        id_text(ids, nids, which, sizeof(which));
        return mf_fail(err, MF_E_DEVICE, "No %s %s is on USB%s%s; nothing was done; put the board in its "
                       "bootloader (%s) or give its Klipper serial device to enter it from the firmware.", k->device,
                       which, port ? " port " : "", port ? port : "", k->by_hand);
    }
    if (n > 1) {
        char list[512];
        list_devices(found, n, list, sizeof(list));
        return mf_fail(err, MF_E_USAGE, "%d %ss are on USB (%s); nothing was done; name one by its port, e.g. "
                       "usb:%s.", n, k->device, list, found[0].port);
    }
    b->dev = found[0];
    return 0;
}

int usbboot_connect(struct mf_job *j, struct usbboot *b, const char *route, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    usbport_identify("/", o->target.device, &b->before);
    if (!b->before.usb)
        return mf_fail(err, MF_E_USAGE, "%s is not a USB device, and the %s route needs the board's own USB port; "
                       "nothing was done.", o->target.device, route);
    struct mf_conn conn;
    if (mf_target_connect(&o->target, &conn, err) < 0)
        return -1;
    mf_job_running(j, kl_session_dict(conn.session));
    int rc = mf_job_check_interface(j, kl_session_dict(conn.session), err);
    mf_disconnect(&conn);
    if (rc < 0)
        return -1;
    mf_job_note(j, "connected", "Connected over USB port %s: %s running %s.", b->before.port, j->mcu,
                j->r->running_before);
    return 0;
}

static bool wanted(const struct usbboot_kind *k, const struct usb_port_info *at)
{
    for (size_t i = 0; i < k->nids; i++)
        if (at->vid == k->ids[i].vid && at->pid == k->ids[i].pid)
            return true;
    return false;
}

/* What came back on the port instead of the bootloader, and what it means. */
static int not_appeared(struct mf_job *j, const struct usbboot_kind *k, struct usbboot *b,
                        const struct usb_port_info *after, bool present, struct mf_err *err)
{
    char what[900], cmd[512];
    if (!present)
        snprintf(what, sizeof(what), "nothing came back on USB port %s within %d s", b->before.port,
                 APPEAR_TIMEOUT_MS / 1000);
    else if (after->vid == USB_VID_KLIPPER && after->pid == USB_PID_KLIPPER)
        snprintf(what, sizeof(what), "Klipper came back on USB port %s, so this build cannot reach the ROM "
                 "bootloader from the firmware (some boards cannot at all)", b->before.port);
    else if (after->vid == USB_VID_KLIPPER && after->pid == USB_PID_KATAPULT &&
             mf_command(j->o, "katapult", false, cmd, sizeof(cmd)))
        snprintf(what, sizeof(what), "Katapult came up on USB port %s instead: flash through it with '%s'",
                 b->before.port, cmd);
    else if (after->vid == USB_VID_KLIPPER && after->pid == USB_PID_KATAPULT)
        snprintf(what, sizeof(what), "Katapult came up on USB port %s instead", b->before.port);
    else if (after->vid == HID_BOOTLOADER_VID && after->pid == HID_BOOTLOADER_PID)
        snprintf(what, sizeof(what), "an HID bootloader (1209:beba) came up on USB port %s instead, which mcuflash "
                 "does not speak", b->before.port);
    else
        snprintf(what, sizeof(what), "%04x:%04x (%s %s) came up on USB port %s instead", after->vid, after->pid,
                 after->manufacturer, after->product, b->before.port);
    const struct board *bd = j->o->board;
    char sd[600] = "";
    if (bd && (bd->spi_bus || bd->sdio_bus) && mf_command(j->o, "sdcard", false, cmd, sizeof(cmd)))
        snprintf(sd, sizeof(sd), " Its SD card works without touching the board: '%s'.", cmd);
    return mf_fail(err, MF_E_DEVICE, "The board did not appear as a %s after the bootloader request: %s; "
                   "nothing was written.%s", k->device, what, sd);
}

int usbboot_touch(struct mf_job *j, const struct usbboot_kind *k, struct usbboot *b, struct mf_err *err)
{
    mf_job_note(j, "enter", "Asking the firmware to start its USB bootloader (1200-baud touch).");
    if (bootentry_usb_touch(j->o->target.device, err) < 0)
        return -1;
    b->entered_us = mf_now_us();
    struct usb_port_info after;
    struct mf_err wait_err;
    uint64_t until = b->entered_us + APPEAR_TIMEOUT_MS * 1000ull;
    bool present = false;
    /* The port goes away, then the bootloader appears on it; anything else
     * that appears is given the rest of the time to turn into it. */
    if (usbport_wait_return("/", &b->before, true, APPEAR_TIMEOUT_MS, &after, &wait_err) == 0) {
        present = true;
        while (!wanted(k, &after) && mf_now_us() < until) {
            mf_sleep_us(100000);
            present = usbport_read("/", b->before.port, &after) == 1;
        }
    }
    if (!present || !wanted(k, &after))
        return not_appeared(j, k, b, &after, present, err);
    struct usbdev_info found[1];
    int n = usbdev_find(k->ids, k->nids, b->before.port, found, 1, err);
    if (n < 0)
        return -1;
    if (n == 0)
        return mf_fail(err, MF_E_DEVICE, "The %s on USB port %s is in sysfs but libusb does not list it; "
                       "nothing was written; unplug and replug the board.", k->device, b->before.port);
    b->dev = found[0];
    return 0;
}

void usbboot_access_advice(bool denied, struct mf_err *err)
{
    if (!denied)
        return;
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, " Nothing was written; install mcuflash's udev rules (%s, "
             "then 'sudo udevadm control --reload' and replug the board) or run mcuflash as root.", UDEV_RULES);
}

void usbboot_follow(struct mf_job *j, struct usbboot *b)
{
    if (!usbboot_target(j))
        return;
    b->back_opts = *j->o;
    b->back_opts.target.device = strdup(j->o->target.device);
    struct usb_port_info now;
    /* The new firmware's time runs from here, for the check after too. */
    j->started_us = mf_now_us();
    uint64_t until = j->started_us + (uint64_t)j->o->reconnect_timeout_s * 1000000ull;
    while (mf_now_us() < until) {
        if (usbport_read("/", b->dev.port, &now) == 1 && now.tty[0]) {
            free((char *)b->back_opts.target.device);
            b->back_opts.target.device = strdup(now.tty);
            break;
        }
        mf_sleep_us(100000);
    }
    j->o = &b->back_opts;
}

int usbboot_judge(struct mf_job *j, int running, const char *took, uint32_t addr, struct mf_err *err)
{
    struct mf_flash_result *r = j->r;
    if (running < 0) {
        char why[sizeof(err->msg)];
        memcpy(why, err->msg, sizeof(why));
        return mf_fail(err, MF_E_DEVICE, "The %s, but the board did not come back as Klipper (%.300s) Check the "
                       "build's 'make menuconfig' (bootloader offset, communication interface), then run '%s'.",
                       took, why, j->check_cmd);
    }
    if (running == 1)
        return mf_judge_flashed(j);
    r->verdict = MF_OLD_RUNNING;
    snprintf(r->advice, sizeof(r->advice), "The board runs %s, not the new build, although the bootloader took the "
             "image for 0x%08X; check that the board starts its application there, and run '%s'.",
             r->running_after, (unsigned)addr, j->check_cmd);
    return mf_fail(err, MF_E_NOT_FLASHED, "%s", r->advice);
}

void usbboot_stopped_writing(const struct mf_job *j, const char *where, char *buf, size_t cap)
{
    snprintf(buf, cap, "nothing was started: the board waits in its %s with a partly written image; run '%s' to "
             "flash it", where, j->again_cmd);
}

void usbboot_note_time(struct mf_job *j, const struct usbboot *b)
{
    if (b->entered_us)
        mf_job_note(j, "dfu_time", "The board spent %.1f s in its bootloader.",
                    (double)(mf_now_us() - b->entered_us) / 1e6);
}

void usbboot_release(struct usbboot *b)
{
    if (b->back_opts.target.device)
        free((char *)b->back_opts.target.device);
    b->back_opts.target.device = NULL;
}
