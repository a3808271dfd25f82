/* Damaged images (cycles, out-of-range links, chains into free or bad
 * clusters, size/chain mismatches, looping folders, bad start clusters):
 * reading reports damage instead of hanging or crashing, and every change
 * that would touch the damage is refused with the image byte-identical. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

/* The geometry, read here from the boot sector independently of the engine. */
struct geo {
    int bits;
    long fat_off, fat_bytes, root_off;
    uint32_t clusters;
};

static uint32_t le(const uint8_t *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int read_geo(const char *path, int bits, struct geo *g)
{
    uint8_t b[512];
    FILE *f = fopen(path, "rb");
    if (!f || fread(b, 1, 512, f) != 512) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    uint32_t spc = b[13], rsvd = le(b + 14, 2), nfats = b[16], rootents = le(b + 17, 2);
    uint32_t fatsz = le(b + 22, 2) ? le(b + 22, 2) : le(b + 36, 4);
    uint32_t tot = le(b + 19, 2) ? le(b + 19, 2) : le(b + 32, 4);
    uint32_t data = rsvd + nfats * fatsz + (rootents * 32 + 511) / 512;
    g->bits = bits;
    g->fat_off = rsvd * 512L;
    g->fat_bytes = fatsz * 512L;
    g->clusters = (tot - data) / spc;
    g->root_off = bits == 32 ? (data + (le(b + 44, 4) - 2) * spc) * 512L : (rsvd + nfats * fatsz) * 512L;
    return 0;
}

/* Set a FAT entry in both copies. */
static void poke_fat(const char *path, const struct geo *g, uint32_t n, uint32_t val)
{
    FILE *f = fopen(path, "r+b");
    for (int copy = 0; copy < 2 && f; copy++) {
        long base = g->fat_off + copy * g->fat_bytes;
        uint8_t b[4];
        if (g->bits == 12) {
            long off = base + n + n / 2;
            fseek(f, off, SEEK_SET);
            if (fread(b, 1, 2, f) != 2)
                break;
            uint32_t w = le(b, 2);
            w = (n & 1) ? (w & 0x000F) | (val & 0xFFF) << 4 : (w & 0xF000) | (val & 0xFFF);
            b[0] = (uint8_t)w;
            b[1] = (uint8_t)(w >> 8);
            fseek(f, off, SEEK_SET);
            fwrite(b, 1, 2, f);
        } else {
            int w = g->bits / 8;
            for (int i = 0; i < w; i++)
                b[i] = (uint8_t)(val >> (8 * i));
            fseek(f, base + (long)n * w, SEEK_SET);
            fwrite(b, 1, (size_t)w, f);
        }
    }
    if (f)
        fclose(f);
}

/* Patch bytes of the root entry with short name sfn11. */
static void poke_entry(const char *path, const struct geo *g, const char *sfn11, int at, uint32_t val, int n)
{
    FILE *f = fopen(path, "r+b");
    uint8_t e[32];
    for (long i = 0; f && i < 512; i++) {
        fseek(f, g->root_off + i * 32, SEEK_SET);
        if (fread(e, 1, 32, f) != 32)
            break;
        if (memcmp(e, sfn11, 11) == 0) {
            for (int k = 0; k < n; k++)
                e[at + k] = (uint8_t)(val >> (8 * k));
            fseek(f, g->root_off + i * 32, SEEK_SET);
            fwrite(e, 1, 32, f);
            break;
        }
    }
    if (f)
        fclose(f);
}

/* First cluster and length of a file's chain, from mshowfat ("<3-7>"). */
static int chain_of(const struct fatimg *img, const char *path, uint32_t *first, uint32_t *count)
{
    char out[1024];
    unsigned a, b;
    if (fatimg_sh(out, sizeof(out), "mshowfat -i '%s' '::%s'", img->path, path) != 0)
        return -1;
    const char *p = strchr(out, '<');
    if (!p || strchr(p + 1, '<'))
        return -1;  /* want one run */
    if (sscanf(p, "<%u-%u>", &a, &b) == 2) {
        *first = a;
        *count = b - a + 1;
        return 0;
    }
    if (sscanf(p, "<%u>", &a) == 1) {
        *first = a;
        *count = 1;
        return 0;
    }
    return -1;
}

static void put(const struct fatimg *img, const char *path, size_t len, uint32_t seed)
{
    CHECK_EQ(fatimg_put_seeded(img, path, len, seed), 0);
}

static bool is_damage(const struct mf_err *err)
{
    return err->code == MF_E_FS && strstr(err->msg, "damaged") && strstr(err->msg, "nothing was changed");
}

/* The victim file is damaged: reading fails cleanly, changes touching it are
 * refused and change nothing, the other file still reads. */
static void expect_damaged_file(const struct fatimg *img, const char *what)
{
    uint64_t before = fatimg_hash_file(img->path);
    struct fatimg_vol fv;
    if (fatimg_mount(img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct mf_err err = { 0 };
    uint8_t *data = NULL;
    size_t len;
    int rc = fatimg_read_fat(fv.vol, "/victim.bin", &data, &len, &err);
    CHECK_EQ(rc, -1);
    CHECK(is_damage(&err));
    if (rc == 0 || !is_damage(&err))
        fprintf(stderr, "%s: read gave %d: %s\n", what, rc, err.msg);
    free(rc == 0 ? data : NULL);
    CHECK_EQ(fatimg_read_fat(fv.vol, "/other.bin", &data, &len, &err), 0);
    CHECK_EQ(len, 3000);
    free(data);
    CHECK_EQ(fat_delete(fv.vol, "/victim.bin", &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fat_rename(fv.vol, "/other.bin", "/victim.bin", FAT_RENAME_REPLACE, &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fat_rename(fv.vol, "/victim.bin", "/renamed.bin", 0, &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fv.bd->sectors_written, 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img->path) == before);
    if (fatimg_hash_file(img->path) != before)
        fprintf(stderr, "%s: image changed\n", what);
}

static void expect_damaged_dir(const struct fatimg *img, const char *what)
{
    uint64_t before = fatimg_hash_file(img->path);
    struct fatimg_vol fv;
    if (fatimg_mount(img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct mf_err err = { 0 };
    struct fat_dir *d;
    int rc = fat_dir_open(fv.vol, "/sub", &d, &err);
    if (rc == 0) {
        struct fat_entry e;
        int steps = 0;
        while ((rc = fat_dir_next(d, &e, &err)) == 1 && steps < 100000)
            steps++;
        fat_dir_close(d);
    }
    CHECK_EQ(rc, -1);
    CHECK(is_damage(&err));
    if (!is_damage(&err))
        fprintf(stderr, "%s: listing gave %d: %s\n", what, rc, err.msg);
    CHECK_EQ(fat_write_file(fv.vol, "/sub/new.bin", "abc", 3, &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fat_delete(fv.vol, "/sub", &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fat_rename(fv.vol, "/sub", "/sub2", 0, &err), -1);
    CHECK(is_damage(&err));
    CHECK_EQ(fv.bd->sectors_written, 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img->path) == before);
}

/* Elsewhere the card is still usable, and fsck.fat agrees there is damage. */
static void expect_rest_usable(const struct fatimg *img)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct mf_err err = { 0 };
    CHECK_EQ(fat_write_file(fv.vol, "/fresh.bin", "fresh", 5, &err), 0);
    fatimg_unmount(&fv);
    uint8_t *got;
    size_t len;
    CHECK_EQ(fatimg_mread(img, "/fresh.bin", &got, &len), 0);
    CHECK_EQ(len, 5);
    free(got);
    char out[8192];
    CHECK_EQ(fatimg_fsck(img, out, sizeof(out)), 1);
}

struct layout {
    const char *tag;
    unsigned kib;
    const char *opts;
    int bits;
    uint32_t eoc, bad;
};

static void run(const struct layout *l)
{
    struct fatimg base;
    CHECK_EQ(fatimg_make(&base, l->tag, l->kib, l->opts), 0);
    struct geo g = { 0 };
    CHECK_EQ(read_geo(base.path, l->bits, &g), 0);
    uint32_t spc = 0;
    {
        uint8_t b[512];
        FILE *f = fopen(base.path, "rb");
        if (f && fread(b, 1, 512, f) == 512)
            spc = b[13];
        if (f)
            fclose(f);
    }
    size_t cb = spc * 512;
    put(&base, "/other.bin", 3000, 1);
    put(&base, "/victim.bin", 5 * cb - 100, 2);
    CHECK_EQ(fatimg_mmd(&base, "/sub"), 0);
    put(&base, "/sub/inside.bin", 100, 3);
    uint32_t c0 = 0, n = 0, d0 = 0, dn = 0;
    CHECK_EQ(chain_of(&base, "/victim.bin", &c0, &n), 0);
    CHECK_EQ(n, 5);
    CHECK_EQ(chain_of(&base, "/sub", &d0, &dn), 0);
    uint32_t far_free = g.clusters;  /* the last cluster: free on these images */

    struct {
        const char *what;
        uint32_t at, val;
    } cases[] = {
        { "cycle back", c0 + 4, c0 + 1 },
        { "cycle on itself", c0, c0 },
        { "link out of range", c0 + 2, g.clusters + 5 },
        { "link to cluster 1", c0 + 2, 1 },
        { "chain into free cluster", c0 + 2, far_free },
        { "chain too short", c0 + 2, l->eoc },
        { "chain into bad cluster", c0 + 2, l->bad },
        { "chain too long", c0 + 4, far_free },
    };
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fatimg img;
        CHECK_EQ(fatimg_copy(&base, &img, "corrupt"), 0);
        poke_fat(img.path, &g, cases[i].at, cases[i].val);
        if (strcmp(cases[i].what, "chain too long") == 0)
            poke_fat(img.path, &g, far_free, l->eoc);
        expect_damaged_file(&img, cases[i].what);
        expect_rest_usable(&img);
        unlink(img.path);
    }

    /* Directory entry fields: start cluster out of range, size too big. */
    struct fatimg img;
    CHECK_EQ(fatimg_copy(&base, &img, "corrupt"), 0);
    poke_entry(img.path, &g, "VICTIM  BIN", 26, g.clusters + 10, 2);
    if (l->bits == 32)
        poke_entry(img.path, &g, "VICTIM  BIN", 20, (g.clusters + 10) >> 16, 2);
    expect_damaged_file(&img, "start out of range");
    unlink(img.path);
    CHECK_EQ(fatimg_copy(&base, &img, "corrupt"), 0);
    poke_entry(img.path, &g, "VICTIM  BIN", 28, (uint32_t)(9 * cb), 4);
    expect_damaged_file(&img, "size too big");
    unlink(img.path);

    /* A folder whose chain loops, or runs off the volume. */
    CHECK_EQ(fatimg_copy(&base, &img, "corrupt"), 0);
    poke_fat(img.path, &g, d0, d0);
    expect_damaged_dir(&img, "folder loop");
    unlink(img.path);
    CHECK_EQ(fatimg_copy(&base, &img, "corrupt"), 0);
    poke_fat(img.path, &g, d0, g.clusters + 7);
    expect_damaged_dir(&img, "folder out of range");
    unlink(img.path);
    unlink(base.path);
}

int main(void)
{
    alarm(240);  /* a hang is a failure */
    static const struct layout layouts[] = {
        { "c12", 2048, "-F 12 -s 2", 12, 0xFFF, 0xFF7 },
        { "c16", 16384, "-F 16 -s 4", 16, 0xFFFF, 0xFFF7 },
        { "c32", 40960, "-F 32 -s 1", 32, 0x0FFFFFFF, 0x0FFFFFF7 },
    };
    for (unsigned i = 0; i < 3; i++)
        run(&layouts[i]);
    return check_report("test_fat_corrupt");
}
