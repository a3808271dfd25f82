/* Whole images: write every block, read every block back. */
#include "katapult/client.h"

#include <string.h>

#include "katapult/frame.h"
#include "util/interrupt.h"

/* Block i of the image, the tail padded with 0xFF as erased flash. */
static void image_block(const uint8_t *image, size_t len, size_t i, uint32_t bs, uint8_t *out)
{
    size_t off = i * bs, n = len - off < bs ? len - off : bs;
    memcpy(out, image + off, n);
    memset(out + n, 0xff, bs - n);
}

static int image_blocks(const struct kp_info *info, size_t len, size_t *count, struct mf_err *err)
{
    if (!info->block_size)
        return mf_fail(err, MF_E_USAGE, "An image was sent to Katapult before CONNECT.");
    if (len == 0)
        return mf_fail(err, MF_E_USAGE, "The image to write is empty.");
    *count = (len + info->block_size - 1) / info->block_size;
    if ((uint64_t)info->start_address + (uint64_t)*count * info->block_size > 0x100000000ull)
        return mf_fail(err, MF_E_USAGE, "The image (%zu bytes) does not fit below 4 GiB from 0x%08x.", len,
                       info->start_address);
    return 0;
}

int kp_write_image(struct kp_client *c, const uint8_t *image, size_t len, kp_progress_fn progress, void *ctx,
                   struct mf_err *err)
{
    struct kp_info info;
    size_t count = 0;
    kp_client_info(c, &info);
    if (image_blocks(&info, len, &count, err) < 0)
        return -1;
    uint8_t block[KP_BLOCK_MAX];
    for (size_t i = 0; i < count; i++) {
        image_block(image, len, i, info.block_size, block);
        if (mf_interrupt_check(err) < 0 || kp_send_block(c, info.start_address + (uint32_t)(i * info.block_size), block, err) < 0)
            return -1;
        if (progress)
            progress(ctx, (i + 1) * info.block_size, count * info.block_size);
    }
    return 0;
}

int kp_verify_image(struct kp_client *c, const uint8_t *image, size_t len, kp_progress_fn progress, void *ctx,
                    uint32_t *bad_addr, struct mf_err *err)
{
    struct kp_info info;
    size_t count = 0;
    kp_client_info(c, &info);
    if (image_blocks(&info, len, &count, err) < 0)
        return -1;
    uint8_t want[KP_BLOCK_MAX], got[KP_BLOCK_MAX];
    for (size_t i = 0; i < count; i++) {
        uint32_t addr = info.start_address + (uint32_t)(i * info.block_size);
        image_block(image, len, i, info.block_size, want);
        if (mf_interrupt_check(err) < 0 || kp_request_block(c, addr, got, err) < 0)
            return -1;
        for (uint32_t b = 0; b < info.block_size; b++) {
            if (got[b] != want[b]) {
                if (bad_addr)
                    *bad_addr = addr + b;
                return mf_fail(err, MF_E_VERIFY, "Flash at 0x%08x reads back 0x%02x where the image has 0x%02x.",
                               addr + b, got[b], want[b]);
            }
        }
        if (progress)
            progress(ctx, (i + 1) * info.block_size, count * info.block_size);
    }
    return 0;
}
