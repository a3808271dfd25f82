/* The Katapult route: the running Klipper firmware is asked to jump to the
 * Katapult bootloader (1200-baud touch on USB, Klipper's request string on
 * a UART, the admin frame on CAN); the image is checked against what
 * Katapult reports, written block by block, read back whole and compared,
 * and only then started with COMPLETE.  After any failure COMPLETE is never
 * sent: the board stays in Katapult, where it is safe, and the whole write
 * is tried once more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "katapult/client.h"
#include "link/bootentry.h"
#include "link/canbus.h"
#include "link/usbport.h"
#include "method/identify.h"
#include "method/reconnect.h"
#include "method/route.h"
#include "method/usbids.h"
#include "util/clock.h"
#include "util/interrupt.h"

/* How the board is reached, which decides how Katapult is entered. */
enum kp_via { VIA_USB, VIA_UART, VIA_CAN };

/* Katapult's own tool gives its CAN node this id; any free one works. */
#define KATAPULT_NODEID 129
/* USB re-enumeration and Katapult's start, with room for slow hubs. */
#define APPEAR_TIMEOUT_MS 10000
/* A USB device drops off the bus within this time of a reset. */
#define GONE_WINDOW_MS 1500

struct kp_state {
    enum kp_via via;
    struct usb_port_info port; /* serial: what the device was before the entry */
    char path[256];         /* serial: where Katapult is (USB may re-enumerate elsewhere) */
    struct link *link;
    struct canbus *bus;
    uint8_t uuid[CANBUS_UUID_LEN];
    struct transport *tr;
    struct kp_client *client;
    struct kp_info info;
    bool via_known;         /* USB or UART is known (CAN always is) */
    bool bridge;            /* the CAN node is a USB to CAN bridge: Katapult comes up on its USB port */
    bool assigned_maybe;    /* the CAN node did not answer the query: it may hold a node id */
    bool entered_here;      /* we asked the running firmware to jump: its image is intact */
    bool wrote_any;         /* a SEND_BLOCK went out */
    bool verified;          /* every block written and read back identical: only then COMPLETE */
};

static const char *via_name(enum kp_via v)
{
    return v == VIA_CAN ? "CAN" : v == VIA_UART ? "UART" : "USB";
}

static bool is_katapult_usb(const struct usb_port_info *info, void *ctx)
{
    (void)ctx;
    return info->vid == USB_VID_KLIPPER && info->pid == USB_PID_KATAPULT && info->tty[0];
}

/* The CAN interface is missing: a USB to CAN bridge waiting in Katapult
 * takes its interface with it, and is flashed over its serial port. */
static int bridge_in_katapult_hint(struct mf_err *err)
{
    struct usb_port_info k;
    if (usbport_find("/", is_katapult_usb, NULL, &k) == 1) {
        size_t n = strlen(err->msg);
        snprintf(err->msg + n, sizeof(err->msg) - n, " A board waits in Katapult on %s (USB port %s): if it is the "
                 "USB to CAN bus bridge, flash it there ('mcuflash flash %s') and the interface comes back.", k.tty,
                 k.port, k.tty);
    }
    return -1;
}

/* ---- checks before anything is written ---- */

/* A build that talks over another interface than the one the board is
 * reached by would leave the board unreachable after flashing. */
static int check_interface(struct mf_job *j, enum kp_via via, bool bridge, uint32_t bus_bitrate, struct mf_err *err)
{
    const char *built = kl_dict_interface(j->fw.dict.dict);
    const char *path = j->o->firmware_path;
    if (!built)
        return 0; /* an older build: nothing to compare */
    if (bridge && strcmp(built, "usb-can-bridge"))
        return mf_fail(err, MF_E_MISMATCH, "%s is built to talk over %s, but this board is the USB to CAN bus bridge "
                       "that the printer's CAN nodes are reached through; nothing was written; in 'make menuconfig' "
                       "set 'Communication interface' to 'USB to CAN bus bridge', rebuild and try again.", path,
                       kl_interface_words(built));
    bool fits = via == VIA_CAN ? !strcmp(built, "can")
              : via == VIA_UART ? !strcmp(built, "uart")
                                : !strcmp(built, "usb") || !strcmp(built, "usb-can-bridge");
    if (!fits)
        return mf_fail(err, MF_E_MISMATCH, "%s is built to talk over %s, but this board is reached over %s; nothing "
                       "was written; in 'make menuconfig' set 'Communication interface' to the board's %s interface, "
                       "rebuild and try again.", path, kl_interface_words(built), via_name(via), via_name(via));
    int64_t freq = 0;
    if ((via == VIA_CAN || bridge) && bus_bitrate && kl_dict_const_int(j->fw.dict.dict, "CANBUS_FREQUENCY", &freq) &&
        freq != (int64_t)bus_bitrate)
        return mf_fail(err, MF_E_MISMATCH, "%s is built for a CAN bus at %lld bit/s, but %s runs at %u bit/s; "
                       "nothing was written; set 'CAN bus speed' in 'make menuconfig' to %u, rebuild and try again.",
                       path, (long long)freq, j->o->target.can_iface, (unsigned)bus_bitrate, (unsigned)bus_bitrate);
    return 0;
}

