/* Paths: "/a/b/name", '/' separated, empty components ignored. */
#include "fat/fat_priv.h"

#include <string.h>

static int bad_path(struct mf_err *err, const char *path, const char *why)
{
    return mf_fail(err, MF_E_INPUT, "The card path \"%.200s\" %s; nothing was changed.", path, why);
}

/* Next component after *p; returns its length (0 at the end). */
static size_t next_component(const char **p)
{
    while (**p == '/')
        (*p)++;
    size_t n = strcspn(*p, "/");
    return n;
}

static int convert_component(const char *path, const char *c, size_t n, uint16_t *out, uint32_t *len,
                             struct mf_err *err)
{
    if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
        return bad_path(err, path, "uses \".\" or \"..\", which is not supported");
    int rc = utf8_to_utf16(c, n, out, LFN_MAX, len);
    if (rc == -1)
        return bad_path(err, path, "is not valid UTF-8");
    if (rc == -2)
        return bad_path(err, path, "has a component longer than 255 characters");
    fat_upcase_str(out, *len);
    return 0;
}

/* The directory a found entry leads to, checked to be one. */
static int enter_dir(struct fat_volume *v, const char *path, const struct dir_rec *rec,
                     uint32_t *cluster, struct mf_err *err)
{
    if (!(rec->sfn[11] & FAT_ATTR_DIRECTORY))
        return bad_path(err, path, "goes through a file as if it were a folder");
    uint32_t c = ent_cluster(v, rec->sfn);
    if (!fat_in_range(v, c))
        return fat_damaged(err, "a folder on the path %.200s points to cluster %u", path, c);
    *cluster = c;
    return 0;
}

int path_parent(struct fat_volume *v, const char *path, struct path_target *t, struct mf_err *err)
{
    memset(t, 0, sizeof(*t));
    uint32_t dir = root_cluster_of(v);
    const char *p = path;
    size_t n = next_component(&p);
    if (n == 0) {
        t->is_root = true;
        t->parent = dir;
        return 0;
    }
    for (;;) {
        const char *c = p;
        p += n;
        size_t next = next_component(&p);
        if (convert_component(path, c, n, t->query, &t->qlen, err) < 0)
            return -1;
        if (next == 0) {
            t->parent = dir;
            t->name = c;
            t->name_len = n;
            return 0;
        }
        struct dir_scan s;
        int rc = dir_scan(v, dir, t->query, t->qlen, UINT32_MAX, &s, err);
        if (rc == 0 && !s.found) {
            t->parent_missing = true;
            rc = bad_path(err, path, "does not exist (a folder on the way is missing)");
        }
        if (rc == 0)
            rc = enter_dir(v, path, &s.match, &dir, err);
        dir_scan_free(&s);
        if (rc < 0)
            return -1;
        n = next;
    }
}

int path_lookup(struct fat_volume *v, const char *path, struct path_target *t, struct dir_scan *scan,
                struct mf_err *err)
{
    memset(scan, 0, sizeof(*scan));
    if (path_parent(v, path, t, err) < 0)
        return -1;
    if (t->is_root)
        return 0;
    return dir_scan(v, t->parent, t->query, t->qlen, UINT32_MAX, scan, err);
}
