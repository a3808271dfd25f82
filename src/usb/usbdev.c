/* libusb-1.0 behind the usbdev interface. */
#include "usb/usbdev.h"

#include <libusb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct usbdev {
    libusb_context *ctx;
    libusb_device_handle *h;
    struct usbdev_info info;
    int interface;
};

static void fill_info(libusb_device *dev, const struct libusb_device_descriptor *dd, struct usbdev_info *info)
{
    uint8_t ports[8];
    int n = libusb_get_port_numbers(dev, ports, (int)sizeof(ports));
    memset(info, 0, sizeof(*info));
    info->vid = dd->idVendor, info->pid = dd->idProduct;
    info->bus = libusb_get_bus_number(dev), info->address = libusb_get_device_address(dev);
    int at = snprintf(info->port, sizeof(info->port), "%u", info->bus);
    for (int i = 0; i < n && at > 0 && (size_t)at < sizeof(info->port); i++)
        at += snprintf(info->port + at, sizeof(info->port) - (size_t)at, "%c%u", i ? '.' : '-', ports[i]);
    snprintf(info->devnode, sizeof(info->devnode), "/dev/bus/usb/%03u/%03u", info->bus, info->address);
}

static int matches(const struct usbdev_info *info, const struct usbdev_id *ids, size_t nids, const char *port)
{
    if (port && strcmp(port, info->port))
        return 0;
    for (size_t i = 0; i < nids; i++)
        if (ids[i].vid == info->vid && (!ids[i].pid || ids[i].pid == info->pid))
            return 1;
    return nids == 0;
}

static int by_port(const void *a, const void *b)
{
    return strcmp(((const struct usbdev_info *)a)->port, ((const struct usbdev_info *)b)->port);
}

int usbdev_find(const struct usbdev_id *ids, size_t nids, const char *port, struct usbdev_info *out, int cap,
                struct mf_err *err)
{
    libusb_context *ctx;
    if (libusb_init(&ctx))
        return mf_fail(err, MF_E_DEVICE, "USB devices cannot be listed: libusb did not start.");
    libusb_device **list;
    ssize_t n = libusb_get_device_list(ctx, &list);
    int found = 0;
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        struct usbdev_info info;
        if (libusb_get_device_descriptor(list[i], &dd))
            continue;
        fill_info(list[i], &dd, &info);
        if (matches(&info, ids, nids, port) && found < cap)
            out[found++] = info;
    }
    if (n >= 0)
        libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    qsort(out, (size_t)found, sizeof(*out), by_port);
    return found;
}

/* The libusb device that info names, if it is still there. */
static libusb_device *lookup(libusb_context *ctx, const struct usbdev_info *want, libusb_device ***list)
{
    ssize_t n = libusb_get_device_list(ctx, list);
    for (ssize_t i = 0; i < n; i++) {
        struct libusb_device_descriptor dd;
        struct usbdev_info info;
        if (libusb_get_device_descriptor((*list)[i], &dd))
            continue;
        fill_info((*list)[i], &dd, &info);
        if (!strcmp(info.port, want->port) && info.vid == want->vid && info.pid == want->pid)
            return (*list)[i];
    }
    return NULL;
}

/* The bulk OUT and IN endpoints of an alt setting, if it has both. */
static bool bulk_pair(const struct libusb_interface_descriptor *alt, struct usbdev_bulk_if *out)
{
    out->ep_out = out->ep_in = 0;
    for (int e = 0; e < alt->bNumEndpoints; e++) {
        const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];
        if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
            continue;
        if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN)
            out->ep_in = out->ep_in ? out->ep_in : ep->bEndpointAddress;
        else
            out->ep_out = out->ep_out ? out->ep_out : ep->bEndpointAddress;
    }
    out->interface = alt->bInterfaceNumber;
    return out->ep_in && out->ep_out;
}

