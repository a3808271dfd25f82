/* Power cuts: the card stops taking writes after N sectors, for N = 0, 1,
 * 2, ... until the operation completes, during a create, a replace by
 * rename and a delete, on FAT12/16/32.  After every cut, every other file
 * reads back byte-identical with mtools, fsck.fat -n reports nothing worse
 * than lost clusters, FSInfo's free count as unknown and a second FAT copy
 * behind an intact first one, and the target name never holds partial
 * content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

struct content {
    const char *path;
    uint32_t size, seed;
};

static uint8_t *make(const struct content *c)
{
    uint8_t *d = malloc(c->size ? c->size : 1);
    fatimg_fill(d, c->size, c->seed);
    return d;
}

static void put_mtools(const struct fatimg *img, const struct content *c)
{
    char local[600];
    uint8_t *d = make(c);
    fatimg_tmpname(local, sizeof(local), "crashsrc", ".bin");
    fatimg_write_local(local, d, c->size);
    CHECK_EQ(fatimg_mcopy_in(img, local, c->path), 0);
    unlink(local);
    free(d);
}

/* 0: matches c; 1: absent; -1: present with other content. */
static int state_of(const struct fatimg *img, const struct content *c)
{
    uint8_t *got;
    size_t len;
    if (fatimg_mread(img, c->path, &got, &len) < 0)
        return 1;
    uint8_t *want = make(c);
    int same = len == c->size && memcmp(got, want, len) == 0;
    free(want);
    free(got);
    return same ? 0 : -1;
}

/* The engine agrees: absent, or complete and equal. */
static int engine_state_of(const struct fatimg *img, const struct content *c)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, true, &fv) < 0)
        return -2;
    struct mf_err err = { 0 };
    uint8_t *got;
    size_t len;
    int rc;
    struct fat_entry e;
    if (fat_stat(fv.vol, c->path, &e, &err) == 0) {
        rc = 1;
    } else if (fatimg_read_fat(fv.vol, c->path, &got, &len, &err) < 0) {
        rc = -1;
    } else {
        uint8_t *want = make(c);
        rc = len == c->size && memcmp(got, want, len) == 0 ? 0 : -1;
        free(want);
        free(got);
    }
    fatimg_unmount(&fv);
    return rc;
}

static bool line_allowed(const char *line)
{
    static const char *const ok[] = {
        "fsck.fat ",                          /* banner */
        "Reclaimed ",                         /* lost clusters freed */
        "Free cluster summary uninitialized", /* "unknown" from the first change to sync */
        "FATs differ but appear to be intact.",  /* cut between FAT1 and FAT2 */
        "  Using first FAT.",
        "Leaving filesystem unchanged.",
    };
    if (!*line)
        return true;
    for (unsigned i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncmp(line, ok[i], strlen(ok[i])) == 0)
            return true;
    return strstr(line, " files, ") && strstr(line, " clusters");
}

static bool fsck_acceptable(const struct fatimg *img, const char *when)
{
    char out[16384];
    int rc = fatimg_fsck(img, out, sizeof(out));
    bool good = rc == 0 || rc == 1;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
        if (!line_allowed(line)) {
            fprintf(stderr, "%s: fsck.fat says: %s\n", when, line);
            good = false;
        }
    return good;
}

enum op { OP_CREATE, OP_REPLACE, OP_DELETE, OP_RENAME };

struct scenario {
    const struct content *others;  /* must never change */
    unsigned nothers;
    enum op op;
    struct content target;    /* what the target name may hold after the op */
    struct content before;    /* ... or before it (size 0 path NULL: absent) */
    struct content source;    /* replace: the file renamed onto the target */
};

