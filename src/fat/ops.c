/* Delete, rename (and replace), mkdir.  Each checks everything it will touch
 * first, then writes in the safe order with a flush at every step:
 *   delete : directory entry -> free clusters (FAT copies)
 *   replace: source entry removed, target entry rewritten in place (one
 *            sector) -> old target clusters freed
 *   rename : (new directory cluster) -> source entry removed and new entry
 *            written, one sector when they share it
 *   mkdir  : new cluster written -> FAT -> entry
 * change_begin comes first; FSInfo gets its true values at sync.
 */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

static bool is_dir(const uint8_t *e) { return (e[11] & FAT_ATTR_DIRECTORY) != 0; }

/* The clusters an entry owns, checked (files against their size, folders
 * against the directory limit). */
static int owned_clusters(struct fat_volume *v, const uint8_t *e, const char *path, struct extents *out,
                          struct mf_err *err)
{
    if (!is_dir(e))
        return chain_of_file(v, e, path, out, err);
    return chain_collect(v, ent_cluster(v, e), dir_cluster_limit(v), out, path, err);
}

static int finish(struct fat_volume *v, uint32_t allocated, uint32_t freed, uint32_t last,
                  struct mf_err *err)
{
    fsinfo_account(v, allocated, freed, last);
    return cache_flush(v, err);
}

static int check_empty_dir(struct fat_volume *v, const uint8_t *e, const char *path, struct mf_err *err)
{
    struct dir_scan inner;
    int rc = dir_scan(v, ent_cluster(v, e), NULL, 0, UINT32_MAX, &inner, err);
    if (rc == 0 && inner.live)
        rc = mf_fail(err, MF_E_FAIL, "The folder \"%.300s\" on the card is not empty; nothing was "
                     "changed; delete what is in it first.", path);
    dir_scan_free(&inner);
    return rc;
}

int fat_delete(struct fat_volume *vol, const char *path, struct mf_err *err)
{
    if (vol_check_writable(vol, err) < 0)
        return -1;
    struct path_target t;
    struct dir_scan s;
    struct extents chain = { 0 };
    int rc = path_lookup(vol, path, &t, &s, err);
    if (rc == 0 && t.is_root)
        rc = mf_fail(err, MF_E_INPUT, "The card's root folder cannot be deleted; nothing was changed.");
    else if (rc == 0 && !s.found)
        rc = fat_not_found(err, path);
    const uint8_t *e = s.match.sfn;
    if (rc == 0 && is_dir(e))
        rc = check_empty_dir(vol, e, path, err);
    if (rc == 0)
        rc = owned_clusters(vol, e, path, &chain, err);
    if (rc == 0)
        rc = fat_check_copies(vol, &chain, err);
    if (rc == 0)
        rc = change_begin(vol, err);
    /* Entry first: a cut after it leaves only lost clusters. */
    if (rc == 0)
        rc = dir_mark_deleted(vol, &s, s.match.first, s.match.sfn_ord, err);
    if (rc == 0)
        rc = cache_flush(vol, err);
    if (rc == 0)
        rc = alloc_release(vol, &chain, err);
    if (rc == 0)
        rc = cache_flush(vol, err);
    if (rc == 0)
        rc = finish(vol, 0, chain.clusters, 0, err);
    ext_free(&chain);
    dir_scan_free(&s);
    return cache_settle(vol, rc);
}

