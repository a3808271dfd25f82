/* Keeping the FAT copies mirrored after a write that was cut short.
 *
 * Every writer (this engine, Linux, Windows) changes a FAT sector in the
 * first copy before the others, so copies that differ while every entry of
 * the first copy is valid are a write cut between the two: the first copy is
 * the truth, as fsck.fat also decides.  A first copy holding an invalid entry
 * is damage, and the card is refused.
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

/* Overwrite the differing sectors of copy k with the first copy's. */
static int mirror_copy(struct fat_volume *v, uint32_t k, uint32_t *differing, struct mf_err *err)
{
    uint8_t *first = malloc((size_t)CHUNK * SECTOR), *other = malloc((size_t)CHUNK * SECTOR);
    int rc = first && other ? 0 : fat_oom(err);
    uint32_t copy_start = v->fat_start + k * v->fat_sectors;
    for (uint32_t sec = 0; rc == 0 && sec < v->fat_sectors; sec += CHUNK) {
        uint32_t n = v->fat_sectors - sec < CHUNK ? v->fat_sectors - sec : CHUNK;
        rc = cache_read_range(v, v->fat_start + sec, n, first, err);
        if (rc == 0)
            rc = vol_read(v, copy_start + sec, n, other, err);
        for (uint32_t i = 0; rc == 0 && i < n; i++) {
            const uint8_t *want = first + (size_t)i * SECTOR;
            if (memcmp(want, other + (size_t)i * SECTOR, SECTOR) == 0)
                continue;
            ++*differing;
            cache_forget(v, copy_start + sec + i, 1);
            rc = vol_write(v, copy_start + sec + i, 1, want, err);
        }
    }
    free(first);
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
    uint32_t differing = 0;
    for (uint32_t k = 1; k < v->num_fats; k++)
        if (mirror_copy(v, k, &differing, err) < 0)
            return -1;
    v->copies_resynced += differing;
    return 0;
}