static int run_op(const struct fatimg *img, long budget, const struct scenario *s, long *written)
{
    struct blockdev *inner, *cut;
    struct mf_err err = { 0 };
    if (blockdev_open_image(img->path, false, &inner, &err) < 0)
        return -2;
    cut = fatimg_cutoff(inner, budget);
    struct fat_volume *vol;
    int rc = fat_mount(cut, &vol, &err);
    if (rc == 0) {
        fat_set_time(vol, 1700000000);
        if (s->op == OP_CREATE) {
            uint8_t *d = make(&s->target);
            rc = fat_write_file(vol, s->target.path, d, s->target.size, &err);
            free(d);
        } else if (s->op == OP_REPLACE || s->op == OP_RENAME) {
            unsigned flags = s->op == OP_REPLACE ? FAT_RENAME_REPLACE : 0;
            rc = fat_rename(vol, s->source.path, s->target.path, flags, &err);
        } else {
            rc = fat_delete(vol, s->before.path, &err);
        }
        if (fat_unmount(vol, &err) < 0)
            rc = -1;
    }
    *written = fatimg_cutoff_written(cut);
    blockdev_close(cut);
    blockdev_close(inner);
    return rc;
}

static void check_after_cut(const struct fatimg *img, const struct scenario *s, long n, bool done)
{
    char when[700];
    snprintf(when, sizeof(when), "%s op %d cut at %ld", img->path, (int)s->op, n);
    if (done) {
        char out[8192];
        int rc = fatimg_fsck(img, out, sizeof(out));
        CHECK_EQ(rc, 0);
        if (rc)
            fprintf(stderr, "%s (completed):\n%s\n", when, out);
    } else {
        CHECK(fsck_acceptable(img, when));
    }
    for (unsigned i = 0; i < s->nothers; i++) {
        int st = state_of(img, &s->others[i]);
        CHECK_EQ(st, 0);
        if (st)
            fprintf(stderr, "%s: %s changed\n", when, s->others[i].path);
    }
    /* The target name: old or new content, never anything else. */
    int tnew = s->op == OP_DELETE ? 1 : state_of(img, &s->target);
    int told = s->before.path ? state_of(img, &s->before) : 1;
    bool ok;
    if (s->op == OP_CREATE)
        ok = tnew == 0 || tnew == 1;
    else if (s->op == OP_REPLACE)
        ok = tnew == 0 || told == 0;
    else if (s->op == OP_RENAME)  /* one sector: the file has exactly one of its names */
        ok = (tnew == 0) != (state_of(img, &s->source) == 0) && tnew != -1;
    else
        ok = told == 0 || told == 1;
    if (done)
        ok = s->op == OP_DELETE ? told == 1 : tnew == 0;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "%s: target state new=%d old=%d\n", when, tnew, told);
    const struct content *t = s->op == OP_DELETE ? &s->before : &s->target;
    int es = engine_state_of(img, t);
    if (s->op == OP_REPLACE && es != 0)
        es = engine_state_of(img, &s->before);
    CHECK(es == 0 || es == 1);
    if (s->op == OP_REPLACE || s->op == OP_RENAME) {
        /* The source is either still there complete, or gone. */
        int src = state_of(img, &s->source);
        CHECK(src == 0 || src == 1);
        if (done)
            CHECK_EQ(src, 1);
    }
}

static void run_scenario(const struct fatimg *base, const struct scenario *s)
{
    long last_written = -1;
    for (long n = 0; n < 10000; n++) {
        struct fatimg img;
        CHECK_EQ(fatimg_copy(base, &img, "cut"), 0);
        long written = 0;
        int rc = run_op(&img, n, s, &written);
        CHECK(rc == 0 || rc == -1);
        CHECK(written <= n);
        check_after_cut(&img, s, n, rc == 0);
        unlink(img.path);
        if (rc == 0) {
            CHECK(n >= (s->op == OP_RENAME ? 1 : 3));  /* several steps, but a rename is one */
            fprintf(stderr, "  op %d completed with %ld sector writes\n", (int)s->op, written);
            return;
        }
        last_written = written;
    }
    (void)last_written;
    CHECK(0);  /* never completed */
}

