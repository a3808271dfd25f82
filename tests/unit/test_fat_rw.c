/* FAT engine against mkfs.fat, fsck.fat and mtools on FAT12/16/32, several
 * cluster sizes, with and without an MBR: reading what mtools wrote, writing
 * what mtools reads back byte for byte, delete, rename, replace, mkdir, and
 * fsck.fat -n clean after every change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

struct layout {
    const char *tag;
    unsigned kib;
    const char *opts;
    uint32_t mbr_start;  /* 0: superfloppy */
    enum fat_type type;
    uint32_t cluster;
};

static const struct layout layouts[] = {
    { "f12s1", 2048, "-F 12 -s 1", 0, FAT_TYPE_12, 512 },
    { "f12s8", 8192, "-F 12 -s 8", 0, FAT_TYPE_12, 4096 },
    { "f12s64", 65536, "-F 12 -s 64", 0, FAT_TYPE_12, 32768 },
    { "f16s2", 16384, "-F 16 -s 2", 0, FAT_TYPE_16, 1024 },
    { "f16s64", 262144, "-F 16 -s 64", 0, FAT_TYPE_16, 32768 },
    { "f32s1", 40960, "-F 32 -s 1", 0, FAT_TYPE_32, 512 },
    { "f32s8", 307200, "-F 32 -s 8", 0, FAT_TYPE_32, 4096 },
    { "f32s64", 2150400, "-F 32 -s 64", 0, FAT_TYPE_32, 32768 },
    { "f12mbr", 4096, "-F 12 -s 2", 63, FAT_TYPE_12, 1024 },
    { "f16mbr", 16384, "-F 16 -s 4", 2048, FAT_TYPE_16, 2048 },
    { "f32mbr", 40960, "-F 32 -s 1", 2048, FAT_TYPE_32, 512 },
};

/* What the card should hold, checked with mtools after every change. */
struct model_file {
    char path[300];
    uint8_t *data;
    size_t len;
    bool present;
};

static struct model_file model[64];
static unsigned nmodel;

static struct model_file *model_get(const char *path)
{
    for (unsigned i = 0; i < nmodel; i++)
        if (strcmp(model[i].path, path) == 0)
            return &model[i];
    struct model_file *m = &model[nmodel++];
    memset(m, 0, sizeof(*m));
    snprintf(m->path, sizeof(m->path), "%s", path);
    return m;
}

static void model_set(const char *path, const uint8_t *data, size_t len)
{
    struct model_file *m = model_get(path);
    free(m->data);
    m->data = malloc(len ? len : 1);
    memcpy(m->data, data, len);
    m->len = len;
    m->present = true;
}

static void model_clear(void)
{
    for (unsigned i = 0; i < nmodel; i++)
        free(model[i].data);
    nmodel = 0;
}

/* fsck.fat -n clean and every file as the model says, read by mtools. */
static void verify_with_tools(const struct fatimg *img, const char *when)
{
    char out[8192];
    int rc = fatimg_fsck(img, out, sizeof(out));
    CHECK_EQ(rc, 0);
    if (rc != 0)
        fprintf(stderr, "fsck after %s:\n%s\n", when, out);
    for (unsigned i = 0; i < nmodel; i++) {
        uint8_t *got = NULL;
        size_t len = 0;
        int r = fatimg_mread(img, model[i].path, &got, &len);
        if (model[i].present) {
            CHECK_EQ(r, 0);
            CHECK_EQ(len, model[i].len);
            if (r == 0 && len == model[i].len)
                CHECK_MEM(got, model[i].data, len);
            else
                fprintf(stderr, "after %s: %s differs (rc %d, %zu bytes)\n", when, model[i].path, r, len);
        } else {
            CHECK(r != 0);
        }
        free(got);
    }
}

/* And the engine reads the same. */
static void verify_with_engine(const struct fatimg *img)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, true, &fv) < 0) {
        CHECK(0);
        return;
    }
    for (unsigned i = 0; i < nmodel; i++) {
        struct mf_err err = { 0 };
        uint8_t *got = NULL;
        size_t len = 0;
        int r = fatimg_read_fat(fv.vol, model[i].path, &got, &len, &err);
        if (model[i].present) {
            CHECK_EQ(r, 0);
            if (r != 0)
                fprintf(stderr, "engine read %s: %s\n", model[i].path, err.msg);
            CHECK_EQ(len, model[i].len);
            if (r == 0 && len == model[i].len)
                CHECK_MEM(got, model[i].data, len);
        } else {
            CHECK_EQ(r, -1);
            struct fat_entry e;
            CHECK_EQ(fat_stat(fv.vol, model[i].path, &e, &err), 0);
        }
        free(got);
    }
    fatimg_unmount(&fv);
}