/* Katapult has told us its MCU and where it starts the application: the
 * image must be built for both (the shared image check, now with the
 * address Katapult gave), and Katapult must sit on the board named. */
static int check_against_katapult(struct mf_job *j, const struct kp_info *in, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    if (o->board && strcasecmp(in->mcu, o->board->mcu))
        return mf_fail(err, MF_E_MISMATCH, "Katapult on this board reports a %s, but board definition %s is for a "
                       "%s; nothing was written; check the board name ('mcuflash boards %s*').", in->mcu,
                       o->board->name, o->board->mcu, in->mcu);
    struct mf_fw_target t = {
        .board = o->board,
        .mcu = in->mcu,
        .have_app_address = true,
        .app_address = in->start_address,
    };
    mf_firmware_free(&j->fw);
    if (mf_firmware_check(o->firmware_path, o->dict_path, &t, &j->fw, err) < 0)
        return -1;
    if (j->fw.mcu && strcasecmp(j->fw.mcu, in->mcu))
        return mf_fail(err, MF_E_MISMATCH, "%s was built for a %s, but Katapult on this board reports a %s; nothing "
                       "was written; choose the board's MCU in 'make menuconfig', rebuild and try again.",
                       o->firmware_path, j->fw.mcu, in->mcu);
    if (j->fw.note[0])
        mf_job_note(j, "note", "Note: %s", j->fw.note);
    return 0;
}

static void close_client(struct kp_state *s)
{
    kp_client_free(s->client);
    s->client = NULL;
    transport_close(s->tr);
    s->tr = NULL;
    link_close(s->link);
    s->link = NULL;
}

static void release_all(struct kp_state *s)
{
    close_client(s);
    canbus_close(s->bus);
    s->bus = NULL;
}

/* A Katapult client on the serial device at path. */
static int open_serial_client(struct mf_job *j, struct kp_state *s, const char *path, struct mf_err *err)
{
    close_client(s);
    snprintf(s->path, sizeof(s->path), "%s", path);
    if (link_open(path, j->o->target.baud, &s->link, err) < 0 || transport_over_link(s->link, &s->tr, err) < 0 ||
        kp_client_new(s->tr, &s->client, err) < 0) {
        close_client(s);
        return -1;
    }
    return 0;
}

/* A Katapult client on the CAN node (Katapult's node id given first). */
static int open_can_client(struct kp_state *s, struct mf_err *err)
{
    close_client(s);
    if (canbus_set_nodeid(s->bus, CANBUS_APP_KATAPULT, s->uuid, KATAPULT_NODEID, err) < 0 ||
        canbus_node_open(s->bus, KATAPULT_NODEID, &s->tr, err) < 0 || kp_client_new(s->tr, &s->client, err) < 0) {
        close_client(s);
        return -1;
    }
    return 0;
}

/* CONNECT with few, short tries: is Katapult answering right now? */
static bool katapult_answers(struct kp_state *s, struct mf_err *err)
{
    struct kp_limits *l = kp_client_limits(s->client), saved = *l;
    l->tries = 2;
    l->reply_ms = 300;
    int rc = kp_connect(s->client, &s->info, err);
    *l = saved;
    return rc == 0;
}

/* What the board runs before anything happens, for the summary and the
 * checks: Klipper (its dictionary) or Katapult already. */
