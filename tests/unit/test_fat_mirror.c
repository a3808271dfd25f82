/* FAT copies left different by a write cut between them, and FSInfo's free
 * count across a change: a second copy behind an intact first one is brought
 * up to date before a change writes anything else (never by a read-only
 * mount), a first copy with invalid entries is refused, and FSInfo reads
 * "unknown" on the card from the first change until unmount, written once
 * per mount. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

struct layout {
    long fat1, fatsz;  /* byte offsets and sizes in the image */
};

static void io(const char *path, long off, void *bytes, size_t n, bool write)
{
    FILE *f = fopen(path, write ? "r+b" : "rb");
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ(fseek(f, off, SEEK_SET), 0);
    CHECK_EQ(write ? fwrite(bytes, 1, n, f) : fread(bytes, 1, n, f), n);
    fclose(f);
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static struct layout layout_of(const struct fatimg *img)
{
    uint8_t b[512];
    io(img->path, 0, b, sizeof(b), false);
    uint32_t fatsz = b[22] | b[23] << 8;
    if (!fatsz)
        fatsz = le32(b + 36);
    return (struct layout){ .fat1 = (long)(b[14] | b[15] << 8) * 512, .fatsz = (long)fatsz * 512 };
}

static bool copies_equal(const struct fatimg *img)
{
    struct layout l = layout_of(img);
    uint8_t *a = malloc((size_t)l.fatsz), *b = malloc((size_t)l.fatsz);
    io(img->path, l.fat1, a, (size_t)l.fatsz, false);
    io(img->path, l.fat1 + l.fatsz, b, (size_t)l.fatsz, false);
    bool same = memcmp(a, b, (size_t)l.fatsz) == 0;
    free(a);
    free(b);
    return same;
}

/* fsck.fat -n finds nothing to say beyond its banner and summary. */
static void fsck_silent(const struct fatimg *img, const char *when)
{
    char out[8192];
    int rc = fatimg_fsck(img, out, sizeof(out));
    int lines = 0;
    for (const char *p = out; *p; p++)
        lines += *p == '\n';
    CHECK_EQ(rc, 0);
    CHECK_EQ(lines, 2);
    if (rc || lines != 2)
        fprintf(stderr, "%s: fsck.fat says:\n%s\n", when, out);
}

/* Second copy behind: the first 32 FAT bytes of copy 2 as mkfs left them,
 * the file linked only in copy 1 (a cut between the two copies). */
static void make_lagging(struct fatimg *img, const char *tag, unsigned kib, const char *opts, long lag_at)
{
    CHECK_EQ(fatimg_make(img, tag, kib, opts), 0);
    struct layout l = layout_of(img);
    uint8_t before[64];
    io(img->path, l.fat1 + lag_at, before, sizeof(before), false);
    CHECK_EQ(fatimg_put_seeded(img, "/old.bin", 20000, 1), 0);
    char name[32];
    for (int i = 0; i < 40; i++) {  /* enough files to reach lag_at */
        snprintf(name, sizeof(name), "/f%02d.bin", i);
        CHECK_EQ(fatimg_put_seeded(img, name, 3000, (uint32_t)i + 10), 0);
    }
    io(img->path, l.fat1 + l.fatsz + lag_at, before, sizeof(before), true);
    CHECK(!copies_equal(img));
}

static void lagging_copy_brought_up_to_date(const char *tag, unsigned kib, const char *opts, long lag_at,
                                            bool fsinfo_unknown)
{
    struct fatimg img;
    make_lagging(&img, tag, kib, opts, lag_at);
    if (fsinfo_unknown) {
        uint8_t unknown[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
        io(img.path, 512 + 488, unknown, 4, true);
    }
    char out[8192];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 1);  /* it would mirror them */
    CHECK(strstr(out, "FATs differ but appear to be intact") != NULL);

    /* A read-only mount reads the first copy and writes nothing. */
    uint64_t hash = fatimg_hash_file(img.path);
    struct fatimg_vol fv;
    struct mf_err err = { 0 };
    uint8_t *data;
    size_t len;
    CHECK_EQ(fatimg_mount(&img, true, &fv), 0);
    data = NULL;
    len = 0;
    CHECK_EQ(fatimg_read_fat(fv.vol, "/f39.bin", &data, &len, &err), 0);
    CHECK_EQ(len, 3000);
    free(data);
    CHECK_EQ(fat_copies_resynced(fv.vol), 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img.path) == hash);

    /* A writable mount that only reads changes nothing either. */
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    data = NULL;
    CHECK_EQ(fatimg_read_fat(fv.vol, "/old.bin", &data, &len, &err), 0);
    free(data);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img.path) == hash);

    /* The first change mirrors the first copy, says so, and goes ahead. */
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fat_copies_resynced(fv.vol), 0);
    CHECK_EQ(fat_delete(fv.vol, "/old.bin", &err), 0);
    CHECK(fat_copies_resynced(fv.vol) >= 1);
    uint32_t resynced = fat_copies_resynced(fv.vol);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/new.bin", 5000, 99, &err), 0);
    CHECK_EQ(fat_copies_resynced(fv.vol), resynced);  /* once, not per change */
    fatimg_unmount(&fv);
    CHECK(copies_equal(&img));
    fsck_silent(&img, tag);
    uint8_t *want = malloc(5000);
    fatimg_fill(want, 5000, 99);
    data = NULL;
    len = 0;
    CHECK_EQ(fatimg_mread(&img, "/new.bin", &data, &len), 0);
    CHECK_EQ(len, 5000);
    if (data && len == 5000)
        CHECK_MEM(data, want, 5000);
    free(data);
    free(want);
    unlink(img.path);
}

