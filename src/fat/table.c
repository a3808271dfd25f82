/* FAT entries: 12-bit (packed, may straddle sectors), 16-bit, 32-bit (low
 * 28 bits; the top 4 are preserved on write).  Reads use the active copy,
 * writes change the cached first-copy sector, which cache.c mirrors. */
#include "fat/fat_priv.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static uint32_t entry_offset(const struct fat_volume *v, uint32_t cluster)
{
    switch (v->type) {
    case FAT_TYPE_12: return cluster + cluster / 2;
    case FAT_TYPE_16: return cluster * 2;
    default: return cluster * 4;
    }
}

static uint32_t read_copy_start(const struct fat_volume *v)
{
    return v->fat_start + v->read_fat * v->fat_sectors;
}

static int fat_byte(struct fat_volume *v, uint32_t off, uint8_t *out, struct mf_err *err)
{
    const uint8_t *s;
    if (cache_read(v, read_copy_start(v) + off / SECTOR, &s, err) < 0)
        return -1;
    *out = s[off % SECTOR];
    return 0;
}

int fat_get(struct fat_volume *v, uint32_t cluster, uint32_t *val, struct mf_err *err)
{
    uint32_t off = entry_offset(v, cluster);
    if (v->type == FAT_TYPE_12) {
        uint8_t lo, hi;
        if (fat_byte(v, off, &lo, err) < 0 || fat_byte(v, off + 1, &hi, err) < 0)
            return -1;
        uint32_t w = (uint32_t)lo | (uint32_t)hi << 8;
        *val = (cluster & 1) ? w >> 4 : w & 0xFFF;
        return 0;
    }
    const uint8_t *s;
    if (cache_read(v, read_copy_start(v) + off / SECTOR, &s, err) < 0)
        return -1;
    *val = v->type == FAT_TYPE_16 ? get16(s + off % SECTOR) : get32(s + off % SECTOR) & 0x0FFFFFFF;
    return 0;
}

static int set_byte(struct fat_volume *v, uint32_t off, uint8_t mask, uint8_t bits, struct mf_err *err)
{
    uint8_t *s;
    if (cache_modify(v, v->fat_start + off / SECTOR, SK_FAT, &s, err) < 0)
        return -1;
    s[off % SECTOR] = (uint8_t)((s[off % SECTOR] & ~mask) | (bits & mask));
    return 0;
}

int fat_set(struct fat_volume *v, uint32_t cluster, uint32_t val, struct mf_err *err)
{
    uint32_t off = entry_offset(v, cluster);
    if (v->type == FAT_TYPE_12) {
        val &= 0xFFF;
        if (cluster & 1)
            return set_byte(v, off, 0xF0, (uint8_t)(val << 4), err) < 0 ||
                           set_byte(v, off + 1, 0xFF, (uint8_t)(val >> 4), err) < 0
                       ? -1 : 0;
        return set_byte(v, off, 0xFF, (uint8_t)val, err) < 0 ||
                       set_byte(v, off + 1, 0x0F, (uint8_t)(val >> 8), err) < 0
                   ? -1 : 0;
    }
    uint8_t *s;
    if (cache_modify(v, v->fat_start + off / SECTOR, SK_FAT, &s, err) < 0)
        return -1;
    uint8_t *p = s + off % SECTOR;
    if (v->type == FAT_TYPE_16)
        put16(p, (uint16_t)val);
    else
        put32(p, (get32(p) & 0xF0000000u) | (val & 0x0FFFFFFFu));
    return 0;
}

/* FAT12 tables are small (at most 12 sectors): decode them from one buffer. */
static int scan12(struct fat_volume *v, uint32_t first, uint32_t last, fat_scan_fn fn, void *ctx,
                  struct mf_err *err)
{
    uint32_t bytes = v->fat_sectors * SECTOR;
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return fat_oom(err);
    int rc = cache_read_range(v, read_copy_start(v), v->fat_sectors, buf, err);
    for (uint32_t c = first; rc == 0 && c <= last; c++) {
        uint32_t off = c + c / 2;
        uint32_t w = buf[off] | (uint32_t)buf[off + 1] << 8;
        if (fn(ctx, c, (c & 1) ? w >> 4 : w & 0xFFF))
            break;
    }
    free(buf);
    return rc;
}

