/* The DFU 1.1 class protocol (USB DFU spec 1.1) on an opened device: the
 * functional descriptor, status polling that honours bwPollTimeout, getting
 * back to dfuIDLE, and plain DFU download with manifestation.  DfuSe's
 * additions are in dfuse.h.
 */
#ifndef MF_USB_DFU_H
#define MF_USB_DFU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb/usbdev.h"
#include "util/err.h"

enum dfu_state {
    DFU_APP_IDLE = 0, DFU_APP_DETACH, DFU_IDLE, DFU_DNLOAD_SYNC, DFU_DNBUSY, DFU_DNLOAD_IDLE,
    DFU_MANIFEST_SYNC, DFU_MANIFEST, DFU_MANIFEST_WAIT_RESET, DFU_UPLOAD_IDLE, DFU_ERROR,
};

struct dfu_status {
    uint8_t status;       /* bStatus: 0 OK, else an error code (dfu_status_text) */
    uint8_t state;        /* bState */
    uint32_t poll_ms;     /* bwPollTimeout */
};

struct dfu_dev {
    struct usbdev *usb;
    int interface;
    uint16_t transfer_size;  /* wTransferSize */
    uint16_t version;        /* bcdDFUVersion: 0x011a for DfuSe */
    uint8_t attributes;      /* bmAttributes: 1 download, 2 upload, 4 manifestation tolerant */
    struct dfu_status last;  /* the last status the device gave */
};

/* Read the functional descriptor of the claimed interface.  MF_E_PROTOCOL
 * when the device has none or it makes no sense. */
int dfu_attach(struct dfu_dev *d, struct usbdev *usb, int interface, struct mf_err *err);

/* One GETSTATUS.  Returns a usbdev_result; on USBDEV_OK d->last is set. */
int dfu_get_status(struct dfu_dev *d);

/* Poll GETSTATUS, sleeping bwPollTimeout between polls, while the device
 * is busy (dfuDNBUSY, dfuMANIFEST), for at most max_ms in all.  A stall
 * while polling is retried (some devices stall once while erasing).  0 when
 * the device ended the operation without error, else -1: MF_E_PROTOCOL for
 * a device error (its status named), MF_E_DEVICE for a device that stopped
 * answering, or kept busy. */
int dfu_poll(struct dfu_dev *d, unsigned max_ms, const char *what, struct mf_err *err);

/* From any state back to dfuIDLE: clear an error, abort a transfer. */
int dfu_make_idle(struct dfu_dev *d, struct mf_err *err);

/* DNLOAD and UPLOAD of one block. */
int dfu_download(struct dfu_dev *d, uint16_t block, const uint8_t *data, uint16_t len, struct mf_err *err);
/* Bytes read (a short block ends the upload), or -1. */
int dfu_upload(struct dfu_dev *d, uint16_t block, uint8_t *data, uint16_t len, struct mf_err *err);

/* Plain DFU 1.1: the whole image in wTransferSize blocks numbered from 0,
 * each polled to completion, then the zero-length block and the
 * manifestation.  progress (may be NULL) gets the bytes sent so far.
 * A device that leaves the bus during manifestation has done its part. */
int dfu_download_image(struct dfu_dev *d, const uint8_t *image, size_t len,
                       void (*progress)(size_t done, size_t total, void *ctx), void *ctx, struct mf_err *err);

/* The DFU spec's name for a bStatus code. */
const char *dfu_status_text(uint8_t status);

#endif