/* Both entries were found and checked; swap the target's data for the source's. */
static int replace_target(struct fat_volume *v, struct dir_scan *from, struct dir_scan *to,
                          const char *src_path, const char *dst_path, struct mf_err *err)
{
    const uint8_t *src = from->match.sfn;
    const uint8_t *dst = to->match.sfn;
    if (is_dir(src) || is_dir(dst))
        return mf_fail(err, MF_E_INPUT, "Only files can replace files; \"%.200s\" or \"%.200s\" is a "
                       "folder; nothing was changed.", src_path, dst_path);
    if (dst[11] & FAT_ATTR_READ_ONLY)
        return mf_fail(err, MF_E_FAIL, "\"%.300s\" on the card is read-only; nothing was changed; "
                       "clear its read-only attribute first.", dst_path);
    struct extents src_chain = { 0 }, old = { 0 };
    int rc = chain_of_file(v, src, src_path, &src_chain, err);
    if (rc == 0)
        rc = chain_of_file(v, dst, dst_path, &old, err);
    if (rc == 0)
        rc = fat_check_copies(v, &old, err);
    uint32_t lba, off;
    uint8_t *e;
    if (rc == 0)
        rc = dir_locate(v, to, to->match.sfn_ord, &lba, &off, err);
    if (rc == 0)
        rc = change_begin(v, err);
    /* Source entry first, then the target rewritten in place: a cut between
     * them leaves the old target intact and the new data as lost clusters. */
    if (rc == 0)
        rc = dir_mark_deleted(v, from, from->match.first, from->match.sfn_ord, err);
    if (rc == 0)
        rc = cache_modify(v, lba, SK_DIR, &e, err);
    if (rc == 0) {
        e += off;
        e[11] = (uint8_t)(src[11] | FAT_ATTR_ARCHIVE);
        memcpy(e + 13, src + 13, DIRENT - 13);  /* times, cluster, size */
        rc = cache_flush(v, err);
    }
    if (rc == 0)
        rc = alloc_release(v, &old, err);
    if (rc == 0)
        rc = cache_flush(v, err);
    if (rc == 0)
        rc = finish(v, 0, old.clusters, 0, err);
    ext_free(&src_chain);
    ext_free(&old);
    return rc;
}

/* Give the source entry a new name in directory `to` (which may be its own). */
static int move_entry(struct fat_volume *v, struct dir_scan *from, struct dir_scan *to, bool same_dir,
                      const struct path_target *t, const char *src_path, struct mf_err *err)
{
    const uint8_t *src = from->match.sfn;
    struct extents chain = { 0 };
    struct placement pl = { 0 };
    struct name_plan np;
    uint8_t ents[21][DIRENT];
    int rc = owned_clusters(v, src, src_path, &chain, err);
    if (rc == 0)
        rc = name_plan_make(t->name, t->name_len, &np, err);
    int n = rc == 0 ? dir_build_entries(v, to, &np, src[11], ents, err) : -1;
    if (n < 0)
        rc = -1;
    if (rc == 0) {
        uint8_t *e = ents[n - 1];
        e[11] = is_dir(src) ? src[11] : (uint8_t)(src[11] | FAT_ATTR_ARCHIVE);
        memcpy(e + 13, src + 13, DIRENT - 13);
        uint32_t rf = same_dir ? from->match.first : UINT32_MAX;
        uint32_t rl = same_dir ? from->match.sfn_ord : UINT32_MAX;
        rc = dir_place(v, to, (uint32_t)n, rf, rl, &chain, &pl, err);
    }
    struct extents none = { 0 };
    if (rc == 0)
        rc = publish_check(v, to, &none, &pl, err);
    if (rc == 0)
        rc = change_begin(v, err);
    if (rc == 0)
        rc = dir_grow_zero(v, &pl, err);
    if (rc == 0)
        rc = dir_grow_link(v, to, &pl, err);
    if (rc == 0)
        rc = cache_flush(v, err);
    /* Old entry out first, new one in: one sector write when they share one. */
    if (rc == 0)
        rc = dir_mark_deleted(v, from, from->match.first, from->match.sfn_ord, err);
    if (rc == 0)
        rc = dir_write_entries(v, to, &pl, ents, err);
    if (rc == 0)
        rc = cache_flush(v, err);
    if (rc == 0)
        rc = finish(v, pl.grow.clusters, 0, ext_last(&pl.grow), err);
    placement_free(&pl);
    ext_free(&chain);
    return rc;
}