int usbdev_find_bulk_interface(const struct usbdev_info *info, uint8_t cls, struct usbdev_bulk_if *out,
                               struct mf_err *err)
{
    libusb_context *ctx;
    if (libusb_init(&ctx))
        return mf_fail(err, MF_E_DEVICE, "USB devices cannot be listed: libusb did not start.");
    libusb_device **list = NULL;
    libusb_device *dev = lookup(ctx, info, &list);
    struct libusb_config_descriptor *cfg = NULL;
    bool found = false;
    if (dev && libusb_get_config_descriptor(dev, 0, &cfg) == 0) {
        for (int i = 0; i < cfg->bNumInterfaces && !found; i++)
            if (cfg->interface[i].num_altsetting > 0 && cfg->interface[i].altsetting[0].bInterfaceClass == cls)
                found = bulk_pair(&cfg->interface[i].altsetting[0], out);
        libusb_free_config_descriptor(cfg);
    }
    if (list)
        libusb_free_device_list(list, 1);
    libusb_exit(ctx);
    if (!dev)
        return mf_fail(err, MF_E_DEVICE, "The USB device %04x:%04x at port %s is gone.", info->vid, info->pid,
                       info->port);
    if (!found)
        return mf_fail(err, MF_E_DEVICE, "The USB device %04x:%04x at port %s has no interface of class 0x%02x "
                       "with bulk endpoints.", info->vid, info->pid, info->port, cls);
    return 0;
}

int usbdev_open(const struct usbdev_info *info, int interface, struct usbdev **out, int *access_denied,
                struct mf_err *err)
{
    *out = NULL;
    if (access_denied)
        *access_denied = 0;
    struct usbdev *d = calloc(1, sizeof(*d));
    if (!d || libusb_init(&d->ctx)) {
        free(d);
        return mf_fail(err, MF_E_DEVICE, "USB devices cannot be opened: libusb did not start.");
    }
    libusb_device **list = NULL;
    libusb_device *dev = lookup(d->ctx, info, &list);
    int rc = dev ? libusb_open(dev, &d->h) : LIBUSB_ERROR_NO_DEVICE;
    if (dev)
        fill_info(dev, &(struct libusb_device_descriptor){ .idVendor = info->vid, .idProduct = info->pid },
                  &d->info);
    if (list)
        libusb_free_device_list(list, 1);
    if (rc == LIBUSB_ERROR_ACCESS) {
        if (access_denied)
            *access_denied = 1;
        mf_fail(err, MF_E_DEVICE, "The USB device %04x:%04x at port %s cannot be opened: %s is not writable "
                "for this user.", info->vid, info->pid, info->port, d->info.devnode);
    } else if (rc) {
        mf_fail(err, MF_E_DEVICE, "The USB device %04x:%04x at port %s cannot be opened: %s.", info->vid,
                info->pid, info->port, libusb_strerror(rc));
    } else {
        libusb_set_auto_detach_kernel_driver(d->h, 1);
        rc = libusb_claim_interface(d->h, interface);
        if (rc)
            mf_fail(err, MF_E_DEVICE, "The USB device %04x:%04x at port %s is in use by another program (%s).",
                    info->vid, info->pid, info->port, libusb_strerror(rc));
    }
    if (rc) {
        if (d->h)
            libusb_close(d->h);
        libusb_exit(d->ctx);
        free(d);
        return -1;
    }
    d->interface = interface;
    *out = d;
    return 0;
}

void usbdev_close(struct usbdev *d)
{
    if (!d)
        return;
    libusb_release_interface(d->h, d->interface);
    libusb_close(d->h);
    libusb_exit(d->ctx);
    free(d);
}

int usbdev_set_alt(struct usbdev *d, int alt, struct mf_err *err)
{
    int rc = libusb_set_interface_alt_setting(d->h, d->interface, alt);
    if (rc)
        return mf_fail(err, MF_E_DEVICE, "The USB device at port %s refused alt setting %d (%s).", d->info.port,
                       alt, libusb_strerror(rc));
    return 0;
}

