/* Directories: raw iteration, whole-directory scans, and where new entries go.
 *
 * Reading stops at the first never-used entry (name byte 0x00), as FatFs and
 * the board bootloaders do.  New entries reuse deleted slots or go at that end
 * marker; entries of one name are kept inside one sector when possible, so
 * publishing a name is a single sector write.
 */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

static uint32_t entries_per_cluster(const struct fat_volume *v) { return v->cluster_bytes / DIRENT; }

uint32_t root_cluster_of(const struct fat_volume *v)
{
    return v->type == FAT_TYPE_32 ? v->root_cluster : 0;
}

void dir_iter_start(struct fat_volume *v, uint32_t first_cluster, struct dir_iter *it)
{
    memset(it, 0, sizeof(*it));
    it->v = v;
    it->first_cluster = first_cluster;
    it->cluster = first_cluster;
    it->clusters_seen = first_cluster ? 1 : 0;
}

/* Failures here and in dir_locate return a literal -1 rather than the error
 * helper's result, so optimizing compilers see that callers never read the
 * outputs of a failed call. */
int dir_iter_next(struct dir_iter *it, uint8_t ent[DIRENT], uint32_t *ordinal, struct mf_err *err)
{
    struct fat_volume *v = it->v;
    if (it->at_end)
        return 0;
    uint32_t lba;
    if (it->first_cluster == 0) {
        if (it->ordinal >= v->root_entries) {
            it->at_end = true;
            return 0;
        }
        lba = v->root_start + it->ordinal / ENTRIES_PER_SECTOR;
    } else {
        if (it->ordinal == 0 && !fat_in_range(v, it->cluster)) {
            fat_damaged(err, "a directory starts at cluster %u, outside the volume", it->cluster);
            return -1;
        }
        uint32_t epc = entries_per_cluster(v);
        uint32_t idx = it->ordinal % epc;
        if (it->ordinal > 0 && idx == 0) {
            uint32_t next;
            if (chain_next(v, it->cluster, &next, "a directory", err) < 0)
                return -1;
            if (next == 0) {
                it->at_end = true;
                return 0;
            }
            if (++it->clusters_seen > dir_cluster_limit(v)) {
                fat_damaged(err, "the cluster chain of a directory loops or is too long");
                return -1;
            }
            it->cluster = next;
        }
        lba = cluster_lba(v, it->cluster) + idx / ENTRIES_PER_SECTOR;
    }
    const uint8_t *s;
    if (cache_read(v, lba, &s, err) < 0)
        return -1;
    memcpy(ent, s + (it->ordinal % ENTRIES_PER_SECTOR) * DIRENT, DIRENT);
    it->lba = lba;
    *ordinal = it->ordinal++;
    return 1;
}

int dir_next_rec(struct dir_iter *it, struct lfn_state *st, struct dir_rec *rec, struct mf_err *err)
{
    for (;;) {
        uint32_t ord;
        int r = dir_iter_next(it, rec->sfn, &ord, err);
        if (r <= 0)
            return r;
        if (rec->sfn[0] == 0) {
            it->at_end = true;
            return 0;
        }
        if (rec->sfn[0] == ENTRY_FREE) {
            lfn_reset(st);
        } else if (ent_is_lfn(rec->sfn)) {
            lfn_feed(st, rec->sfn, ord);
        } else {
            rec->sfn_ord = ord;
            rec->first = ord;
            rec->lfn_len = lfn_take(st, rec->sfn, rec->lfn, &rec->first);
            return 1;
        }
    }
}

/* ---- whole-directory scan ---- */

static int add_name(struct dir_scan *s, const uint8_t *sfn, struct mf_err *err)
{
    if (s->nnames == s->names_cap) {
        uint32_t cap = s->names_cap ? s->names_cap * 2 : 64;
        void *nv = realloc(s->names, cap * sizeof(*s->names));
        if (!nv)
            return fat_oom(err);
        s->names = nv;
        s->names_cap = cap;
    }
    memcpy(s->names[s->nnames++], sfn, 11);
    return 0;
}

static int cmp_name(const void *a, const void *b) { return memcmp(a, b, 11); }