/* A first copy with an entry no writer produces: damage, refused untouched. */
static void invalid_first_copy_refused(const char *tag, unsigned kib, const char *opts, long lag_at,
                                       const uint8_t *bad, size_t bad_len)
{
    struct fatimg img;
    make_lagging(&img, tag, kib, opts, lag_at);
    struct layout l = layout_of(&img);
    io(img.path, l.fat1 + lag_at, (void *)bad, bad_len, true);
    /* FAT32 after a cut: the count is unknown, so the copies are compared in full. */
    if (strstr(opts, "-F 32")) {
        uint8_t unknown[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
        io(img.path, 512 + 488, unknown, 4, true);
    }
    uint64_t hash = fatimg_hash_file(img.path);
    struct fatimg_vol fv;
    struct mf_err err = { 0 };
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/new.bin", 3000, 5, &err), -1);
    CHECK_EQ(err.code, MF_E_FS);
    CHECK(strstr(err.msg, "FAT copies differ") != NULL);
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
    CHECK_EQ(fat_copies_resynced(fv.vol), 0);
    CHECK_EQ(fv.bd->sectors_written, 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img.path) == hash);
    unlink(img.path);
}

static uint32_t fsinfo_free(const struct fatimg *img)
{
    uint8_t fsi[512];
    io(img->path, 512, fsi, sizeof(fsi), false);
    return le32(fsi + 488);
}

/* FSInfo's count is "unknown" on the card while changes are under way, set
 * once per mount, and exact after unmount. */
static void fsinfo_unknown_while_changing(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "fsiopen", 40960, "-F 32 -s 1"), 0);
    uint32_t at_start = fsinfo_free(&img);
    CHECK(at_start != 0xFFFFFFFFu);
    struct fatimg_vol fv;
    struct mf_err err = { 0 };
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    long w0 = fv.bd->sectors_written;
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/a.bin", 1000, 1, &err), 0);
    long w1 = fv.bd->sectors_written;
    CHECK_EQ(fsinfo_free(&img), 0xFFFFFFFFu);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/b.bin", 1000, 2, &err), 0);
    long w2 = fv.bd->sectors_written;
    CHECK_EQ(fsinfo_free(&img), 0xFFFFFFFFu);
    /* The same change again costs one sector less: FSInfo is not rewritten. */
    CHECK_EQ(w1 - w0, w2 - w1 + 1);
    /* A cut now: fsck.fat accepts the unknown count (it only notes it). */
    char out[8192];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);
    CHECK(strstr(out, "Free cluster summary wrong") == NULL);
    fatimg_unmount(&fv);
    CHECK_EQ(fsinfo_free(&img), at_start - 4);
    fsck_silent(&img, "fsinfo after unmount");

    /* A mount that changes nothing leaves FSInfo alone. */
    uint64_t hash = fatimg_hash_file(img.path);
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct fat_entry e;
    CHECK_EQ(fat_stat(fv.vol, "/a.bin", &e, &err), 1);
    CHECK_EQ(fat_delete(fv.vol, "/missing.bin", &err), -1);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img.path) == hash);
    unlink(img.path);
}