struct layout {
    const char *tag;
    unsigned kib;
    const char *opts;
    uint32_t per_fat_sector;  /* FAT entries per FAT sector (FAT12: 341 and a bit) */
};

static void run_layout(const struct layout *l)
{
    struct fatimg base;
    CHECK_EQ(fatimg_make(&base, l->tag, l->kib, l->opts), 0);
    struct fatimg_vol fv;
    CHECK_EQ(fatimg_mount(&base, true, &fv), 0);
    struct fat_info info;
    CHECK_EQ(fat_info(fv.vol, true, &info, NULL), 0);
    fatimg_unmount(&fv);
    uint32_t cb = info.cluster_bytes;
    fprintf(stderr, "layout %s\n", l->tag);

    /* A filler ends just before a FAT-sector boundary, so firmware.bin's chain
     * crosses it and so does freeing it. */
    static struct content others[5];
    others[0] = (struct content){ "/filler.bin", (l->per_fat_sector - 5) * cb, 11 };
    others[1] = (struct content){ "/Keep Long Name.dat", 3 * cb - 1, 12 };
    others[2] = (struct content){ "/sub/keep3.bin", 2 * cb + 17, 13 };
    others[3] = (struct content){ "/README.TXT", 10, 14 };
    others[4] = (struct content){ "/victim.bin", 4 * cb - 3, 15 };
    struct content old_fw = { "/firmware.bin", 8 * cb - 100, 21 };
    struct content upload = { "/upload.tmp", 9 * cb - 7, 22 };

    put_mtools(&base, &others[0]);
    put_mtools(&base, &old_fw);
    put_mtools(&base, &others[1]);
    CHECK_EQ(fatimg_mmd(&base, "/sub"), 0);
    put_mtools(&base, &others[2]);
    put_mtools(&base, &others[3]);
    put_mtools(&base, &others[4]);
    CHECK_EQ(fatimg_mount(&base, false, &fv), 0);
    uint8_t *d = make(&upload);
    struct mf_err err = { 0 };
    CHECK_EQ(fat_write_file(fv.vol, upload.path, d, upload.size, &err), 0);
    free(d);
    fatimg_unmount(&fv);
    char out[8192];
    CHECK_EQ(fatimg_fsck(&base, out, sizeof(out)), 0);

    /* Create a new long-named file (crossing a FAT sector as well). */
    struct scenario create = { others, 5, OP_CREATE, { "/Robin_Nano35 firmware.bin", 6 * cb + 5, 31 },
                               { NULL, 0, 0 }, { NULL, 0, 0 } };
    run_scenario(&base, &create);

    /* Replace firmware.bin by renaming upload.tmp onto it. */
    struct scenario replace = { others, 5, OP_REPLACE, upload, old_fw, upload };
    replace.target.path = old_fw.path;
    run_scenario(&base, &replace);

    /* Rename upload.tmp to a new long name: one sector write, so atomic. */
    struct scenario rename = { others, 5, OP_RENAME, upload, { NULL, 0, 0 }, upload };
    rename.target.path = "/ROBIN_NANO35.BIN";
    run_scenario(&base, &rename);

    /* Delete firmware.bin (its chain crosses a FAT sector). */
    struct scenario del = { others, 5, OP_DELETE, { NULL, 0, 0 }, old_fw, { NULL, 0, 0 } };
    run_scenario(&base, &del);
    unlink(base.path);
}

int main(void)
{
    static const struct layout layouts[] = {
        { "x12", 2048, "-F 12 -s 1", 341 },
        { "x16", 16384, "-F 16 -s 1", 256 },
        { "x32", 40960, "-F 32 -s 1", 128 },
        { "x32s8", 307200, "-F 32 -s 8", 128 },
    };
    for (unsigned i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        run_layout(&layouts[i]);
    return check_report("test_fat_crash");
}
