/* DfuSe commands, programming with read-back, and the leave. */
#include "usb/dfuse.h"

#include <stdlib.h>
#include <string.h>

#include "util/interrupt.h"

enum { CMD_SET_ADDRESS = 0x21, CMD_ERASE = 0x41 };
#define FIRST_DATA_BLOCK 2
/* The longest a single page erase may take: ST gives 2 s typical and 4 s
 * maximum for a 128 KiB sector; F4 ROMs under-report (100 ms). */
#define ERASE_MAX_MS 35000
#define COMMAND_MAX_MS 5000
#define WRITE_MAX_MS 5000

static int command(struct dfu_dev *d, uint8_t cmd, uint32_t addr, unsigned max_ms, const char *what,
                   struct mf_err *err)
{
    uint8_t b[5] = { cmd, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16), (uint8_t)(addr >> 24) };
    if (dfu_download(d, 0, b, sizeof(b), err))
        return -1;
    /* The command runs on the first status request, which must find the
     * device busy with it; then poll until it is done. */
    int rc = dfu_get_status(d);
    if (rc != USBDEV_OK)
        return mf_fail(err, rc == USBDEV_GONE ? MF_E_DEVICE : MF_E_PROTOCOL,
                       "The DfuSe device at port %s did not answer after %s.", usbdev_info(d->usb)->port, what);
    if (d->last.status)
        return mf_fail(err, MF_E_PROTOCOL, "The DfuSe device at port %s refused %s: %s.",
                       usbdev_info(d->usb)->port, what, dfu_status_text(d->last.status));
    if (d->last.state != DFU_DNBUSY && d->last.state != DFU_DNLOAD_IDLE)
        return mf_fail(err, MF_E_PROTOCOL, "The DfuSe device at port %s was in state %u after %s.",
                       usbdev_info(d->usb)->port, d->last.state, what);
    return d->last.state == DFU_DNBUSY ? dfu_poll(d, max_ms, what, err) : 0;
}

int dfuse_set_address(struct dfu_dev *d, uint32_t addr, struct mf_err *err)
{
    return command(d, CMD_SET_ADDRESS, addr, COMMAND_MAX_MS, "setting the address", err);
}

int dfuse_erase_page(struct dfu_dev *d, uint32_t addr, struct mf_err *err)
{
    return command(d, CMD_ERASE, addr, ERASE_MAX_MS, "erasing a page", err);
}

int dfuse_write(struct dfu_dev *d, uint32_t addr, const uint8_t *data, size_t len, dfuse_progress_fn progress,
                void *ctx, struct mf_err *err)
{
    for (size_t at = 0; at < len; at += d->transfer_size) {
        uint16_t n = (uint16_t)(len - at < d->transfer_size ? len - at : d->transfer_size);
        /* The pointer for every block, as dfu-util does: some ROMs do not
         * advance it by block number. */
        if (mf_interrupt_check(err) < 0)
            return -1;
        if (dfuse_set_address(d, addr + (uint32_t)at, err) ||
            dfu_download(d, FIRST_DATA_BLOCK, data + at, n, err) || dfu_poll(d, WRITE_MAX_MS, "writing", err))
            return mf_wrap(err, "at 0x%08X: ", (unsigned)(addr + at));
        if (progress)
            progress("write", at + n, len, ctx);
    }
    return 0;
}

int dfuse_read(struct dfu_dev *d, uint32_t addr, uint8_t *out, size_t len, dfuse_progress_fn progress, void *ctx,
               struct mf_err *err)
{
    /* Upload starts from dfuIDLE: set the pointer, then abort the download. */
    if (dfuse_set_address(d, addr, err) || dfu_make_idle(d, err))
        return -1;
    uint16_t block = FIRST_DATA_BLOCK;
    for (size_t at = 0; at < len; at += d->transfer_size, block++) {
        uint16_t n = (uint16_t)(len - at < d->transfer_size ? len - at : d->transfer_size);
        int got = dfu_upload(d, block, out + at, n, err);
        if (got < 0)
            return mf_wrap(err, "reading 0x%08X: ", (unsigned)(addr + at));
        if (got < n)
            return mf_fail(err, MF_E_PROTOCOL, "The DfuSe device at port %s ended the read-back at 0x%08X.",
                           usbdev_info(d->usb)->port, (unsigned)(addr + at + (size_t)got));
        if (progress)
            progress("verify", at + n, len, ctx);
    }
    return dfu_make_idle(d, err);
}

static int erase_touched(struct dfu_dev *d, const struct dfu_layout *l, uint32_t addr, size_t len,
                         dfuse_progress_fn progress, void *ctx, struct mf_err *err)
{
    uint64_t at = addr, end = (uint64_t)addr + len;
    /* Reported before the first erase is sent: an erase whose answer is
     * lost may still have been done, and the firmware there is then gone. */
    if (progress)
        progress("erase", 0, len, ctx);
    while (at < end) {
        const struct dfu_segment *s = dfu_layout_find(l, (uint32_t)at);
        uint32_t page = dfu_layout_page_start(s, (uint32_t)at);
        if (mf_interrupt_check(err) < 0)
            return -1;
        if (dfuse_erase_page(d, page, err))
            return mf_wrap(err, "at 0x%08X: ", page);
        at = (uint64_t)page + s->page_size;
        if (progress)
            progress("erase", (size_t)((at < end ? at : end) - addr), len, ctx);
    }
    return 0;
}

int dfuse_program(struct dfu_dev *d, const struct dfu_layout *layout, uint32_t addr, const uint8_t *image,
                  size_t len, dfuse_progress_fn progress, void *ctx, struct mf_err *err)
{
    if (len == 0 || len > UINT32_MAX || dfu_layout_check_write(layout, addr, (uint32_t)len, err))
        return len == 0 ? mf_fail(err, MF_E_INPUT, "The image is empty.") : -1;
    if (dfu_make_idle(d, err) || erase_touched(d, layout, addr, len, progress, ctx, err) ||
        dfuse_write(d, addr, image, len, progress, ctx, err))
        return -1;
    uint8_t *back = malloc(len);
    if (!back)
        return mf_fail(err, MF_E_FAIL, "Out of memory for the read-back.");
    int rc = dfuse_read(d, addr, back, len, progress, ctx, err);
    if (rc == 0) {
        size_t i = 0;
        while (i < len && back[i] == image[i])
            i++;
        if (i < len)
            rc = mf_fail(err, MF_E_VERIFY, "The read-back differs from the image at 0x%08X (wrote 0x%02X, read 0x%02X).",
                         (unsigned)(addr + i), image[i], back[i]);
    }
    free(back);
    return rc;
}

int dfuse_leave(struct dfu_dev *d, uint32_t addr, struct mf_err *err)
{
    if (dfuse_set_address(d, addr, err) || dfu_download(d, FIRST_DATA_BLOCK, NULL, 0, err))
        return -1;
    /* The ROM jumps during manifestation; most drop off before answering. */
    int rc = dfu_get_status(d);
    if (rc != USBDEV_OK)
        return 0;
    if (d->last.status)
        return mf_fail(err, MF_E_PROTOCOL, "The DfuSe device at port %s refused to start the firmware: %s.",
                       usbdev_info(d->usb)->port, dfu_status_text(d->last.status));
    return 0;
}
