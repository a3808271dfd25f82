#include "method/discover.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/canbus.h"
#include "link/usbport.h"
#include "method/identify.h"
#include "method/usbids.h"

#define CAN_QUERY_WINDOW_MS 500

struct usb_scan {
    const struct printer_mcus *m;
    struct mf_found *out;
    size_t cap, n;
};

/* The USB ids of what can be flashed: Klipper (and its CAN bridge build),
 * Katapult, the STM32 and LPC176x DFU bootloaders, the RP2040 BOOTSEL. */
static const char *usb_kind(const struct usb_port_info *d)
{
    if (d->vid == USB_VID_KLIPPER && (d->pid == USB_PID_KLIPPER || d->pid == USB_PID_KLIPPER_BRIDGE))
        return "klipper";
    if (d->vid == USB_VID_KLIPPER && d->pid == USB_PID_KATAPULT)
        return "katapult";
    if ((d->vid == 0x0483 && d->pid == 0xdf11) || (d->vid == 0x1d50 && d->pid == 0x6015))
        return "dfu";
    if (d->vid == 0x2e8a && d->pid == 0x0003)
        return "bootsel";
    return NULL;
}

static bool named_serial(const struct printer_mcus *m, const char *tty)
{
    char real[PATH_MAX];
    for (size_t i = 0; i < m->n; i++)
        if (m->mcu[i].serial[0] && realpath(m->mcu[i].serial, real) && !strcmp(real, tty))
            return true;
    return false;
}

static bool named_uuid(const struct printer_mcus *m, const char *uuid);

/* A USB to CAN bridge printer.cfg names as a CAN node (running Klipper or
 * waiting in Katapult): its serial number, the chip id, gives the UUID. */
static bool named_bridge(const struct printer_mcus *m, const struct usb_port_info *d)
{
    uint8_t uuid[CANBUS_UUID_LEN];
    char hex[2 * CANBUS_UUID_LEN + 1];
    if (!mf_usb_bridge_uuid(d, uuid))
        return false;
    canbus_uuid_format(uuid, hex);
    return named_uuid(m, hex);
}

/* Called for every USB device; never "matches", so the scan sees them all. */
static bool collect_usb(const struct usb_port_info *d, void *ctx)
{
    struct usb_scan *s = ctx;
    const char *kind = usb_kind(d);
    if (!kind || s->n == s->cap || (d->tty[0] && named_serial(s->m, d->tty)) || named_bridge(s->m, d))
        return false;
    struct mf_found *f = &s->out[s->n++];
    snprintf(f->reach, sizeof(f->reach), "%s%s", d->tty[0] ? "" : "USB ", d->tty[0] ? d->tty : d->port);
    snprintf(f->what, sizeof(f->what), "%s", kind);
    return false;
}

static bool named_uuid(const struct printer_mcus *m, const char *uuid)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->mcu[i].canbus_uuid, uuid))
            return true;
    return false;
}

static void scan_can(const struct printer_mcus *m, const char *iface, struct mf_found *out, size_t cap, size_t *n)
{
    struct canbus *bus;
    struct canbus_node_info nodes[32];
    struct mf_err err;
    if (canbus_open(iface, &bus, &err) < 0)
        return;
    int got = canbus_query_unassigned(bus, CAN_QUERY_WINDOW_MS, nodes, 32, &err);
    canbus_close(bus);
    for (int i = 0; i < got && *n < cap; i++) {
        char uuid[2 * CANBUS_UUID_LEN + 1];
        canbus_uuid_format(nodes[i].uuid, uuid);
        if (named_uuid(m, uuid))
            continue;
        snprintf(out[*n].reach, sizeof(out[*n].reach), "CAN node %s on %s", uuid, iface);
        snprintf(out[*n].what, sizeof(out[*n].what), "%s",
                 nodes[i].app == CANBUS_APP_KATAPULT ? "katapult" : "klipper");
        (*n)++;
    }
}

size_t mf_discover_unnamed(const struct printer_mcus *m, struct mf_found *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++) {
        const char *iface = m->mcu[i].canbus_uuid[0] ? m->mcu[i].canbus_interface : NULL;
        bool seen = false;
        for (size_t j = 0; iface && j < i; j++)
            seen |= m->mcu[j].canbus_uuid[0] && !strcmp(m->mcu[j].canbus_interface, iface);
        if (iface && !seen)
            scan_can(m, iface, out, cap, &n);
    }
    struct usb_scan s = { m, out, cap, n };
    struct usb_port_info info;
    usbport_find("/", collect_usb, &s, &info);
    return s.n;
}
