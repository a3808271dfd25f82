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
    const struct fat_volume *v;
    uint32_t free;
    uint32_t invalid;        /* entries that are none of the valid kinds */
    uint32_t first_invalid;  /* cluster of the first one */
};

static int census_cb(void *arg, uint32_t cluster, uint32_t val)
{
    struct census *c = arg;
    if (val == 0) {
        c->free++;
    } else if (!fat_in_range(c->v, val) && val != c->v->bad_mark && !fat_is_eoc(c->v, val)) {
        if (!c->invalid++)
            c->first_invalid = cluster;
    }
    return 0;
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
    struct census c = { .v = v };
    if (fat_scan(v, 2, v->max_cluster, census_cb, &c, err) < 0)
        return -1;
    v->free_known = true;
    v->free_clusters = c.free;
    if (v->num_fats < 2)
        return 0;
    /* Compare before judging: an invalid entry in identical copies is left
     * to the chain checks of the operation that meets it. */
    uint8_t *first = malloc((size_t)CHUNK * SECTOR), *other = malloc((size_t)CHUNK * SECTOR);
    int rc = first && other ? 0 : fat_oom(err);
    bool differ = false;
    for (uint32_t k = 1; rc == 0 && !differ && k < v->num_fats; k++)
        for (uint32_t sec = 0; rc == 0 && !differ && sec < v->fat_sectors; sec += CHUNK) {
            uint32_t n = v->fat_sectors - sec < CHUNK ? v->fat_sectors - sec : CHUNK;
            rc = cache_read_range(v, v->fat_start + sec, n, first, err);
            if (rc == 0)
                rc = vol_read(v, v->fat_start + k * v->fat_sectors + sec, n, other, err);
            differ = rc == 0 && memcmp(first, other, (size_t)n * SECTOR) != 0;
        }
    free(first);
    free(other);
    if (rc < 0 || !differ)
        return rc;
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
