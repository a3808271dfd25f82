/* What every DFU bootloader model shares: the DFU 1.1 state and status,
 * the time an operation keeps the device busy (reported as bwPollTimeout),
 * and the requests that only move the state (CLRSTATUS, GETSTATE, ABORT).
 */
#ifndef SIM_USB_DFU_CORE_H
#define SIM_USB_DFU_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "usb_model.h"

/* DFU class requests and states (DFU 1.1 section 6.1). */
enum { DFU_DETACH, DFU_DNLOAD, DFU_UPLOAD, DFU_GETSTATUS, DFU_CLRSTATUS, DFU_GETSTATE, DFU_ABORT };
enum {
    ST_DFU_IDLE = 2, ST_DNLOAD_SYNC, ST_DNBUSY, ST_DNLOAD_IDLE, ST_MANIFEST_SYNC, ST_MANIFEST,
    ST_MANIFEST_WAIT_RESET, ST_UPLOAD_IDLE, ST_ERROR,
};
enum { ERR_OK = 0x00, ERR_TARGET = 0x01, ERR_PROG = 0x06, ERR_ADDRESS = 0x08, ERR_STALLEDPKT = 0x0f };

struct dfu_core {
    uint8_t state, status;
    bool realistic;          /* operations take the chip's time */
    uint32_t poll_ms;        /* bwPollTimeout of the next status */
    struct timespec busy_until;
};

/* The operation just started keeps the device busy for us (none without
 * realistic timing). */
void dfu_core_busy_for(struct dfu_core *c, uint32_t us);
bool dfu_core_busy(const struct dfu_core *c);
/* An error: the device stays in dfuERROR until CLRSTATUS. */
void dfu_core_fail(struct dfu_core *c, uint8_t status);
/* The 6-byte GETSTATUS answer, cut to *len. */
void dfu_core_status(const struct dfu_core *c, uint8_t *data, size_t *len);
/* CLRSTATUS, GETSTATE and ABORT: true (with *r set) when s is one of them. */
bool dfu_core_request(struct dfu_core *c, const struct usb_setup *s, uint8_t *data, size_t *len, enum usb_result *r);

#endif
