/* UF2: 512-byte blocks, each carrying up to 476 bytes for one address. */
#include "firmware/format.h"

#include <stdbool.h>
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

/* Blocks are numbered 0 to numBlocks-1 in order; files may be concatenated,
 * each part numbered anew.  A part that ends early is a file cut off at a
 * block boundary, which the length alone does not show. */
static int check_numbering(const uint8_t *b, size_t block, uint32_t *next, uint32_t *count, char *why, size_t cap)
{
    uint32_t no = le32(b + 20), total = le32(b + 24);
    if (*next == 0)
        *count = total;
    if (total == 0 || no >= total || total != *count || no != *next) {
        snprintf(why, cap, "block %zu is numbered %u of %u where %u of %u was due (blocks are missing or out of "
                 "order)", block, (unsigned)no, (unsigned)total, (unsigned)*next, (unsigned)*count);
        return -1;
    }
    *next = no + 1 == total ? 0 : no + 1;
    return 0;
}

int fw_uf2_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, uint32_t *family, char *why,
                size_t cap)
{
    if (len % FW_UF2_BLOCK) {
        snprintf(why, cap, "its length is not a whole number of 512-byte blocks (the file is cut off)");
        return -1;
    }
    *family = 0;
    uint32_t next = 0, count = 0;
    bool family_seen = false;
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
        if (check_numbering(b, block, &next, &count, why, cap) < 0)
            return -1;
        if (flags & UF2_FLAG_NOT_MAIN_FLASH)
            continue;
        if (flags & UF2_FLAG_FAMILY) {
            /* One image: blocks of several families would be merged into it. */
            if (family_seen && le32(b + 28) != *family) {
                snprintf(why, cap, "it holds images for several UF2 families (0x%08x and 0x%08x)",
                         (unsigned)*family, (unsigned)le32(b + 28));
                return -1;
            }
            *family = le32(b + 28);
            family_seen = true;
        }
        if (fn(ctx, addr, b + 32, size) < 0)
            return -1;
    }
    if (next != 0) {
        snprintf(why, cap, "it ends after block %u of %u (the file is cut off)", (unsigned)next - 1, (unsigned)count);
        return -1;
    }
    return 0;
}