static void verify(const struct fatimg *img, const char *when)
{
    verify_with_tools(img, when);
    verify_with_engine(img);
}

static uint8_t *random_data(size_t len, uint32_t seed)
{
    uint8_t *d = malloc(len ? len : 1);
    fatimg_fill(d, len, seed);
    return d;
}

/* mtools writes, the engine reads. */
static void mtools_files(const struct fatimg *img, const struct layout *l)
{
    const size_t sizes[] = { 0, 1, 511, 512, l->cluster, l->cluster + 1, 3 * l->cluster + 77, 70000 };
    char local[600], path[300];
    CHECK_EQ(fatimg_mmd(img, "/Tools Dir"), 0);
    for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *d = random_data(sizes[i], 100 + i);
        fatimg_tmpname(local, sizeof(local), "local", ".bin");
        fatimg_write_local(local, d, sizes[i]);
        snprintf(path, sizeof(path), i % 2 ? "/Tools Dir/mtools file %u.dat" : "/MT%u.BIN", i);
        CHECK_EQ(fatimg_mcopy_in(img, local, path), 0);
        model_set(path, d, sizes[i]);
        unlink(local);
        free(d);
    }
    verify(img, "mtools writes");
}

static int engine_write(const struct fatimg *img, const char *path, size_t len, uint32_t seed)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, false, &fv) < 0)
        return -1;
    uint8_t *d = random_data(len, seed);
    struct mf_err err = { 0 };
    struct fat_writer *w = NULL;
    int rc = fat_create(fv.vol, path, (uint32_t)len, &w, &err);
    /* Stream in uneven chunks. */
    size_t off = 0, step = 1;
    while (rc == 0 && off < len) {
        size_t n = step < len - off ? step : len - off;
        rc = fat_write(w, d + off, n, &err);
        off += n;
        step = step * 3 + 101;
    }
    if (rc == 0)
        rc = fat_commit(w, &err);
    else if (w)
        fat_abort(w);
    if (rc < 0)
        fprintf(stderr, "write %s: %s\n", path, err.msg);
    else
        model_set(path, d, len);
    free(d);
    if (fatimg_unmount(&fv) < 0)
        rc = -1;
    return rc;
}

static int engine_op(const struct fatimg *img, const char *what, const char *a, const char *b)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, false, &fv) < 0)
        return -1;
    struct mf_err err = { 0 };
    int rc;
    if (strcmp(what, "delete") == 0)
        rc = fat_delete(fv.vol, a, &err);
    else if (strcmp(what, "mkdir") == 0)
        rc = fat_mkdir(fv.vol, a, &err);
    else
        rc = fat_rename(fv.vol, a, b, strcmp(what, "replace") == 0 ? FAT_RENAME_REPLACE : 0, &err);
    if (rc < 0)
        fprintf(stderr, "%s %s: %s\n", what, a, err.msg);
    if (fatimg_unmount(&fv) < 0)
        rc = -1;
    return rc;
}

static void model_move(const char *from, const char *to)
{
    struct model_file *f = model_get(from);
    model_set(to, f->data, f->len);
    f = model_get(from);
    f->present = false;
}