static bool rec_matches(const struct dir_rec *rec, const uint16_t *q, uint32_t qlen)
{
    if (rec->lfn_len && name_equal_ci(rec->lfn, rec->lfn_len, q, qlen))
        return true;
    uint16_t u[12];
    uint32_t n = sfn_to_utf16(rec->sfn, false, u);
    return name_equal_ci(u, n, q, qlen);
}

int dir_locate(const struct fat_volume *v, const struct dir_scan *s, uint32_t ordinal, uint32_t *lba,
               uint32_t *offset, struct mf_err *err)
{
    *offset = (ordinal % ENTRIES_PER_SECTOR) * DIRENT;
    if (s->cluster == 0) {
        *lba = v->root_start + ordinal / ENTRIES_PER_SECTOR;
        return 0;
    }
    uint32_t epc = entries_per_cluster(v);
    uint32_t ci = ordinal / epc;
    if (ci >= s->chain.clusters) {
        mf_fail(err, MF_E_FAIL, "Internal error: directory entry %u is outside the directory; "
                "nothing was changed.", ordinal);
        return -1;
    }
    *lba = cluster_lba(v, ext_cluster_at(&s->chain, ci)) + (ordinal % epc) / ENTRIES_PER_SECTOR;
    return 0;
}

static void scan_entry(struct dir_scan *s, struct lfn_state *st, struct dir_rec *rec, const uint8_t *e,
                       uint32_t ord, const uint16_t *query, uint32_t qlen, uint32_t ignore, int *rc,
                       struct mf_err *err)
{
    if (e[0] == ENTRY_FREE) {
        s->free_map[ord] = 1;
        lfn_reset(st);
        return;
    }
    if (ent_is_lfn(e)) {
        lfn_feed(st, e, ord);
        return;
    }
    memcpy(rec->sfn, e, DIRENT);
    rec->sfn_ord = ord;
    rec->first = ord;
    rec->lfn_len = lfn_take(st, e, rec->lfn, &rec->first);
    if (ent_is_dot(e) || ord == ignore)
        return;
    if (add_name(s, e, err) < 0) {
        *rc = -1;
        return;
    }
    if (e[11] & FAT_ATTR_VOLUME_ID)
        return;
    s->live++;
    if (query && !s->found && rec_matches(rec, query, qlen)) {
        s->found = true;
        s->match = *rec;
    }
}

int dir_scan(struct fat_volume *v, uint32_t cluster, const uint16_t *query, uint32_t qlen,
             uint32_t ignore, struct dir_scan *s, struct mf_err *err)
{
    memset(s, 0, sizeof(*s));
    s->cluster = cluster;
    if (cluster) {
        if (chain_collect(v, cluster, dir_cluster_limit(v), &s->chain, "a directory", err) < 0)
            return -1;
        s->entries = s->chain.clusters * entries_per_cluster(v);
    } else {
        s->entries = v->root_entries;
    }
    if (s->entries > DIR_MAX_ENTRIES)
        s->entries = DIR_MAX_ENTRIES;
    s->free_map = calloc(s->entries ? s->entries : 1, 1);
    struct dir_rec *rec = malloc(sizeof(*rec));
    struct lfn_state *st = malloc(sizeof(*st));
    if (!s->free_map || !rec || !st) {
        free(rec);
        free(st);
        return fat_oom(err);
    }
    lfn_reset(st);
    s->end = s->entries;
    int rc = 0;
    const uint8_t *sec = NULL;
    for (uint32_t ord = 0; ord < s->entries && rc == 0; ord++) {
        uint32_t lba, off;
        if (ord % ENTRIES_PER_SECTOR == 0 &&
            (dir_locate(v, s, ord, &lba, &off, err) < 0 || cache_read(v, lba, &sec, err) < 0)) {
            rc = -1;
            break;
        }
        uint8_t e[DIRENT];
        memcpy(e, sec + (ord % ENTRIES_PER_SECTOR) * DIRENT, DIRENT);
        if (e[0] == 0) {
            s->end = ord;
            break;
        }
        scan_entry(s, st, rec, e, ord, query, qlen, ignore, &rc, err);
    }
    free(rec);
    free(st);
    if (rc == 0 && s->nnames)
        qsort(s->names, s->nnames, sizeof(*s->names), cmp_name);
    return rc;
}

