/* UF2: 512-byte blocks, each carrying up to 476 bytes for one address. */
#include "firmware/format.h"

#include <stdio.h>

#define UF2_MAGIC0 0x0A324655u
#define UF2_MAGIC1 0x9E5D5157u
#define UF2_MAGIC_END 0x0AB16F30u
#define UF2_FLAG_NOT_MAIN_FLASH 0x00000001u
#define UF2_FLAG_FAMILY 0x00002000u
#define UF2_MAX_PAYLOAD 476u

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int fw_uf2_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, uint32_t *family, char *why,
                size_t cap)
{
    if (len % FW_UF2_BLOCK) {
        snprintf(why, cap, "its length is not a whole number of 512-byte blocks (the file is cut off)");
        return -1;
    }
    *family = 0;
    for (size_t off = 0; off < len; off += FW_UF2_BLOCK) {
        const uint8_t *b = data + off;
        size_t block = off / FW_UF2_BLOCK;
        if (le32(b) != UF2_MAGIC0 || le32(b + 4) != UF2_MAGIC1 || le32(b + 508) != UF2_MAGIC_END) {
            snprintf(why, cap, "block %zu is not a UF2 block", block);
            return -1;
        }
        uint32_t flags = le32(b + 8), addr = le32(b + 12), size = le32(b + 16);
        if (size > UF2_MAX_PAYLOAD) {
            snprintf(why, cap, "block %zu claims %u bytes, more than a block holds", block, (unsigned)size);
            return -1;
        }
        if (flags & UF2_FLAG_FAMILY)
            *family = le32(b + 28);
        if (flags & UF2_FLAG_NOT_MAIN_FLASH)
            continue;
        if (fn(ctx, addr, b + 32, size) < 0)
            return -1;
    }
    return 0;
}
