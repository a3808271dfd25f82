/* Write-back cache for metadata sectors (FAT, directories, FSInfo).
 *
 * Dirty sectors are written back strictly in the order they were first
 * modified, and a FAT sector goes to the first FAT and then to each other
 * copy before the next sector.  Operations flush at every phase boundary of
 * the safe write order (data, FAT, directory), so this order is the
 * order of docs/fat.md.  File data never passes through the cache.
 */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

int vol_read(struct fat_volume *v, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    if (lba > v->vol_sectors || count > v->vol_sectors - lba)
        return fat_damaged(err, "it refers to sector %u, beyond the end of the volume", lba);
    return blockdev_read(v->bd, v->part_lba + lba, count, buf, err);
}

int vol_write(struct fat_volume *v, uint32_t lba, uint32_t count, const uint8_t *buf,
              struct mf_err *err)
{
    if (v->broken)
        return mf_fail(err, MF_E_CARD,
                       "An earlier write to the card failed, so nothing more was written; "
                       "check the card with fsck.fat or chkdsk before using it again.");
    if (lba > v->vol_sectors || count > v->vol_sectors - lba)
        return fat_damaged(err, "a write would go to sector %u, beyond the end of the volume", lba);
    if (blockdev_write(v->bd, v->part_lba + lba, count, buf, err) < 0) {
        /* What reached the card is unknown now: stop writing, trust only the card. */
        v->broken = true;
        cache_discard(v);
        return -1;
    }
    return 0;
}

static struct cache_slot *find_slot(struct fat_volume *v, uint32_t lba)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (v->cache[i].valid && v->cache[i].lba == lba)
            return &v->cache[i];
    return NULL;
}

static struct cache_slot *victim_slot(struct fat_volume *v)
{
    struct cache_slot *best = NULL;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        struct cache_slot *s = &v->cache[i];
        if (!s->valid)
            return s;
        if (!s->dirty && (!best || s->last_use < best->last_use))
            best = s;
    }
    return best;
}

static int write_slot(struct fat_volume *v, struct cache_slot *s, struct mf_err *err)
{
    if (vol_write(v, s->lba, 1, s->data, err) < 0)
        return -1;
    if (s->kind == SK_FAT)
        for (uint32_t k = 1; k < v->num_fats; k++)
            if (vol_write(v, s->lba + k * v->fat_sectors, 1, s->data, err) < 0)
                return -1;
    s->dirty = false;
    return 0;
}

int cache_flush(struct fat_volume *v, struct mf_err *err)
{
    for (;;) {
        struct cache_slot *next = NULL;
        for (unsigned i = 0; i < CACHE_SLOTS; i++) {
            struct cache_slot *s = &v->cache[i];
            if (s->valid && s->dirty && (!next || s->dirty_seq < next->dirty_seq))
                next = s;
        }
        if (!next)
            return 0;
        if (write_slot(v, next, err) < 0)
            return -1;
    }
}

bool cache_has_dirty(const struct fat_volume *v)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        if (v->cache[i].valid && v->cache[i].dirty)
            return true;
    return false;
}

static int load_slot(struct fat_volume *v, uint32_t lba, struct cache_slot **out, struct mf_err *err)
{
    struct cache_slot *s = find_slot(v, lba);
    if (!s) {
        s = victim_slot(v);
        if (!s) {
            /* Every slot dirty: write them all back, in order. */
            if (cache_flush(v, err) < 0)
                return -1;
            s = victim_slot(v);
        }
        s->valid = false;
        if (vol_read(v, lba, 1, s->data, err) < 0)
            return -1;
        s->lba = lba;
        s->valid = true;
        s->dirty = false;
        s->kind = 0;
    }
    s->last_use = ++v->cache_tick;
    *out = s;
    return 0;
}

int cache_read(struct fat_volume *v, uint32_t lba, const uint8_t **out, struct mf_err *err)
{
    struct cache_slot *s;
    if (load_slot(v, lba, &s, err) < 0)
        return -1;
    *out = s->data;
    return 0;
}

int cache_modify(struct fat_volume *v, uint32_t lba, enum sector_kind kind, uint8_t **out,
                 struct mf_err *err)
{
    struct cache_slot *s;
    if (load_slot(v, lba, &s, err) < 0)
        return -1;
    if (!s->dirty) {
        s->dirty = true;
        s->dirty_seq = ++v->cache_seq;
    }
    s->kind = (uint8_t)kind;
    *out = s->data;
    return 0;
}

int cache_read_range(struct fat_volume *v, uint32_t lba, uint32_t count, uint8_t *buf,
                     struct mf_err *err)
{
    uint32_t cached = 0;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        const struct cache_slot *s = &v->cache[i];
        if (s->valid && s->lba >= lba && s->lba - lba < count)
            cached++;
    }
    /* A sector read costs milliseconds over an MCU: none when all are here. */
    if (cached < count && vol_read(v, lba, count, buf, err) < 0)
        return -1;
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        const struct cache_slot *s = &v->cache[i];
        if (s->valid && s->lba >= lba && s->lba - lba < count)
            memcpy(buf + (size_t)(s->lba - lba) * SECTOR, s->data, SECTOR);
    }
    return 0;
}

void cache_forget(struct fat_volume *v, uint32_t lba, uint32_t count)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++) {
        struct cache_slot *s = &v->cache[i];
        if (s->valid && s->lba >= lba && s->lba - lba < count)
            s->valid = false;
    }
}

int cache_settle(struct fat_volume *v, int rc)
{
    if (rc < 0)
        for (unsigned i = 0; i < CACHE_SLOTS; i++)
            if (v->cache[i].dirty)
                v->cache[i].valid = false;
    return rc;
}

void cache_discard(struct fat_volume *v)
{
    for (unsigned i = 0; i < CACHE_SLOTS; i++)
        v->cache[i].valid = false;
}
