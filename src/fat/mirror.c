/* Keeping the FAT copies mirrored after a write that was cut short.
 *
 * Copies that differ are a write cut between them.  This engine writes the
 * first copy first, and fsck.fat takes the first copy too, so it is the
 * base; but other writers do not promise that order (Linux may flush the
 * second copy first), so a cluster the first copy calls free while another
 * copy has it in use stays in use: no file's cluster is ever handed out
 * again, at worst one stays allocated that no file uses (fsck.fat reclaims
 * it).  An invalid entry in the first copy is damage, and the card is
 * refused with nothing written.
 */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

#define CHUNK 32u  /* FAT sectors compared per read */

struct census {
    uint32_t free;
    uint32_t invalid;        /* entries that are none of the valid kinds */
    uint32_t first_invalid;  /* cluster of the first one */
};

static void census_add(const struct fat_volume *v, struct census *c, uint32_t cluster, uint32_t val)
{
    if (val == 0)
        c->free++;
    else if (!fat_in_range(v, val) && val != v->bad_mark && !fat_is_eoc(v, val) && !c->invalid++)
        c->first_invalid = cluster;
}

/* The entries of clusters 2..max_cluster held in FAT sectors [sec, sec+n)
 * (buf).  A FAT12 FAT's entries all fit in its first chunk, so none
 * straddles two reads. */
static void census_chunk(const struct fat_volume *v, struct census *c, const uint8_t *buf, uint32_t sec,
                         uint32_t n)
{
    if (v->type == FAT_TYPE_12) {
        for (uint32_t cl = 2; cl <= v->max_cluster; cl++) {
            uint32_t off = cl + cl / 2;
            uint32_t w = (uint32_t)buf[off] | (uint32_t)buf[off + 1] << 8;
            census_add(v, c, cl, (cl & 1) ? w >> 4 : w & 0xFFF);
        }
        return;
    }
    uint32_t width = v->type == FAT_TYPE_16 ? 2 : 4, per_sector = SECTOR / width;
    uint32_t first = sec * per_sector, end = (sec + n) * per_sector;
    for (uint32_t cl = first < 2 ? 2 : first; cl < end && cl <= v->max_cluster; cl++) {
        const uint8_t *p = buf + (size_t)(cl - first) * width;
        census_add(v, c, cl, width == 2 ? get16(p) : get32(p) & 0x0FFFFFFF);
    }
}

/* Entry i of a FAT buffer (FAT12: i is the cluster, buf the whole FAT;
 * FAT16/32: i counts from the buffer's first entry). */
static uint32_t entry_get(const struct fat_volume *v, const uint8_t *buf, uint32_t i)
{
    if (v->type == FAT_TYPE_12) {
        uint32_t w = get16(buf + i + i / 2);
        return (i & 1) ? w >> 4 : w & 0xFFF;
    }
    return v->type == FAT_TYPE_16 ? get16(buf + (size_t)i * 2) : get32(buf + (size_t)i * 4) & 0x0FFFFFFF;
}

static void entry_put(const struct fat_volume *v, uint8_t *buf, uint32_t i, uint32_t val)
{
    if (v->type == FAT_TYPE_12) {
        uint8_t *p = buf + i + i / 2;
        uint32_t w = get16(p);
        w = (i & 1) ? (w & 0x000F) | val << 4 : (w & 0xF000) | val;
        put16(p, (uint16_t)w);
    } else if (v->type == FAT_TYPE_16) {
        put16(buf + (size_t)i * 2, (uint16_t)val);
    } else {
        uint8_t *p = buf + (size_t)i * 4;
        put32(p, (get32(p) & 0xF0000000u) | val); /* the top 4 bits are reserved: kept */
    }
}

/* Merge other into merged for the clusters held in FAT sectors
 * [sec, sec+n): a cluster free in merged but in use in other (a valid link
 * or end of chain) takes other's entry.  Returns how many did. */
static uint32_t merge_chunk(const struct fat_volume *v, uint8_t *merged, const uint8_t *other, uint32_t sec,
                            uint32_t n)
{
    uint32_t first = 0, lo = 2, hi = v->max_cluster + 1;
    if (v->type == FAT_TYPE_12 && sec != 0)
        return 0; /* every FAT12 entry is in the first chunk; the rest is unused */
    if (v->type != FAT_TYPE_12) {
        uint32_t per_sector = SECTOR / (v->type == FAT_TYPE_16 ? 2 : 4);
        first = sec * per_sector;
        lo = first < 2 ? 2 : first;
        hi = (sec + n) * per_sector < hi ? (sec + n) * per_sector : hi;
    }
    uint32_t taken = 0;
    for (uint32_t cl = lo; cl < hi; cl++) {
        uint32_t a = entry_get(v, merged, cl - first), b = entry_get(v, other, cl - first);
        if (a == 0 && b != 0 && (fat_in_range(v, b) || fat_is_eoc(v, b))) {
            entry_put(v, merged, cl - first, b);
            taken++;
        }
    }
    return taken;
}

