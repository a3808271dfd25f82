/* DFU 1.1 requests and status polling. */
#include "usb/dfu.h"

#include <time.h>

#include "util/err.h"

enum { REQ_DETACH, REQ_DNLOAD, REQ_UPLOAD, REQ_GETSTATUS, REQ_CLRSTATUS, REQ_GETSTATE, REQ_ABORT };
#define OUT_CLASS_INTERFACE 0x21
#define IN_CLASS_INTERFACE 0xa1
#define DFU_FUNCTIONAL 0x21
#define REQUEST_TIMEOUT_MS 5000
/* Stalls in a row while polling before giving up (STM32L4 stalls once). */
#define POLL_STALLS 3

static void sleep_ms(uint32_t ms)
{
    struct timespec t = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

const char *dfu_status_text(uint8_t status)
{
    static const char *const text[] = {
        "no error", "file not targeted for this device", "file fails vendor checks",
        "device unable to write memory", "memory erase failed", "memory erase check failed",
        "program memory failed", "programmed memory failed verification", "address out of range",
        "unexpected end of data", "firmware corrupt", "vendor-specific error", "unexpected USB reset",
        "unexpected power-on reset", "unknown error", "request stalled",
    };
    return status < sizeof(text) / sizeof(text[0]) ? text[status] : "undefined status";
}

static int device_gone(struct dfu_dev *d, int rc, const char *what, struct mf_err *err)
{
    const struct usbdev_info *i = usbdev_info(d->usb);
    if (rc == USBDEV_GONE)
        return mf_fail(err, MF_E_DEVICE, "The DFU device at port %s left the bus during %s.", i->port, what);
    if (rc == USBDEV_STALL)
        return mf_fail(err, MF_E_PROTOCOL, "The DFU device at port %s refused %s.", i->port, what);
    return mf_fail(err, MF_E_DEVICE, "The DFU device at port %s stopped answering during %s.", i->port, what);
}

int dfu_attach(struct dfu_dev *d, struct usbdev *usb, int interface, struct mf_err *err)
{
    uint8_t f[9];
    d->usb = usb;
    d->interface = interface;
    d->last = (struct dfu_status){ 0 };
    size_t n = usbdev_class_descriptor(usb, DFU_FUNCTIONAL, f, sizeof(f));
    if (n < 7)
        return mf_fail(err, MF_E_PROTOCOL, "The USB device at port %s has no DFU functional descriptor.",
                       usbdev_info(usb)->port);
    d->attributes = f[2];
    d->transfer_size = (uint16_t)(f[5] | f[6] << 8);
    d->version = n >= 9 ? (uint16_t)(f[7] | f[8] << 8) : 0x0100;
    if (d->transfer_size == 0)
        return mf_fail(err, MF_E_PROTOCOL, "The DFU device at port %s gives a transfer size of 0.",
                       usbdev_info(usb)->port);
    return 0;
}

int dfu_get_status(struct dfu_dev *d)
{
    uint8_t s[6];
    int got;
    int rc = usbdev_control(d->usb, IN_CLASS_INTERFACE, REQ_GETSTATUS, 0, (uint16_t)d->interface, s, 6,
                            REQUEST_TIMEOUT_MS, &got);
    if (rc == USBDEV_OK && got < 6)
        rc = USBDEV_ERROR;
    if (rc == USBDEV_OK)
        d->last = (struct dfu_status){ s[0], s[4], (uint32_t)(s[1] | s[2] << 8 | s[3] << 16) };
    return rc;
}

int dfu_poll(struct dfu_dev *d, unsigned max_ms, const char *what, struct mf_err *err)
{
    uint64_t end = now_ms() + max_ms;
    int stalls = 0;
    uint32_t wait = 0;
    for (;;) {
        int rc = dfu_get_status(d);
        if (rc == USBDEV_STALL && ++stalls <= POLL_STALLS) {
            sleep_ms(wait ? wait : 1); /* poll again after the last timeout */
            continue;
        }
        if (rc != USBDEV_OK)
            return device_gone(d, rc, what, err);
        stalls = 0;
        if (d->last.status != 0)
            return mf_fail(err, MF_E_PROTOCOL, "The DFU device at port %s reported \"%s\" (status %u) during %s.",
                           usbdev_info(d->usb)->port, dfu_status_text(d->last.status), d->last.status, what);
        if (d->last.state != DFU_DNBUSY && d->last.state != DFU_MANIFEST && d->last.state != DFU_DNLOAD_SYNC)
            return 0;
        if (now_ms() >= end)
            return mf_fail(err, MF_E_DEVICE, "The DFU device at port %s was still busy with %s after %u s.",
                           usbdev_info(d->usb)->port, what, max_ms / 1000);
        wait = d->last.poll_ms;
        sleep_ms(wait ? wait : 1);
    }
}

static int simple_request(struct dfu_dev *d, uint8_t request, const char *what, struct mf_err *err)
{
    int rc = usbdev_control(d->usb, OUT_CLASS_INTERFACE, request, 0, (uint16_t)d->interface, NULL, 0,
                            REQUEST_TIMEOUT_MS, NULL);
    return rc == USBDEV_OK ? 0 : device_gone(d, rc, what, err);
}

int dfu_make_idle(struct dfu_dev *d, struct mf_err *err)
{
    for (int tries = 0; tries < 4; tries++) {
        int rc = dfu_get_status(d);
        if (rc != USBDEV_OK)
            return device_gone(d, rc, "the status request", err);
        switch (d->last.state) {
        case DFU_IDLE:
            return 0;
        case DFU_ERROR:
            if (simple_request(d, REQ_CLRSTATUS, "clearing its error", err))
                return -1;
            break;
        case DFU_DNBUSY:
        case DFU_MANIFEST:
            if (dfu_poll(d, 60000, "the last operation", err) && d->last.state != DFU_ERROR)
                return -1;
            break;
        default:
            if (simple_request(d, REQ_ABORT, "the abort request", err))
                return -1;
            break;
        }
    }
    return mf_fail(err, MF_E_PROTOCOL, "The DFU device at port %s does not return to its idle state (state %u).",
                   usbdev_info(d->usb)->port, d->last.state);
}

int dfu_download(struct dfu_dev *d, uint16_t block, const uint8_t *data, uint16_t len, struct mf_err *err)
{
    int rc = usbdev_control(d->usb, OUT_CLASS_INTERFACE, REQ_DNLOAD, block, (uint16_t)d->interface,
                            (uint8_t *)data, len, REQUEST_TIMEOUT_MS, NULL);
    return rc == USBDEV_OK ? 0 : device_gone(d, rc, "a download", err);
}

int dfu_upload(struct dfu_dev *d, uint16_t block, uint8_t *data, uint16_t len, struct mf_err *err)
{
    int got;
    int rc = usbdev_control(d->usb, IN_CLASS_INTERFACE, REQ_UPLOAD, block, (uint16_t)d->interface, data, len,
                            REQUEST_TIMEOUT_MS, &got);
    return rc == USBDEV_OK ? got : device_gone(d, rc, "an upload", err);
}

int dfu_download_image(struct dfu_dev *d, const uint8_t *image, size_t len,
                       void (*progress)(size_t done, size_t total, void *ctx), void *ctx, struct mf_err *err)
{
    uint16_t block = 0;
    for (size_t at = 0; at < len; at += d->transfer_size, block++) {
        uint16_t n = (uint16_t)(len - at < d->transfer_size ? len - at : d->transfer_size);
        if (dfu_download(d, block, image + at, n, err) || dfu_poll(d, 30000, "writing", err))
            return -1;
        if (progress)
            progress(at + n, len, ctx);
    }
    if (dfu_download(d, block, NULL, 0, err))
        return -1;
    /* Manifestation: the device reports it while it lasts, or resets into
     * the new firmware at once; a device that drops off has done its part. */
    uint64_t end = now_ms() + 30000;
    for (;;) {
        int rc = dfu_get_status(d);
        if (rc == USBDEV_GONE || rc == USBDEV_ERROR)
            return 0;
        if (rc != USBDEV_OK)
            return device_gone(d, rc, "manifestation", err);
        if (d->last.status)
            return mf_fail(err, MF_E_PROTOCOL, "The DFU device at port %s reported \"%s\" at the end of the "
                           "download.", usbdev_info(d->usb)->port, dfu_status_text(d->last.status));
        if (d->last.state != DFU_MANIFEST && d->last.state != DFU_MANIFEST_SYNC)
            return 0;
        if (now_ms() >= end)
            return mf_fail(err, MF_E_DEVICE, "The DFU device at port %s was still busy with manifestation after "
                           "30 s.", usbdev_info(d->usb)->port);
        sleep_ms(d->last.poll_ms ? d->last.poll_ms : 1);
    }
}
