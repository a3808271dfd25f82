/* Creating a file, streamed.
 *
 *   fat_create : check and plan everything (name, space, directory slot),
 *                then change_begin (once per mount)
 *   fat_write  : data into the planned clusters, which stay free in the FAT
 *   fat_commit : FAT chain (first copy, then second), then the directory
 *                entry in one sector write; FSInfo follows at sync
 *
 * A cut before the commit leaves no trace; during it, at most lost clusters.
 */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

struct fat_writer {
    struct fat_volume *v;
    uint32_t size, accepted;  /* bytes announced, bytes taken */
    uint32_t flushed;         /* bytes written to the card (whole sectors) */
    struct extents data;
    struct dir_scan dir;
    struct placement pl;
    uint8_t entries[21][DIRENT];
    uint32_t nent;
    uint8_t partial[SECTOR];
    uint32_t partial_len;
    bool failed;
};

static void writer_free(struct fat_writer *w)
{
    if (!w)
        return;
    w->v->writer_open = false;
    ext_free(&w->data);
    dir_scan_free(&w->dir);
    placement_free(&w->pl);
    free(w);
}

int publish_check(struct fat_volume *v, const struct dir_scan *dir, const struct extents *data,
                      const struct placement *pl, struct mf_err *err)
{
    struct extents touched = { 0 };
    int rc = ext_append(&touched, data, err);
    if (rc == 0 && pl->grow.clusters) {
        rc = ext_append(&touched, &pl->grow, err);
        if (rc == 0)
            rc = ext_push(&touched, ext_last(&dir->chain), err);
    }
    if (rc == 0)
        rc = fat_check_copies(v, &touched, err);
    ext_free(&touched);
    return rc;
}

static int plan_create(struct fat_writer *w, const char *path, struct mf_err *err)
{
    struct fat_volume *v = w->v;
    struct path_target t;
    struct name_plan np;
    if (path_lookup(v, path, &t, &w->dir, err) < 0)
        return -1;
    if (t.is_root)
        return mf_fail(err, MF_E_INPUT, "\"%.300s\" is the card's root folder, not a file name.", path);
    if (w->dir.found)
        return mf_fail(err, MF_E_FAIL, "\"%.300s\" already exists on the card; nothing was changed; "
                       "delete or rename it first.", path);
    if (name_plan_make(t.name, t.name_len, &np, err) < 0)
        return -1;
    uint32_t need = (uint32_t)(((uint64_t)w->size + v->cluster_bytes - 1) / v->cluster_bytes);
    if (alloc_plan(v, need, NULL, &w->data, err) < 0)
        return -1;
    int n = dir_build_entries(v, &w->dir, &np, FAT_ATTR_ARCHIVE, w->entries, err);
    if (n < 0)
        return -1;
    w->nent = (uint32_t)n;
    uint8_t *sfn = w->entries[n - 1];
    ent_set_cluster(v, sfn, w->data.clusters ? w->data.v[0].start : 0);
    put32(sfn + 28, w->size);
    if (dir_place(v, &w->dir, w->nent, UINT32_MAX, UINT32_MAX, &w->data, &w->pl, err) < 0)
        return -1;
    if (publish_check(v, &w->dir, &w->data, &w->pl, err) < 0)
        return -1;
    return change_begin(v, err);
}

int fat_check_file_path(struct fat_volume *vol, const char *path, struct mf_err *err)
{
    struct path_target t;
    struct dir_scan scan;
    struct name_plan np;
    int rc = path_lookup(vol, path, &t, &scan, err);
    bool folder = rc == 0 && scan.found && (scan.match.sfn[11] & FAT_ATTR_DIRECTORY);
    dir_scan_free(&scan);
    if (rc < 0)
        return -1;
    if (t.is_root || folder) {
        mf_fail(err, MF_E_INPUT, "\"%.300s\" on the card is a folder, where a file is to go; nothing was changed.",
                path);
        return mf_fact(err, MF_FACT_FOLDER_IN_WAY);
    }
    return name_plan_make(t.name, t.name_len, &np, err);
}