/* One pass over the FAT in chunks: the copies merged into the first, and
 * every sector of a copy that differs from the merge written. */
static int merge_copies(struct fat_volume *v, uint32_t chunk, uint32_t *taken, uint32_t *written,
                        struct mf_err *err)
{
    size_t bytes = (size_t)chunk * SECTOR;
    uint8_t *merged = malloc(bytes), *other = malloc(bytes);
    int rc = merged && other ? 0 : fat_oom(err);
    for (uint32_t sec = 0; rc == 0 && sec < v->fat_sectors; sec += chunk) {
        uint32_t n = v->fat_sectors - sec < chunk ? v->fat_sectors - sec : chunk;
        rc = vol_read(v, v->fat_start + sec, n, merged, err);
        for (uint32_t k = 1; rc == 0 && k < v->num_fats; k++) {
            rc = vol_read(v, v->fat_start + k * v->fat_sectors + sec, n, other, err);
            if (rc == 0)
                *taken += merge_chunk(v, merged, other, sec, n);
        }
        for (uint32_t k = 0; rc == 0 && k < v->num_fats; k++) {
            uint32_t start = v->fat_start + k * v->fat_sectors + sec;
            rc = vol_read(v, start, n, other, err);
            for (uint32_t i = 0; rc == 0 && i < n; i++) {
                const uint8_t *want = merged + (size_t)i * SECTOR;
                if (memcmp(want, other + (size_t)i * SECTOR, SECTOR) == 0)
                    continue;
                ++*written;
                cache_forget(v, start + i, 1);
                rc = vol_write(v, start + i, 1, want, err);
            }
        }
    }
    free(merged);
    free(other);
    return rc;
}

int fat_mirror_check(struct fat_volume *v, struct mf_err *err)
{
    /* One pass: the first copy whole (the census), the others until they
     * first differ.  Nothing is written before the census is complete. */
    uint32_t fat12_bytes = v->max_cluster + v->max_cluster / 2 + 2;  /* what mount checked fits */
    uint32_t chunk = v->type == FAT_TYPE_12 ? (fat12_bytes + SECTOR - 1) / SECTOR : CHUNK;
    uint8_t *first = malloc((size_t)chunk * SECTOR), *other = malloc((size_t)chunk * SECTOR);
    int rc = first && other ? 0 : fat_oom(err);
    struct census c = { 0 };
    bool differ = false;
    for (uint32_t sec = 0; rc == 0 && sec < v->fat_sectors; sec += chunk) {
        uint32_t n = v->fat_sectors - sec < chunk ? v->fat_sectors - sec : chunk;
        rc = cache_read_range(v, v->fat_start + sec, n, first, err);
        if (rc < 0)
            break;
        if (v->type != FAT_TYPE_12 || sec == 0)
            census_chunk(v, &c, first, sec, n);
        for (uint32_t k = 1; rc == 0 && !differ && k < v->num_fats; k++) {
            rc = vol_read(v, v->fat_start + k * v->fat_sectors + sec, n, other, err);
            differ = rc == 0 && memcmp(first, other, (size_t)n * SECTOR) != 0;
        }
    }
    free(first);
    free(other);
    if (rc < 0)
        return -1;
    v->free_known = true;
    v->free_clusters = c.free;
    if (!differ)
        return 0;
    /* An invalid entry in identical copies is left to the chain checks of
     * the operation that meets it; with differing copies it is damage. */
    if (c.invalid)
        return fat_damaged(err, "its FAT copies differ and the first copy holds %u invalid entr%s "
                           "(the first at cluster %u)", c.invalid, c.invalid == 1 ? "y" : "ies",
                           c.first_invalid);
    uint32_t taken = 0, written = 0;
    if (merge_copies(v, chunk, &taken, &written, err) < 0)
        return -1;
    v->free_clusters -= taken < v->free_clusters ? taken : v->free_clusters;
    v->copies_resynced += written;
    return 0;
}