int fat_scan(struct fat_volume *v, uint32_t first, uint32_t last, fat_scan_fn fn, void *ctx,
             struct mf_err *err)
{
    if (first > last)
        return 0;
    if (v->type == FAT_TYPE_12)
        return scan12(v, first, last, fn, ctx, err);
    enum { CHUNK = 32 };
    static_assert(CHUNK * SECTOR % 4 == 0, "whole entries per chunk");
    uint8_t *buf = malloc(CHUNK * SECTOR);
    if (!buf)
        return fat_oom(err);
    uint32_t width = v->type == FAT_TYPE_16 ? 2 : 4;
    uint32_t per_sector = SECTOR / width;
    int rc = 0;
    uint32_t c = first;
    /* Most scans stop early (an allocation near the next-free hint), and a
     * sector read costs milliseconds over an MCU: start with one sector and
     * double up to CHUNK. */
    uint32_t chunk = 1;
    while (c <= last && rc == 0) {
        uint32_t sec = c / per_sector;
        uint32_t n = v->fat_sectors - sec < chunk ? v->fat_sectors - sec : chunk;
        chunk = chunk * 2 < CHUNK ? chunk * 2 : CHUNK;
        if (cache_read_range(v, read_copy_start(v) + sec, n, buf, err) < 0) {
            rc = -1;
            break;
        }
        uint32_t end = (sec + n) * per_sector;  /* first cluster past this chunk */
        for (; c <= last && c < end; c++) {
            const uint8_t *p = buf + (size_t)(c - sec * per_sector) * width;
            uint32_t val = width == 2 ? get16(p) : get32(p) & 0x0FFFFFFF;
            if (fn(ctx, c, val)) {
                free(buf);
                return 0;
            }
        }
    }
    free(buf);
    return rc;
}

static int count_free_cb(void *ctx, uint32_t cluster, uint32_t val)
{
    (void)cluster;
    if (val == 0)
        ++*(uint32_t *)ctx;
    return 0;
}

int fat_count_free(struct fat_volume *v, uint32_t *out, struct mf_err *err)
{
    uint32_t n = 0;
    if (fat_scan(v, 2, v->max_cluster, count_free_cb, &n, err) < 0)
        return -1;
    v->free_known = true;
    v->free_clusters = n;
    *out = n;
    return 0;
}

static int copies_equal(struct fat_volume *v, uint32_t sec, bool *equal, struct mf_err *err)
{
    const uint8_t *first;
    uint8_t other[SECTOR];
    *equal = true;
    for (uint32_t k = 1; k < v->num_fats && *equal; k++) {
        if (vol_read(v, v->fat_start + k * v->fat_sectors + sec, 1, other, err) < 0)
            return -1;
        if (cache_read(v, v->fat_start + sec, &first, err) < 0)
            return -1;
        *equal = memcmp(first, other, SECTOR) == 0;
    }
    return 0;
}

/* A difference is a cut write if the first copy is intact: mirror it once. */
static int compare_copies(struct fat_volume *v, uint32_t sec, struct mf_err *err)
{
    bool equal;
    if (copies_equal(v, sec, &equal, err) < 0)
        return -1;
    if (equal)
        return 0;
    if (fat_mirror_check(v, err) < 0 || copies_equal(v, sec, &equal, err) < 0)
        return -1;
    return equal ? 0 : fat_damaged(err, "its FAT copies differ in FAT sector %u", sec);
}

int fat_check_copies(struct fat_volume *v, const struct extents *clusters, struct mf_err *err)
{
    uint32_t last_checked = UINT32_MAX;
    for (uint32_t i = 0; i < clusters->n; i++) {
        const struct extent *x = &clusters->v[i];
        uint32_t lo = entry_offset(v, x->start) / SECTOR;
        /* The last entry's final byte decides the last sector (FAT12 straddles). */
        uint32_t width = v->type == FAT_TYPE_12 ? 1 : (v->type == FAT_TYPE_16 ? 1 : 3);
        uint32_t hi = (entry_offset(v, x->start + x->count - 1) + width) / SECTOR;
        if (hi >= v->fat_sectors)
            hi = v->fat_sectors - 1;
        for (uint32_t sec = lo; sec <= hi; sec++) {
            if (sec == last_checked)
                continue;
            if (compare_copies(v, sec, err) < 0)
                return -1;
            last_checked = sec;
        }
    }
    return 0;
}