static int look_at_board(struct mf_job *j, struct kp_state *s, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    if (s->via == VIA_CAN) {
        enum canbus_app app;
        if (canbus_find_node(s->bus, s->uuid, 1000, &app, err) < 0) {
            /* A node that still has the node id a Klipper host gave it does
             * not answer the query, but takes the bootloader request by its
             * UUID; whether the UUID is on the bus at all shows after it. */
            s->assigned_maybe = true;
            snprintf(j->r->running_before, sizeof(j->r->running_before), "unknown");
            return 0;
        }
        if (app == CANBUS_APP_KATAPULT)
            return open_can_client(s, err) < 0 ? -1 : kp_connect(s->client, &s->info, err) < 0 ? -1 : 1;
    } else {
        /* A USB device with Klipper's or Katapult's ids is a USB board; a
         * USB serial adapter or a built-in port is a UART. */
        usbport_identify("/", o->target.device, &s->port);
        s->via_known = s->port.usb;
        s->via = s->port.usb && s->port.vid == USB_VID_KLIPPER &&
                         (s->port.pid == USB_PID_KLIPPER || s->port.pid == USB_PID_KATAPULT) ? VIA_USB
                 : s->port.usb ? VIA_UART : VIA_USB;
        if (open_serial_client(j, s, o->target.device, err) < 0)
            return -1;
        struct mf_err probe;
        if (katapult_answers(s, &probe))
            return 1;
        close_client(s);
    }
    struct mf_conn conn;
    if (mf_target_connect(&o->target, &conn, err) < 0)
        return -1;
    const struct kl_dict *d = kl_session_dict(conn.session);
    mf_job_running(j, d);
    if (s->via != VIA_CAN && !s->via_known)
        s->via = kl_dict_const(d, "SERIAL_BAUD") ? VIA_UART : VIA_USB;
    s->via_known = true;
    mf_disconnect(&conn);
    return 0;
}

/* Ask the running Klipper to jump to its bootloader. */
static int request_bootloader(struct mf_job *j, struct kp_state *s, struct mf_err *err)
{
    s->entered_here = true;
    switch (s->via) {
    case VIA_USB:
        usbport_identify("/", j->o->target.device, &s->port);
        return bootentry_usb_touch(j->o->target.device, err);
    case VIA_UART: {
        struct link *l;
        struct transport *t = NULL;
        usbport_identify("/", j->o->target.device, &s->port);
        if (link_open(j->o->target.device, j->o->target.baud, &l, err) < 0)
            return -1;
        int rc = transport_over_link(l, &t, err);
        if (rc == 0)
            rc = bootentry_serial_request(t, err);
        transport_close(t);
        link_close(l);
        return rc;
    }
    case VIA_CAN:
        if (canbus_request_bootloader(s->bus, s->uuid, err) < 0)
            return -1;
        if (s->bridge) {
            /* The bus goes with the bridge; Katapult comes up on its USB port. */
            canbus_close(s->bus);
            s->bus = NULL;
            s->via = VIA_USB;
        }
        return 0;
    }
    return -1;
}

/* After a bootloader request: the advice when Katapult did not appear,
 * from what the port shows instead. */
static int not_katapult(struct mf_job *j, const char *what_appeared, struct mf_err *err)
{
    const struct board *b = j->o->board;
    char sd_hint[600] = "", cmd[512];
    if (b && (b->spi_bus || b->sdio_bus) && j->o->target.device && mf_command(j->o, "sdcard", false, cmd, sizeof(cmd)))
        snprintf(sd_hint, sizeof(sd_hint), " This board can be flashed through its SD card instead: '%s'.", cmd);
    else if (!b && j->o->target.device)
        snprintf(sd_hint, sizeof(sd_hint), " If the board has an SD card slot, its board definition lets mcuflash "
                 "flash it through the card.");
    mf_fail(err, MF_E_DEVICE, "Katapult did not answer after the bootloader request: %s; nothing was written.%s",
            what_appeared, sd_hint);
    return mf_fact(err, b ? MF_FACT_NONE : MF_FACT_BOARD_NEEDED);
}

