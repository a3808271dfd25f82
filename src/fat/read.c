/* Looking things up: stat, directory listings, streaming file reads. */
#include "fat/fat_priv.h"

#include <stdlib.h>
#include <string.h>

struct fat_dir {
    struct fat_volume *v;
    struct dir_iter it;
    struct lfn_state st;
    struct dir_rec rec;
};

struct fat_file {
    struct fat_volume *v;
    uint32_t size, pos;
    struct extents chain;
};

static void root_entry(struct fat_entry *out)
{
    memset(out, 0, sizeof(*out));
    strcpy(out->name, "/");
    strcpy(out->short_name, "/");
    out->attr = FAT_ATTR_DIRECTORY;
}

int fat_stat(struct fat_volume *vol, const char *path, struct fat_entry *out, struct mf_err *err)
{
    struct path_target t;
    struct dir_scan s;
    int rc = path_lookup(vol, path, &t, &s, err);
    if (rc == 0 && t.is_root)
        root_entry(out);
    else if (rc == 0 && s.found)
        ent_to_public(vol, s.match.sfn, s.match.lfn, s.match.lfn_len, out);
    bool found = t.is_root || s.found;
    dir_scan_free(&s);
    if (rc < 0 && t.parent_missing)
        return 0;
    return rc < 0 ? -1 : found ? 1 : 0;
}

/* Resolve a path that must name a directory; returns its first cluster. */
static int dir_cluster_of(struct fat_volume *v, const char *path, uint32_t *cluster, struct mf_err *err)
{
    struct path_target t;
    struct dir_scan s;
    int rc = path_lookup(v, path, &t, &s, err);
    if (rc == 0 && t.is_root) {
        *cluster = root_cluster_of(v);
    } else if (rc == 0 && !s.found) {
        rc = fat_not_found(err, path);
    } else if (rc == 0 && !(s.match.sfn[11] & FAT_ATTR_DIRECTORY)) {
        rc = mf_fail(err, MF_E_INPUT, "\"%.300s\" on the card is a file, not a folder; nothing was changed.", path);
    } else if (rc == 0) {
        *cluster = ent_cluster(v, s.match.sfn);
        if (!fat_in_range(v, *cluster))
            rc = fat_damaged(err, "folder %.300s points to cluster %u", path, *cluster);
    }
    dir_scan_free(&s);
    return rc;
}

int fat_dir_open(struct fat_volume *vol, const char *path, struct fat_dir **out, struct mf_err *err)
{
    *out = NULL;
    uint32_t cluster;
    if (dir_cluster_of(vol, path, &cluster, err) < 0)
        return -1;
    /* Check the whole chain now, also past the end marker where the listing stops. */
    if (cluster) {
        struct extents chain = { 0 };
        int rc = chain_collect(vol, cluster, dir_cluster_limit(vol), &chain, path, err);
        ext_free(&chain);
        if (rc < 0)
            return -1;
    }
    struct fat_dir *d = calloc(1, sizeof(*d));
    if (!d)
        return fat_oom(err);
    d->v = vol;
    dir_iter_start(vol, cluster, &d->it);
    lfn_reset(&d->st);
    *out = d;
    return 0;
}

int fat_dir_next(struct fat_dir *dir, struct fat_entry *out, struct mf_err *err)
{
    for (;;) {
        int r = dir_next_rec(&dir->it, &dir->st, &dir->rec, err);
        if (r <= 0)
            return r;
        const uint8_t *e = dir->rec.sfn;
        if (ent_is_dot(e) || (e[11] & FAT_ATTR_VOLUME_ID))
            continue;
        ent_to_public(dir->v, e, dir->rec.lfn, dir->rec.lfn_len, out);
        return 1;
    }
}

void fat_dir_close(struct fat_dir *dir)
{
    free(dir);
}

int fat_open(struct fat_volume *vol, const char *path, struct fat_file **out, struct mf_err *err)
{
    *out = NULL;
    struct path_target t;
    struct dir_scan s;
    struct fat_file *f = NULL;
    int rc = path_lookup(vol, path, &t, &s, err);
    if (rc == 0 && !t.is_root && !s.found)
        rc = fat_not_found(err, path);
    else if (rc == 0 && (t.is_root || (s.match.sfn[11] & FAT_ATTR_DIRECTORY)))
        rc = mf_fail(err, MF_E_INPUT, "\"%.300s\" on the card is a folder, not a file; nothing was changed.", path);
    if (rc == 0 && !(f = calloc(1, sizeof(*f))))
        rc = fat_oom(err);
    if (rc == 0) {
        f->v = vol;
        f->size = get32(s.match.sfn + 28);
        rc = chain_of_file(vol, s.match.sfn, path, &f->chain, err);
    }
    dir_scan_free(&s);
    if (rc < 0) {
        fat_close(f);
        return -1;
    }
    *out = f;
    return 0;
}

ssize_t fat_read(struct fat_file *f, void *buf, size_t len, struct mf_err *err)
{
    uint8_t *out = buf;
    size_t done = 0;
    if (len > f->size - f->pos)
        len = f->size - f->pos;
    while (done < len) {
        uint32_t lba, contig, off = f->pos % SECTOR;
        ext_locate_sector(f->v, &f->chain, f->pos / SECTOR, &lba, &contig);
        if (contig == 0)
            return fat_damaged(err, "a file's clusters end before its size");
        size_t left = len - done;
        if (off == 0 && left >= SECTOR) {
            uint32_t n = (uint32_t)(left / SECTOR < contig ? left / SECTOR : contig);
            if (vol_read(f->v, lba, n, out + done, err) < 0)
                return -1;
            done += (size_t)n * SECTOR;
            f->pos += n * SECTOR;
        } else {
            uint8_t sec[SECTOR];
            if (vol_read(f->v, lba, 1, sec, err) < 0)
                return -1;
            size_t n = SECTOR - off < left ? SECTOR - off : left;
            memcpy(out + done, sec + off, n);
            done += n;
            f->pos += (uint32_t)n;
        }
    }
    return (ssize_t)done;
}

uint32_t fat_file_size(const struct fat_file *f)
{
    return f->size;
}

void fat_close(struct fat_file *f)
{
    if (!f)
        return;
    ext_free(&f->chain);
    free(f);
}