int fat_rename(struct fat_volume *vol, const char *from, const char *to, unsigned flags,
               struct mf_err *err)
{
    if (vol_check_writable(vol, err) < 0)
        return -1;
    struct path_target ts, tt;
    struct dir_scan ss, st;
    memset(&st, 0, sizeof(st));
    int rc = path_lookup(vol, from, &ts, &ss, err);
    if (rc == 0 && (ts.is_root || !ss.found))
        rc = ts.is_root ? mf_fail(err, MF_E_INPUT, "The card's root folder cannot be renamed; nothing "
                                  "was changed.") : fat_not_found(err, from);
    if (rc == 0)
        rc = path_parent(vol, to, &tt, err);
    if (rc == 0 && tt.is_root)
        rc = mf_fail(err, MF_E_INPUT, "Cannot rename onto the card's root folder; nothing was changed.");
    bool same_dir = rc == 0 && tt.parent == ts.parent;
    if (rc == 0 && !same_dir && is_dir(ss.match.sfn))
        rc = mf_fail(err, MF_E_INPUT, "Folders can only be renamed within their parent folder; "
                     "nothing was changed.");
    /* In the same folder, the source itself is not "another entry" in the way. */
    if (rc == 0)
        rc = dir_scan(vol, tt.parent, tt.query, tt.qlen, same_dir ? ss.match.sfn_ord : UINT32_MAX, &st, err);
    if (rc == 0 && st.found && !(flags & FAT_RENAME_REPLACE))
        rc = mf_fail(err, MF_E_FAIL, "\"%.300s\" already exists on the card; nothing was changed.", to);
    if (rc == 0)
        rc = st.found ? replace_target(vol, &ss, &st, from, to, err)
                      : move_entry(vol, &ss, &st, same_dir, &tt, from, err);
    dir_scan_free(&ss);
    dir_scan_free(&st);
    return cache_settle(vol, rc);
}

/* A new folder's first cluster: "." and ".." then nothing. */
static int write_new_dir(struct fat_volume *v, uint32_t c, uint32_t parent, const uint8_t *model,
                         struct mf_err *err)
{
    uint8_t *buf = calloc(1, v->cluster_bytes);
    if (!buf)
        return fat_oom(err);
    static const uint8_t dot[11] = ".          ", dotdot[11] = "..         ";
    memcpy(buf, model, DIRENT);
    memcpy(buf, dot, 11);
    ent_set_cluster(v, buf, c);
    memcpy(buf + DIRENT, model, DIRENT);
    memcpy(buf + DIRENT, dotdot, 11);
    buf[DIRENT + 12] = buf[12] = 0;
    ent_set_cluster(v, buf + DIRENT, parent == v->root_cluster && v->type == FAT_TYPE_32 ? 0 : parent);
    cache_forget(v, cluster_lba(v, c), v->sec_per_clus);
    int rc = vol_write(v, cluster_lba(v, c), v->sec_per_clus, buf, err);
    free(buf);
    return rc;
}

int fat_mkdir(struct fat_volume *vol, const char *path, struct mf_err *err)
{
    if (vol_check_writable(vol, err) < 0)
        return -1;
    struct path_target t;
    struct dir_scan s;
    struct extents c = { 0 };
    struct placement pl = { 0 };
    struct name_plan np;
    uint8_t ents[21][DIRENT];
    int n = -1;
    int rc = path_lookup(vol, path, &t, &s, err);
    if (rc == 0 && (t.is_root || s.found))
        rc = mf_fail(err, MF_E_FAIL, "\"%.300s\" already exists on the card; nothing was changed.", path);
    if (rc == 0)
        rc = name_plan_make(t.name, t.name_len, &np, err);
    if (rc == 0)
        rc = alloc_plan(vol, 1, NULL, &c, err);
    if (rc == 0 && (n = dir_build_entries(vol, &s, &np, FAT_ATTR_DIRECTORY, ents, err)) < 0)
        rc = -1;
    if (rc == 0) {
        ent_set_cluster(vol, ents[n - 1], c.v[0].start);
        rc = dir_place(vol, &s, (uint32_t)n, UINT32_MAX, UINT32_MAX, &c, &pl, err);
    }
    if (rc == 0)
        rc = publish_check(vol, &s, &c, &pl, err);
    if (rc == 0)
        rc = change_begin(vol, err);
    if (rc == 0)
        rc = write_new_dir(vol, c.v[0].start, t.parent, ents[n - 1], err);
    if (rc == 0)
        rc = dir_grow_zero(vol, &pl, err);
    if (rc == 0)
        rc = alloc_link(vol, &c, err);
    if (rc == 0)
        rc = dir_grow_link(vol, &s, &pl, err);
    if (rc == 0)
        rc = cache_flush(vol, err);
    if (rc == 0)
        rc = dir_write_entries(vol, &s, &pl, ents, err);
    if (rc == 0)
        rc = cache_flush(vol, err);
    if (rc == 0)
        rc = finish(vol, 1 + pl.grow.clusters, 0, pl.grow.clusters ? ext_last(&pl.grow) : c.v[0].start, err);
    placement_free(&pl);
    ext_free(&c);
    dir_scan_free(&s);
    return cache_settle(vol, rc);
}