/* How a libusb transfer call ended. */
static enum usbdev_result result_of(int rc)
{
    if (rc >= 0)
        return USBDEV_OK;
    if (rc == LIBUSB_ERROR_PIPE)
        return USBDEV_STALL;
    if (rc == LIBUSB_ERROR_NO_DEVICE || rc == LIBUSB_ERROR_IO)
        return USBDEV_GONE;
    return USBDEV_ERROR;
}

enum usbdev_result usbdev_control(struct usbdev *d, uint8_t request_type, uint8_t request, uint16_t value,
                                  uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
                                  int *done)
{
    int rc = libusb_control_transfer(d->h, request_type, request, value, index, data, length, timeout_ms);
    if (done)
        *done = rc > 0 ? rc : 0;
    return result_of(rc);
}

enum usbdev_result usbdev_bulk(struct usbdev *d, uint8_t ep, uint8_t *data, int length, unsigned timeout_ms,
                               int *done)
{
    int moved = 0;
    int rc = libusb_bulk_transfer(d->h, ep, data, length, &moved, timeout_ms);
    if (done)
        *done = moved;
    return result_of(rc);
}

void usbdev_clear_halt(struct usbdev *d, uint8_t ep)
{
    libusb_clear_halt(d->h, ep);
}

void usbdev_string(struct usbdev *d, uint8_t index, char *out, size_t cap)
{
    out[0] = '\0';
    if (index == 0 || libusb_get_string_descriptor_ascii(d->h, index, (unsigned char *)out, (int)cap) < 0)
        out[0] = '\0';
}

static const struct libusb_interface *claimed(struct usbdev *d, struct libusb_config_descriptor **cfg)
{
    if (libusb_get_active_config_descriptor(libusb_get_device(d->h), cfg))
        return NULL;
    if (d->interface >= (*cfg)->bNumInterfaces) {
        libusb_free_config_descriptor(*cfg);
        return NULL;
    }
    return &(*cfg)->interface[d->interface];
}

int usbdev_alt_count(struct usbdev *d)
{
    struct libusb_config_descriptor *cfg;
    const struct libusb_interface *intf = claimed(d, &cfg);
    if (!intf)
        return 0;
    int n = intf->num_altsetting;
    libusb_free_config_descriptor(cfg);
    return n;
}

void usbdev_alt_name(struct usbdev *d, int alt, char *out, size_t cap)
{
    struct libusb_config_descriptor *cfg;
    const struct libusb_interface *intf = claimed(d, &cfg);
    out[0] = '\0';
    if (!intf)
        return;
    uint8_t index = alt < intf->num_altsetting ? intf->altsetting[alt].iInterface : 0;
    libusb_free_config_descriptor(cfg);
    usbdev_string(d, index, out, cap);
}

/* The first descriptor of this type in a block of extra descriptors. */
static size_t find_in(const unsigned char *extra, int len, uint8_t type, uint8_t *out, size_t cap)
{
    for (int at = 0; at + 2 <= len && extra[at] >= 2; at += extra[at])
        if (extra[at + 1] == type && at + extra[at] <= len) {
            size_t n = extra[at] < cap ? extra[at] : cap;
            memcpy(out, extra + at, n);
            return n;
        }
    return 0;
}

size_t usbdev_class_descriptor(struct usbdev *d, uint8_t type, uint8_t *out, size_t cap)
{
    struct libusb_config_descriptor *cfg;
    const struct libusb_interface *intf = claimed(d, &cfg);
    if (!intf)
        return 0;
    size_t n = 0;
    for (int a = 0; a < intf->num_altsetting && !n; a++)
        n = find_in(intf->altsetting[a].extra, intf->altsetting[a].extra_length, type, out, cap);
    if (!n)
        n = find_in(cfg->extra, cfg->extra_length, type, out, cap);
    libusb_free_config_descriptor(cfg);
    return n;
}

const struct usbdev_info *usbdev_info(const struct usbdev *d)
{
    return &d->info;
}