/* The first copy behind (a writer that flushed the second copy first): the
 * clusters only the second copy has in use belong to files whose entries are
 * on the card, so they stay in use and a new file never takes them. */
static void first_copy_behind_keeps_files(const char *tag, unsigned kib, const char *opts, long lag_at)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, tag, kib, opts), 0);
    struct layout l = layout_of(&img);
    uint8_t before[64];
    io(img.path, l.fat1 + lag_at, before, sizeof(before), false);
    char name[32];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "/f%02d.bin", i);
        CHECK_EQ(fatimg_put_seeded(&img, name, 3000, (uint32_t)i + 10), 0);
    }
    io(img.path, l.fat1 + lag_at, before, sizeof(before), true);
    CHECK(!copies_equal(&img));
    if (strstr(opts, "-F 32")) {
        uint8_t unknown[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
        io(img.path, 512 + 488, unknown, 4, true);
    }
    struct fatimg_vol fv;
    struct mf_err err = { 0 };
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/new.bin", 40000, 99, &err), 0);
    CHECK(fat_copies_resynced(fv.vol) >= 1);
    fatimg_unmount(&fv);
    CHECK(copies_equal(&img));
    fsck_silent(&img, tag);
    uint8_t want[40000];
    for (int i = 0; i <= 40; i++) {
        size_t size = i < 40 ? 3000 : 40000;
        uint32_t seed = i < 40 ? (uint32_t)i + 10 : 99;
        if (i < 40)
            snprintf(name, sizeof(name), "/f%02d.bin", i);
        else
            snprintf(name, sizeof(name), "/new.bin");
        uint8_t *data = NULL;
        size_t len = 0;
        fatimg_fill(want, size, seed);
        CHECK_EQ(fatimg_mread(&img, name, &data, &len), 0);
        CHECK_EQ(len, size);
        if (data && len == size && memcmp(data, want, size))
            CHECK_MEM(data, want, size);
        free(data);
    }
    unlink(img.path);
}

int main(void)
{
    /* FAT32 with a valid count: the copies are compared where a change
     * writes, so the lag sits in the FAT sector the new file goes into. */
    lagging_copy_brought_up_to_date("mir32", 40960, "-F 32 -s 1", 0, false);
    /* FAT32 after a cut (count unknown) and FAT16: compared in full, so a
     * lag far from the change is found too. */
    lagging_copy_brought_up_to_date("mir32u", 40960, "-F 32 -s 1", 512, true);
    lagging_copy_brought_up_to_date("mir16", 20480, "-F 16 -s 1", 512, false);
    lagging_copy_brought_up_to_date("mir12", 1440, "-F 12 -s 1", 256, false);

    first_copy_behind_keeps_files("behind32", 40960, "-F 32 -s 1", 512);
    first_copy_behind_keeps_files("behind16", 20480, "-F 16 -s 1", 256);

    static const uint8_t reserved32[4] = { 0xF0, 0xFF, 0xFF, 0x0F };  /* 0x0FFFFFF0 */
    invalid_first_copy_refused("bad32", 40960, "-F 32 -s 1", 64, reserved32, sizeof(reserved32));
    static const uint8_t beyond16[2] = { 0xF0, 0xFF };                /* 0xFFF0 */
    invalid_first_copy_refused("bad16", 20480, "-F 16 -s 1", 64, beyond16, sizeof(beyond16));

    fsinfo_unknown_while_changing();
    return check_report("test_fat_mirror");
}