/* Wait for Katapult where the board was, and CONNECT. */
static int wait_for_katapult(struct mf_job *j, struct kp_state *s, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    if (s->via == VIA_CAN) {
        enum canbus_app app = CANBUS_APP_UNKNOWN;
        uint64_t deadline = mf_now_us() + APPEAR_TIMEOUT_MS * 1000ull;
        mf_sleep_us(200000);
        /* Katapult nodes come up unassigned; one that kept an old node id
         * from an earlier run is made to forget it. */
        if (canbus_katapult_clear_nodeids(s->bus, err) < 0)
            return -1;
        while (mf_now_us() < deadline) {
            struct mf_err e2;
            if (mf_interrupt_check(err) < 0)
                return -1;
            if (canbus_find_node(s->bus, s->uuid, 500, &app, &e2) == 0 && app == CANBUS_APP_KATAPULT)
                break;
        }
        if (app == CANBUS_APP_KLIPPER)
            return not_katapult(j, "the node came back running Klipper, so Katapult is not installed on it (or "
                                "the Klipper build cannot jump to it); install Katapult, or flash it another way",
                                err);
        if (app != CANBUS_APP_KATAPULT && s->assigned_maybe)
            return mf_fail(err, MF_E_DEVICE, "CAN node %s did not answer on %s, before or after the bootloader "
                           "request; nothing was written; check the UUID ('mcuflash can scan'), that the node is "
                           "powered and wired, that the bus speeds agree, and that Klipper is stopped (sudo "
                           "systemctl stop klipper).", o->target.can_uuid, o->target.can_iface);
        if (app != CANBUS_APP_KATAPULT)
            return not_katapult(j, "the node went silent; it may sit in another bootloader off the CAN bus (a "
                                "toolhead without Katapult lands in ROM DFU): power-cycle it, check its wiring",
                                err);
        if (open_can_client(s, err) < 0 || kp_connect(s->client, &s->info, err) < 0)
            return -1;
        uint8_t got[CANBUS_UUID_LEN];
        if (s->info.proto >= 0x00010000 && kp_get_canbus_id(s->client, got, err) == 0 &&
            memcmp(got, s->uuid, sizeof(got))) {
            char hex[13];
            canbus_uuid_format(got, hex);
            return mf_fail(err, MF_E_DEVICE, "The Katapult node that answered reports UUID %s, not %s; nothing "
                           "was written; run 'mcuflash can scan' and check for two nodes with one UUID.", hex,
                           o->target.can_uuid);
        }
        return 0;
    }
    /* A USB board re-enumerates (on the same port); a UART stays. */
    struct usb_port_info after;
    if (usbport_wait_return("/", &s->port, s->via == VIA_USB, APPEAR_TIMEOUT_MS, &after, err) < 0)
        return not_katapult(j, "nothing came back where the board was; check its cable and power, or put it in "
                            "Katapult by double-pressing its reset button", err);
    char found[256];
    snprintf(found, sizeof(found), "%s", after.usb ? after.tty : after.path);
    if (after.usb && !(after.vid == USB_VID_KLIPPER && after.pid == USB_PID_KATAPULT)) {
        char text[400];
        bool klipper = after.vid == USB_VID_KLIPPER && after.pid == USB_PID_KLIPPER;
        snprintf(text, sizeof(text), "%04x:%04x (%s %s) appeared on its USB port instead%s", after.vid, after.pid,
                 after.manufacturer, after.product,
                 klipper ? ", so Katapult is not installed on this board (or the Klipper build cannot jump to it)"
                         : "");
        return not_katapult(j, text, err);
    }
    if (!found[0])
        return not_katapult(j, "a USB device without a serial port appeared on its USB port instead", err);
    if (s->via == VIA_UART)
        mf_sleep_us(300000); /* Klipper reboots; Katapult starts */
    if (open_serial_client(j, s, found, err) < 0)
        return -1;
    if (kp_connect(s->client, &s->info, err) < 0) {
        close_client(s);
        struct mf_conn conn;
        struct mf_err e2;
        struct mf_target back = o->target;
        back.device = found;
        if (mf_target_connect(&back, &conn, &e2) == 0) {
            mf_disconnect(&conn);
            return not_katapult(j, "the board still answers as Klipper, so Katapult is not installed on it (or "
                                "this Klipper build cannot jump to it)", err);
        }
        return not_katapult(j, "the port stays silent", err);
    }
    return 0;
}