void dir_scan_free(struct dir_scan *s)
{
    ext_free(&s->chain);
    free(s->free_map);
    free(s->names);
    memset(s, 0, sizeof(*s));
}

bool dir_name_taken(const struct dir_scan *s, const uint8_t sfn[11])
{
    return s->nnames && bsearch(sfn, s->names, s->nnames, sizeof(*s->names), cmp_name) != NULL;
}

/* ---- placement of new entries ---- */

static bool slot_free(const struct dir_scan *s, uint32_t o, uint32_t reuse_first, uint32_t reuse_last)
{
    if (o >= s->end)
        return true;
    return s->free_map[o] || (o >= reuse_first && o <= reuse_last);
}

/* First run of `count` free slots; prefer one inside a single sector, and
 * among those one in the sector `pref_sector` (entry ordinal / 16). */
static void find_run(const struct dir_scan *s, uint32_t count, uint32_t reuse_first,
                     uint32_t reuse_last, uint32_t pref_sector, uint32_t *any, uint32_t *one)
{
    *any = *one = UINT32_MAX;
    uint32_t run = 0;
    for (uint32_t o = 0; o < s->entries; o++) {
        run = slot_free(s, o, reuse_first, reuse_last) ? run + 1 : 0;
        if (run < count)
            continue;
        uint32_t st = o - count + 1;
        if (*any == UINT32_MAX)
            *any = st;
        if (st / ENTRIES_PER_SECTOR == o / ENTRIES_PER_SECTOR) {
            if (*one == UINT32_MAX)
                *one = st;
            if (pref_sector == UINT32_MAX || st / ENTRIES_PER_SECTOR == pref_sector) {
                *one = st;
                return;
            }
        }
        if (o > s->end + ENTRIES_PER_SECTOR && *one != UINT32_MAX)
            return;  /* nothing better comes after the end marker */
    }
}

/* Entries past the end marker that the new ones will cover or stand before
 * must really be unused, or other readers would see what follows. */
static int check_tail(struct fat_volume *v, const struct dir_scan *s, uint32_t upto, struct mf_err *err)
{
    for (uint32_t o = s->end; o < upto && o < s->entries; o++) {
        uint32_t lba, off;
        const uint8_t *sec;
        if (dir_locate(v, s, o, &lba, &off, err) < 0 || cache_read(v, lba, &sec, err) < 0)
            return -1;
        if (sec[off] != 0)
            return fat_damaged(err, "a directory has entries after its end marker");
    }
    return 0;
}

/* Plan `grow` new clusters so the entries can start at ordinal `at`. */
static int plan_growth(struct fat_volume *v, const struct dir_scan *s, uint32_t at, uint32_t count,
                       const struct extents *exclude, struct placement *pl, struct mf_err *err)
{
    uint32_t epc = entries_per_cluster(v);
    uint32_t grow = (at + count - s->entries + epc - 1) / epc;
    if (s->entries + grow * epc > DIR_MAX_ENTRIES)
        return mf_fail(err, MF_E_FAIL, "A folder on the card is full (65536 entries); nothing was "
                       "changed; delete files from it or use another folder.");
    return alloc_plan(v, grow, exclude, &pl->grow, err);
}

int dir_place(struct fat_volume *v, struct dir_scan *s, uint32_t count, uint32_t reuse_first,
              uint32_t reuse_last, const struct extents *exclude, struct placement *pl,
              struct mf_err *err)
{
    memset(pl, 0, sizeof(*pl));
    uint32_t pref = reuse_last == UINT32_MAX ? UINT32_MAX : reuse_last / ENTRIES_PER_SECTOR;
    uint32_t any, one;
    find_run(s, count, reuse_first, reuse_last, pref, &any, &one);
    uint32_t start = one;
    bool growable = s->cluster != 0;
    if (start == UINT32_MAX && growable && count <= ENTRIES_PER_SECTOR) {
        /* A new cluster keeps the entries in one sector, which is worth it
         * unless the card is full and a run across sectors exists. */
        struct mf_err why;
        if (plan_growth(v, s, s->entries, count, exclude, pl, &why) == 0) {
            start = s->entries;
        } else if (any == UINT32_MAX || why.code != MF_E_CARD) {
            if (err)
                *err = why;
            return -1;
        }
    }
    if (start == UINT32_MAX)
        start = any;
    if (start == UINT32_MAX && growable) {
        /* More entries than a sector holds: continue the free tail. */
        uint32_t tail = 0;
        while (tail < s->entries && slot_free(s, s->entries - 1 - tail, reuse_first, reuse_last))
            tail++;
        if (plan_growth(v, s, s->entries - tail, count, exclude, pl, err) < 0)
            return -1;
        start = s->entries - tail;
    }
    if (start == UINT32_MAX)
        return mf_fail(err, MF_E_CARD,
                       "The root directory of the card is full (%u entries); nothing was changed; "
                       "delete files from it or put the file in a sub-directory.",
                       v->root_entries);
    pl->start = start;
    pl->count = count;
    pl->pad_from = start > s->end ? s->end : start;
    return check_tail(v, s, start + count + 1, err);
}

