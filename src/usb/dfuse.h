/* ST's DfuSe extension of DFU (the STM32 ROM bootloader, 0483:df11):
 * commands on download block 0 (set address pointer, erase a page), data
 * in blocks from 2 at the address pointer, upload from it, and the leave
 * by a zero-length download that makes the ROM jump to the pointer.
 */
#ifndef MF_USB_DFUSE_H
#define MF_USB_DFUSE_H

#include <stddef.h>
#include <stdint.h>

#include "usb/dfu.h"
#include "usb/layout.h"

/* Progress of a long step: phase is "erase", "write" or "verify".  The
 * first "erase" (done 0) comes before anything is erased. */
typedef void (*dfuse_progress_fn)(const char *phase, size_t done, size_t total, void *ctx);

int dfuse_set_address(struct dfu_dev *d, uint32_t addr, struct mf_err *err);
int dfuse_erase_page(struct dfu_dev *d, uint32_t addr, struct mf_err *err);
/* Write len bytes at addr (already erased), wTransferSize at a time. */
int dfuse_write(struct dfu_dev *d, uint32_t addr, const uint8_t *data, size_t len, dfuse_progress_fn progress,
                void *ctx, struct mf_err *err);
/* Read len bytes from addr; the device is left in dfuIDLE. */
int dfuse_read(struct dfu_dev *d, uint32_t addr, uint8_t *out, size_t len, dfuse_progress_fn progress, void *ctx,
               struct mf_err *err);

/* Erase the pages [addr, addr+len) touches (and only those), write the
 * image, read all of it back and compare.  The range is checked against
 * the layout first: nothing is erased when any part of it cannot be
 * written.  A difference is MF_E_VERIFY naming its first address. */
int dfuse_program(struct dfu_dev *d, const struct dfu_layout *layout, uint32_t addr, const uint8_t *image,
                  size_t len, dfuse_progress_fn progress, void *ctx, struct mf_err *err);

/* Start the code at addr: the ROM leaves DFU.  The device dropping off the
 * bus instead of answering the status request is how this normally ends,
 * and is success. */
int dfuse_leave(struct dfu_dev *d, uint32_t addr, struct mf_err *err);

#endif