static int katapult_open(struct mf_job *j, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    struct kp_state *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    j->state = s;
    s->entered_here = o->bootloader_entered;
    int in_katapult = 0;
    if (o->target.can_uuid) {
        s->via = VIA_CAN;
        s->via_known = true;
        if (canbus_uuid_parse(o->target.can_uuid, s->uuid) < 0)
            return mf_fail(err, MF_E_USAGE, "'%s' is not a CAN UUID (12 hex digits); nothing was done.",
                           o->target.can_uuid);
        enum mf_bridge bridge = mf_can_bridge(s->uuid, &s->port);
        s->bridge = bridge != MF_BRIDGE_NONE;
        if (bridge == MF_BRIDGE_KATAPULT) {
            /* Its interface went with it: Katapult waits on its USB port. */
            mf_job_note(j, "bridge", "CAN node %s is the USB to CAN bus bridge on USB port %s; it waits in Katapult "
                        "on %s, where it is flashed, and %s comes back when it runs Klipper again.",
                        o->target.can_uuid, s->port.port, s->port.tty, o->target.can_iface);
            s->via = VIA_USB;
            if (check_interface(j, VIA_USB, true, 0, err) < 0 || open_serial_client(j, s, s->port.tty, err) < 0)
                return -1;
            if (!katapult_answers(s, err))
                return mf_fail(err, MF_E_DEVICE, "The USB to CAN bus bridge %s shows Katapult's USB ids on %s, but "
                               "Katapult does not answer there; nothing was written; power-cycle the bridge and run "
                               "'%s' again.", o->target.can_uuid, s->port.tty, j->again_cmd);
            in_katapult = 1;
        } else {
            if (canbus_open(o->target.can_iface, &s->bus, err) < 0)
                return bridge_in_katapult_hint(err);
            if (s->bridge)
                mf_job_note(j, "bridge", "CAN node %s is the USB to CAN bus bridge on USB port %s: it is flashed "
                            "over USB, and %s goes away while it is in Katapult.", o->target.can_uuid, s->port.port,
                            o->target.can_iface);
            if (check_interface(j, s->bridge ? VIA_USB : VIA_CAN, s->bridge, canbus_bitrate(s->bus), err) < 0)
                return -1;
        }
    }
    if (!in_katapult)
        in_katapult = look_at_board(j, s, err);
    if (in_katapult < 0)
        return -1;
    if (s->via != VIA_CAN && s->via_known && check_interface(j, s->via, false, 0, err) < 0)
        return -1;
    if (in_katapult) {
        snprintf(j->r->running_before, sizeof(j->r->running_before), "Katapult");
        mf_job_note(j, "connected", "The board is in Katapult already.");
    } else {
        if (s->assigned_maybe)
            mf_job_note(j, "connected", "CAN node %s did not answer as a node without an id (a Klipper host may "
                        "have given it one); asking it by its UUID to start Katapult.", o->target.can_uuid);
        else
            mf_job_note(j, "connected", "Connected over %s: %s running %s.", via_name(s->via), j->mcu,
                        j->r->running_before);
        mf_job_note(j, "enter", "Asking the firmware to start Katapult.");
        if (request_bootloader(j, s, err) < 0 || wait_for_katapult(j, s, err) < 0)
            return -1;
    }
    const struct kp_info *in = &s->info;
    snprintf(j->r->bootloader, sizeof(j->r->bootloader), "Katapult %s%s(protocol %u.%u.%u), application at 0x%08x",
             in->version, in->version[0] ? " " : "", (unsigned)(in->proto >> 16) & 0xff, (unsigned)(in->proto >> 8) & 0xff,
             (unsigned)in->proto & 0xff, (unsigned)in->start_address);
    mf_job_note(j, "bootloader", "In %s on %s, %s.", j->r->bootloader, s->tr->name, in->mcu);
    return check_against_katapult(j, in, err);
}

static void progress(void *ctx, size_t done, size_t total)
{
    struct mf_job *j = ctx;
    mf_progress_update(j->o->progress, "upload", done, total);
}

static void verify_progress(void *ctx, size_t done, size_t total)
{
    struct mf_job *j = ctx;
    mf_progress_update(j->o->progress, "verify", done, total);
}

/* One whole pass: every block, EOF, then every block read back. */
static int write_once(struct mf_job *j, struct kp_state *s, struct mf_err *err)
{
    const struct fw_image *im = &j->fw.card;
    uint32_t pages, bad;
    s->wrote_any = true;
    s->verified = false;
    if (kp_write_image(s->client, im->data, im->size, progress, j, err) < 0 || kp_send_eof(s->client, &pages, err) < 0)
        return -1;
    if (kp_verify_image(s->client, im->data, im->size, verify_progress, j, &bad, err) < 0)
        return -1;
    s->verified = true;
    return 0;
}

