/* The application in flash: the reset-time view of its vector table, the
 * dictionary inside it, and the small image a fresh board carries. */
#include "appimage.h"

#include <stdlib.h>
#include <string.h>

#include "dictgen.h"
#include "firmware/image.h"
#include "klipper/dict.h"

#define VECTOR_TABLE 256   /* 64 vectors */
#define CODE_BYTES 256

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static const uint8_t *app_bytes(const struct sim_flash *f)
{
    return f->mem + (f->app_base - f->mem_base);
}

bool app_present(const struct sim_flash *f)
{
    uint32_t w0 = get_le32(app_bytes(f));
    return w0 != 0 && w0 != 0xffffffffu;
}

enum app_outcome app_start(const struct sim_flash *f, uint32_t ram_lo, uint32_t ram_top, char **dict,
                           size_t *len)
{
    *dict = NULL;
    *len = 0;
    uint32_t extent = flash_app_extent(f);
    const uint8_t *app = app_bytes(f);
    if (extent < 8)
        return APP_CRASHES;
    /* The core loads SP from word 0 and jumps to word 1: a thumb address
     * inside what was written at or above the application start. */
    uint32_t sp = get_le32(app), reset = get_le32(app + 4);
    uint32_t entry = reset & ~1u;
    if (sp <= ram_lo || sp > ram_top || sp & 3 || !(reset & 1) || entry < f->app_base ||
        entry >= f->app_base + extent)
        return APP_CRASHES;
    struct fw_dict_info info;
    struct mf_err err = { 0 };
    if (fw_find_dict(app, extent, &info, &err) < 0)
        return APP_NOT_KLIPPER;
    size_t used;
    enum app_outcome out = APP_NOT_KLIPPER;
    if (info.status == FW_DICT_FOUND &&
        kl_zlib_inflate(app + info.offset, extent - info.offset, dict, len, &used) == 0)
        out = APP_KLIPPER;
    fw_dict_info_free(&info);
    return out;
}

int app_image_build(uint8_t *dst, size_t room, uint32_t app_base, uint32_t ram_top, const char *dict, size_t len)
{
    uint8_t *z;
    size_t zlen;
    if (sim_zlib_compress(dict, len, &z, &zlen) < 0)
        return -1;
    if (VECTOR_TABLE + CODE_BYTES + zlen > room) {
        free(z);
        return -1;
    }
    put_le32(dst, ram_top);
    for (unsigned v = 1; v < VECTOR_TABLE / 4; v++)
        put_le32(dst + 4 * v, (app_base + VECTOR_TABLE + 4 * v) | 1);
    for (unsigned i = 0; i < CODE_BYTES; i++)
        dst[VECTOR_TABLE + i] = (uint8_t)(0x70 + i % 16); /* never erased-looking */
    memcpy(dst + VECTOR_TABLE + CODE_BYTES, z, zlen);
    free(z);
    return 0;
}