void placement_free(struct placement *pl)
{
    ext_free(&pl->grow);
}

int dir_grow_zero(struct fat_volume *v, const struct placement *pl, struct mf_err *err)
{
    return clusters_zero(v, &pl->grow, err);
}

int dir_grow_link(struct fat_volume *v, struct dir_scan *s, const struct placement *pl,
                  struct mf_err *err)
{
    if (pl->grow.clusters == 0)
        return 0;
    if (fat_set(v, ext_last(&s->chain), pl->grow.v[0].start, err) < 0 ||
        alloc_link(v, &pl->grow, err) < 0 || ext_append(&s->chain, &pl->grow, err) < 0)
        return -1;
    s->entries = s->chain.clusters * entries_per_cluster(v);
    return 0;
}

static int modify_entry(struct fat_volume *v, const struct dir_scan *s, uint32_t ord, uint8_t **e,
                        struct mf_err *err)
{
    uint32_t lba, off;
    uint8_t *sec;
    if (dir_locate(v, s, ord, &lba, &off, err) < 0)
        return -1;
    if (cache_modify(v, lba, SK_DIR, &sec, err) < 0)
        return -1;
    *e = sec + off;
    return 0;
}

int dir_write_entries(struct fat_volume *v, const struct dir_scan *s, const struct placement *pl,
                      uint8_t entries[][DIRENT], struct mf_err *err)
{
    uint8_t *e;
    for (uint32_t o = pl->pad_from; o < pl->start; o++) {
        if (modify_entry(v, s, o, &e, err) < 0)
            return -1;
        if (e[0] == 0)
            e[0] = ENTRY_FREE;
    }
    for (uint32_t i = 0; i < pl->count; i++) {
        if (modify_entry(v, s, pl->start + i, &e, err) < 0)
            return -1;
        memcpy(e, entries[i], DIRENT);
    }
    return 0;
}

int dir_mark_deleted(struct fat_volume *v, const struct dir_scan *s, uint32_t first, uint32_t last,
                     struct mf_err *err)
{
    uint8_t *e;
    for (uint32_t o = first; o <= last; o++) {
        if (modify_entry(v, s, o, &e, err) < 0)
            return -1;
        e[0] = ENTRY_FREE;
    }
    return 0;
}

int dir_build_entries(struct fat_volume *v, const struct dir_scan *s, const struct name_plan *np,
                      uint8_t attr, uint8_t entries[][DIRENT], struct mf_err *err)
{
    uint8_t sfn[11];
    bool lfn = np->need_lfn;
    uint8_t nt = lfn ? 0 : np->nt;
    memcpy(sfn, np->sfn, 11);
    if (np->need_tail || dir_name_taken(s, sfn)) {
        /* The plain short name is taken (a volume label can hold it) or lossy. */
        lfn = true;
        nt = 0;
        uint32_t n = 1;
        for (; n < 1000000; n++) {
            sfn_with_tail(np->sfn, n, sfn);
            if (!dir_name_taken(s, sfn))
                break;
        }
        if (n == 1000000)
            return mf_fail(err, MF_E_FS, "No free short name is left for this name in the directory; "
                           "nothing was changed; choose a more distinct name.");
    }
    uint32_t k = lfn ? lfn_build(np->lfn, np->lfn_len, sfn_checksum(sfn), entries) : 0;
    ent_init(v, entries[k], sfn, nt, attr);
    return (int)k + 1;
}