static int katapult_write(struct mf_job *j, struct mf_err *err)
{
    struct kp_state *s = j->state;
    const struct fw_image *im = &j->fw.card;
    mf_job_note(j, "upload", "Writing %zu bytes at 0x%08x in %u-byte blocks.", im->size,
                (unsigned)s->info.start_address, (unsigned)s->info.block_size);
    uint64_t t0 = mf_now_us();
    int rc = write_once(j, s, err);
    if (rc < 0 && err->code != MF_E_INTERRUPTED) {
        /* Katapult takes the same blocks again: start over once. */
        mf_job_note(j, "retry", "The write failed (%s); the board stays in Katapult; writing everything once more.",
                    err->msg);
        rc = kp_connect(s->client, &s->info, err) < 0 ? -1 : write_once(j, s, err);
        if (rc < 0) {
            struct mf_err last = *err;
            return mf_fail(err, last.code ? last.code : MF_E_PROTOCOL,
                           "Writing the firmware through Katapult failed twice (%.300s); the board was not started "
                           "and stays safe in Katapult; run '%s' again, or power-cycle it and check the %s link.",
                           last.msg, j->again_cmd, via_name(s->via));
        }
    }
    if (rc < 0)
        return -1; /* stopped on request: nothing is started */
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes and read them back: identical (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

static int katapult_leave(struct mf_job *j, bool written, struct mf_err *err)
{
    struct kp_state *s = j->state;
    if (!s)
        return 0;
    int rc = 0;
    /* COMPLETE only after a full write and read-back; or, when nothing was
     * written, to go back to the firmware that ran a moment ago. */
    written = written && s->verified;
    bool start = s->client && (written || (s->entered_here && !s->wrote_any));
    if (start) {
        if (written)
            mf_job_note(j, "start", "Starting the new firmware.");
        else
            mf_job_note(j, "start", "Nothing was written; starting the firmware the board had again.");
        rc = kp_complete(s->client, written ? err : &(struct mf_err){ 0 });
    }
    bool completed = start && rc == 0;
    release_all(s);
    if (completed && s->via == VIA_USB) {
        struct mf_err gone;
        link_wait_gone(s->path, GONE_WINDOW_MS, &gone);
    }
    if (completed && !written) {
        /* Leave the board as it was found: running, its port back. */
        struct mf_conn conn;
        struct mf_err back;
        if (mf_target_connect_wait(&j->o->target, APPEAR_TIMEOUT_MS, &conn, &back) == 0)
            mf_disconnect(&conn);
    }
    return written ? rc : 0;
}

static int katapult_judge(struct mf_job *j, int running, struct mf_err *err)
{
    struct mf_flash_result *r = j->r;
    if (running < 0) {
        char why[sizeof(err->msg)];
        memcpy(why, err->msg, sizeof(why));
        return mf_fail(err, MF_E_DEVICE, "Katapult wrote the firmware, read it back identical and started it, but "
                       "the board did not come back as Klipper (%.300s) Check the build's 'make menuconfig' "
                       "(bootloader offset, communication interface); double-press reset to get back into "
                       "Katapult, then run '%s'.", why, j->check_cmd);
    }
    if (running == 1)
        return mf_judge_flashed(j);
    r->verdict = MF_OLD_RUNNING;
    snprintf(r->advice, sizeof(r->advice),
             "The board runs %s, not the new build; if the image was written, Katapult did not start it. "
             "Double-press reset to enter Katapult and run '%s' again.", r->running_after, j->check_cmd);
    return mf_fail(err, MF_E_NOT_FLASHED, "%s", r->advice);
}

static void katapult_stopped_writing(const struct mf_job *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "nothing was started: the board waits in Katapult with a partly written image; run '%s' to "
             "flash it", j->again_cmd);
}

static void katapult_release(struct mf_job *j)
{
    struct kp_state *s = j->state;
    if (s)
        release_all(s);
    free(s);
    j->state = NULL;
}

const struct mf_route mf_route_katapult = {
    .name = "katapult",
    .bootloader_gives_address = true,
    .open = katapult_open,
    .write = katapult_write,
    .leave = katapult_leave,
    .judge = katapult_judge,
    .stopped_writing = katapult_stopped_writing,
    .release = katapult_release,
};