static void engine_files(const struct fatimg *img, const struct layout *l)
{
    CHECK_EQ(engine_write(img, "/firmware.bin", 3 * l->cluster + 5, 1), 0);
    verify(img, "create firmware.bin");
    CHECK_EQ(engine_write(img, "/Robin_e3.bin", l->cluster, 2), 0);
    verify(img, "create Robin_e3.bin");
    CHECK_EQ(engine_write(img, "/ROBIN_NANO35.BIN", 1000, 3), 0);
    verify(img, "create ROBIN_NANO35.BIN");
    CHECK_EQ(engine_write(img, "/empty.txt", 0, 4), 0);
    verify(img, "create empty");
    CHECK_EQ(engine_op(img, "mkdir", "/New Folder", NULL), 0);
    CHECK_EQ(engine_op(img, "mkdir", "/New Folder/sub", NULL), 0);
    CHECK_EQ(engine_write(img, "/New Folder/sub/A file with a rather long name, and spaces.gcode", 20000, 5), 0);
    verify(img, "create in sub-folder");
    CHECK_EQ(engine_write(img, "/Tools Dir/engine.bin", 777, 6), 0);
    verify(img, "create in mtools folder");

    /* Existing names are refused, case-insensitively, and nothing changes. */
    uint64_t before = fatimg_hash_file(img->path);
    CHECK(engine_write(img, "/FIRMWARE.BIN", 10, 7) < 0);
    CHECK(engine_write(img, "/robin_nano35.bin", 10, 7) < 0);
    CHECK(engine_write(img, "/rObIn_~1.bIn", 10, 7) < 0);
    CHECK(fatimg_hash_file(img->path) == before);

    CHECK_EQ(engine_op(img, "delete", "/Robin_e3.bin", NULL), 0);
    model_get("/Robin_e3.bin")->present = false;
    verify(img, "delete");
    CHECK_EQ(engine_op(img, "delete", "/MT2.BIN", NULL), 0);
    model_get("/MT2.BIN")->present = false;
    verify(img, "delete mtools file");

    CHECK_EQ(engine_op(img, "rename", "/ROBIN_NANO35.BIN", "/renamed to a long name.bin"), 0);
    model_move("/ROBIN_NANO35.BIN", "/renamed to a long name.bin");
    verify(img, "rename");
    CHECK_EQ(engine_op(img, "rename", "/renamed to a long name.bin", "/New Folder/moved.bin"), 0);
    model_move("/renamed to a long name.bin", "/New Folder/moved.bin");
    verify(img, "move to folder");
    CHECK_EQ(engine_op(img, "rename", "/firmware.bin", "/FIRMWARE.BIN"), 0);
    verify(img, "case-only rename");

    /* Replace: without the flag refused, with it atomic in place. */
    CHECK_EQ(engine_write(img, "/new.tmp", 2 * l->cluster + 9, 8), 0);
    before = fatimg_hash_file(img->path);
    CHECK(engine_op(img, "rename", "/new.tmp", "/firmware.bin") < 0);
    CHECK(fatimg_hash_file(img->path) == before);
    CHECK_EQ(engine_op(img, "replace", "/new.tmp", "/firmware.bin"), 0);
    model_move("/new.tmp", "/firmware.bin");
    verify(img, "replace");
    CHECK_EQ(engine_op(img, "replace", "/Tools Dir/mtools file 1.dat", "/MT0.BIN"), 0);
    model_move("/Tools Dir/mtools file 1.dat", "/MT0.BIN");
    verify(img, "replace across folders");

    /* Folders: not empty -> refused; emptied -> deleted. */
    CHECK(engine_op(img, "delete", "/New Folder/sub", NULL) < 0);
    CHECK_EQ(engine_op(img, "delete", "/New Folder/sub/A file with a rather long name, and spaces.gcode", NULL), 0);
    model_get("/New Folder/sub/A file with a rather long name, and spaces.gcode")->present = false;
    CHECK_EQ(engine_op(img, "delete", "/New Folder/sub", NULL), 0);
    CHECK_EQ(engine_op(img, "rename", "/New Folder", "/Old Folder"), 0);
    model_move("/New Folder/moved.bin", "/Old Folder/moved.bin");
    verify(img, "folder delete and rename");
}

/* The engine's report against fsck.fat's "files, used/total clusters" line. */
static void check_info(const struct fatimg *img, const struct layout *l)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, true, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct fat_info info;
    struct mf_err err = { 0 };
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    CHECK_EQ(info.type, l->type);
    CHECK_EQ(info.cluster_bytes, l->cluster);
    CHECK_EQ(info.partition_lba, l->mbr_start);
    CHECK_STR(info.label, "CARD");
    CHECK(info.free_exact);
    CHECK(!info.writable);  /* opened read-only */
    char out[4096];
    CHECK_EQ(fatimg_fsck(img, out, sizeof(out)), 0);
    const char *p = strstr(out, "files, ");
    unsigned long used = 0, total = 0;
    CHECK(p && sscanf(p, "files, %lu/%lu clusters", &used, &total) == 2);
    CHECK_EQ(info.cluster_count, total);
    CHECK_EQ(info.free_clusters, total - used);
    CHECK_EQ(info.total_bytes, (uint64_t)total * l->cluster);
    fatimg_unmount(&fv);
}

static void run_layout(const struct layout *l)
{
    struct fatimg img;
    char opts[200];
    snprintf(opts, sizeof(opts), "%s -n CARD", l->opts);
    int rc = l->mbr_start ? fatimg_make_mbr(&img, l->tag, l->mbr_start, l->kib, l->type == FAT_TYPE_32 ? 0x0C : 0x06, opts)
                          : fatimg_make(&img, l->tag, l->kib, opts);
    CHECK_EQ(rc, 0);
    if (rc < 0)
        return;
    fprintf(stderr, "layout %s\n", l->tag);
    check_info(&img, l);
    mtools_files(&img, l);
    engine_files(&img, l);
    check_info(&img, l);
    model_clear();
    unlink(img.path);
}

int main(void)
{
    for (unsigned i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++)
        run_layout(&layouts[i]);
    return check_report("test_fat_rw");
}