int fat_create(struct fat_volume *vol, const char *path, uint32_t size, struct fat_writer **out,
               struct mf_err *err)
{
    *out = NULL;
    if (vol_check_writable(vol, err) < 0)
        return -1;
    struct fat_writer *w = calloc(1, sizeof(*w));
    if (!w)
        return fat_oom(err);
    w->v = vol;
    w->size = size;
    vol->writer_open = true;
    if (plan_create(w, path, err) < 0) {
        writer_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

static int put_sectors(struct fat_writer *w, const uint8_t *buf, uint32_t count, struct mf_err *err)
{
    while (count) {
        uint32_t lba, contig;
        ext_locate_sector(w->v, &w->data, w->flushed / SECTOR, &lba, &contig);
        uint32_t n = count < contig ? count : contig;
        cache_forget(w->v, lba, n);
        if (n == 0 || vol_write(w->v, lba, n, buf, err) < 0) {
            w->failed = true;
            return -1;
        }
        w->flushed += n * SECTOR;
        buf += (size_t)n * SECTOR;
        count -= n;
    }
    return 0;
}

int fat_write(struct fat_writer *w, const void *buf, size_t len, struct mf_err *err)
{
    const uint8_t *p = buf;
    if (w->failed)
        return mf_fail(err, MF_E_CARD, "Writing this file to the card already failed; abort it.");
    if (len > w->size - w->accepted)
        return mf_fail(err, MF_E_FAIL, "More data than the %u bytes announced for this file was "
                       "given; the file was not published.", w->size);
    while (len) {
        if (w->partial_len || len < SECTOR) {
            size_t n = SECTOR - w->partial_len < len ? SECTOR - w->partial_len : len;
            memcpy(w->partial + w->partial_len, p, n);
            w->partial_len += (uint32_t)n;
            w->accepted += (uint32_t)n;
            p += n;
            len -= n;
        } else {
            uint32_t whole = (uint32_t)(len / SECTOR);
            if (put_sectors(w, p, whole, err) < 0)
                return -1;
            w->accepted += whole * SECTOR;
            p += (size_t)whole * SECTOR;
            len -= (size_t)whole * SECTOR;
        }
        bool last = w->accepted == w->size;
        if (w->partial_len == SECTOR || (last && w->partial_len)) {
            memset(w->partial + w->partial_len, 0, SECTOR - w->partial_len);
            if (put_sectors(w, w->partial, 1, err) < 0)
                return -1;
            w->partial_len = 0;
        }
    }
    return 0;
}

static int publish(struct fat_writer *w, struct mf_err *err)
{
    struct fat_volume *v = w->v;
    if (dir_grow_zero(v, &w->pl, err) < 0)
        return -1;
    if (alloc_link(v, &w->data, err) < 0 || dir_grow_link(v, &w->dir, &w->pl, err) < 0 ||
        cache_flush(v, err) < 0)
        return -1;
    if (dir_write_entries(v, &w->dir, &w->pl, w->entries, err) < 0 || cache_flush(v, err) < 0)
        return -1;
    uint32_t last = w->data.clusters ? ext_last(&w->data) : ext_last(&w->pl.grow);
    fsinfo_account(v, w->data.clusters + w->pl.grow.clusters, 0, last);
    return 0;
}

int fat_commit(struct fat_writer *w, struct mf_err *err)
{
    int rc;
    if (w->failed)
        rc = mf_fail(err, MF_E_CARD, "Writing the file to the card failed earlier, so it was not "
                     "published; no file by that name was created.");
    else if (w->accepted != w->size)
        rc = mf_fail(err, MF_E_FAIL, "Only %u of the %u bytes announced for the file were written, "
                     "so it was not published; no file by that name was created.", w->accepted, w->size);
    else
        rc = cache_settle(w->v, publish(w, err));
    writer_free(w);
    return rc;
}

void fat_abort(struct fat_writer *w)
{
    writer_free(w);
}

int fat_write_file(struct fat_volume *vol, const char *path, const void *data, uint32_t size,
                   struct mf_err *err)
{
    struct fat_writer *w;
    if (fat_create(vol, path, size, &w, err) < 0)
        return -1;
    if (fat_write(w, data, size, err) < 0) {
        fat_abort(w);
        return -1;
    }
    return fat_commit(w, err);
}
