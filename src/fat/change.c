/* What a mount does before its first change and when it syncs.
 *
 * Before the first change: FAT copies left different by a cut write are
 * brought up to date from the first copy (mirror.c), then FSInfo's free
 * count is set to "unknown" on the card, so that a cut anywhere later leaves
 * no wrong count behind (fsck.fat accepts an unknown one).  The true count
 * and next-free hint go back at sync.  That is one extra sector write per
 * mount that changes the card, not one per file.
 */
#include "fat/fat_priv.h"

#define FSINFO_UNKNOWN 0xFFFFFFFFu
#define FSI_FREE 488u
#define FSI_NEXT 492u

/* FAT12/16 have no stored count to trust, and an unknown FAT32 count is what
 * an interrupted change leaves: then compare the copies in full (which also
 * counts the free clusters).  Otherwise the copies are compared where a
 * change writes (fat_check_copies). */
static bool full_check_needed(const struct fat_volume *v)
{
    return v->type != FAT_TYPE_32 || !v->fsinfo_ok || v->fsinfo_free > v->cluster_count;
}

static int fsinfo_invalidate(struct fat_volume *v, struct mf_err *err)
{
    const uint8_t *cur;
    if (cache_read(v, v->fsinfo_sector, &cur, err) < 0)
        return -1;
    if (get32(cur + FSI_FREE) == FSINFO_UNKNOWN)
        return 0;
    uint8_t *s;
    if (cache_modify(v, v->fsinfo_sector, SK_FSINFO, &s, err) < 0)
        return -1;
    put32(s + FSI_FREE, FSINFO_UNKNOWN);
    return cache_flush(v, err);
}

int change_begin(struct fat_volume *v, struct mf_err *err)
{
    if (!v->copies_checked) {
        if (full_check_needed(v) && fat_mirror_check(v, err) < 0)
            return -1;
        v->copies_checked = true;
    }
    if (v->fsinfo_ok && !v->fsinfo_open) {
        if (fsinfo_invalidate(v, err) < 0)
            return cache_settle(v, -1);
        v->fsinfo_open = true;
    }
    return 0;
}

void fsinfo_account(struct fat_volume *v, uint32_t allocated, uint32_t freed, uint32_t last_alloc)
{
    if (v->free_known)
        v->free_clusters = v->free_clusters - allocated + freed;
    if (last_alloc) {
        v->alloc_hint = last_alloc + 1 > v->max_cluster ? 2 : last_alloc + 1;
        v->hint_moved = true;
    }
    if (v->fsinfo_free <= v->cluster_count) {
        /* A valid count stays exact; one that would not add up becomes unknown. */
        uint64_t now = (uint64_t)v->fsinfo_free + freed;
        v->fsinfo_free = now >= allocated && now - allocated <= v->cluster_count
                             ? (uint32_t)(now - allocated) : FSINFO_UNKNOWN;
    }
}

int change_settle(struct fat_volume *v, struct mf_err *err)
{
    if (!v->fsinfo_open || v->broken)
        return 0;
    uint32_t count = v->free_known ? v->free_clusters : v->fsinfo_free;
    uint8_t *s;
    if (cache_modify(v, v->fsinfo_sector, SK_FSINFO, &s, err) < 0)
        return -1;
    put32(s + FSI_FREE, count);
    if (v->hint_moved)
        put32(s + FSI_NEXT, v->alloc_hint);
    if (cache_flush(v, err) < 0)
        return -1;
    v->fsinfo_free = count;
    v->fsinfo_open = false;
    return 0;
}

uint32_t fat_copies_resynced(const struct fat_volume *vol)
{
    return vol->copies_resynced;
}
