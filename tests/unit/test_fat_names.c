/* Names: 8.3 with NT case flags, long names, numeric tails, case-insensitive
 * lookups, code page 437, and directories with hundreds of entries written
 * by mtools and by the engine. */
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fat/fat_priv.h"
#include "fatimg.h"

static void plan_ok(const char *name, const char *sfn, uint8_t nt, bool lfn, bool tail)
{
    struct name_plan p;
    struct mf_err err = { 0 };
    int rc = name_plan_make(name, strlen(name), &p, &err);
    CHECK_EQ(rc, 0);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return;
    }
    uint8_t got[12] = { 0 };
    if (tail)
        sfn_with_tail(p.sfn, 1, got);
    else
        memcpy(got, p.sfn, 11);
    CHECK_STR((char *)got, sfn);
    CHECK_EQ(p.nt, nt);
    CHECK_EQ(p.need_lfn, lfn);
    CHECK_EQ(p.need_tail, tail);
}

static void plan_bad(const char *name, size_t len)
{
    struct name_plan p;
    struct mf_err err = { 0 };
    CHECK_EQ(name_plan_make(name, len, &p, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
}

static void test_name_plans(void)
{
    plan_ok("firmware.bin", "FIRMWAREBIN", 0x18, false, false);
    plan_ok("FIRMWARE.CUR", "FIRMWARECUR", 0x00, false, false);
    plan_ok("old.bin", "OLD     BIN", 0x18, false, false);
    plan_ok("FIRMWARE.bin", "FIRMWAREBIN", 0x10, false, false);
    plan_ok("readme", "README     ", 0x08, false, false);
    plan_ok("Robin_e3.bin", "ROBIN_E3BIN", 0x00, true, false);
    plan_ok("Firmware.BIN", "FIRMWAREBIN", 0x00, true, false);
    plan_ok("ROBIN_NANO35.BIN", "ROBIN_~1BIN", 0x00, true, true);
    plan_ok("ZNP_ROBIN_NANO.bin", "ZNP_RO~1BIN", 0x00, true, true);
    plan_ok("20250930031500firmware.bin", "202509~1BIN", 0x00, true, true);
    plan_ok("my file.txt", "MYFILE~1TXT", 0x00, true, true);
    plan_ok("a.b.c", "AB~1    C  ", 0x00, true, true);
    plan_ok(".hidden", "HIDDEN~1   ", 0x00, true, true);
    plan_ok("x+y=z;[1].gcode", "X_Y_Z_~1GCO", 0x00, true, true);
    plan_ok("pr\xc3\xbc" "fung.bin", "PR_FUN~1BIN", 0x00, true, true);
    plan_bad("a:b", 3);
    plan_bad("what?", 5);
    plan_bad("", 0);
    plan_bad("name.", 5);
    plan_bad(" lead", 5);
    plan_bad("trail ", 6);
    plan_bad("x\x01y", 3);
    plan_bad("bad\xff", 4);
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    plan_bad(longname, 256);
    plan_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "AAAAAA~1   ", 0, true, true);

    uint8_t out[12] = { 0 };
    sfn_with_tail((const uint8_t *)"AB      TXT", 123456, out);
    CHECK_STR((char *)out, "A~123456TXT");
}

static void test_text(void)
{
    /* Code page 437 against the C library's converter. */
    iconv_t cd = iconv_open("UTF-8", "CP437");
    CHECK(cd != (iconv_t)-1);
    for (unsigned b = 0x80; cd != (iconv_t)-1 && b <= 0xFF; b++) {
        uint8_t ent[32];
        memset(ent, ' ', 11);
        ent[0] = 'A';
        ent[1] = (uint8_t)b;
        ent[12] = 0;
        char ours[40];
        sfn_to_text(ent, ours, sizeof(ours));
        char in[3] = { 'A', (char)b, 0 }, theirs[16] = { 0 };
        char *ip = in, *op = theirs;
        size_t il = 2, ol = sizeof(theirs) - 1;
        CHECK(iconv(cd, &ip, &il, &op, &ol) != (size_t)-1);
        CHECK_STR(ours, theirs);
    }
    if (cd != (iconv_t)-1)
        iconv_close(cd);

    CHECK_EQ(fat_upcase(0xE4), 0xC4);
    CHECK_EQ(fat_upcase(0xFF), 0x178);
    CHECK_EQ(fat_upcase(0x3B1), 0x391);
    CHECK_EQ(fat_upcase(0x3C2), 0x3A3);
    CHECK_EQ(fat_upcase(0x430), 0x410);
    CHECK_EQ(fat_upcase(0x451), 0x401);
    CHECK_EQ(fat_upcase(0x101), 0x100);
    CHECK_EQ(fat_upcase(0x17E), 0x17D);
    CHECK_EQ(fat_upcase(0xF7), 0xF7);
    CHECK_EQ(fat_upcase('q'), 'Q');

    uint16_t u[8];
    uint32_t n;
    CHECK_EQ(utf8_to_utf16("\xf0\x9f\x98\x80x", 5, u, 8, &n), 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(u[0], 0xD83D);
    CHECK_EQ(u[1], 0xDE00);
    char back[16];
    CHECK_EQ(utf16_to_utf8(u, n, back, sizeof(back)), 5);
    CHECK_STR(back, "\xf0\x9f\x98\x80x");
    CHECK_EQ(utf8_to_utf16("\xc0\xaf", 2, u, 8, &n), -1);      /* overlong */
    CHECK_EQ(utf8_to_utf16("\xed\xa0\x80", 3, u, 8, &n), -1);  /* surrogate */
}

/* Raw root-directory entries of a FAT16 superfloppy, parsed here independently. */
static int raw_root(const struct fatimg *img, uint8_t **root, size_t *nent)
{
    uint8_t *all;
    size_t len;
    if (fatimg_read_local(img->path, &all, &len) < 0)
        return -1;
    const uint8_t *b = all;
    size_t rsvd = b[14] | b[15] << 8, nfats = b[16], entries = b[17] | b[18] << 8;
    size_t fatsz = b[22] | b[23] << 8;
    size_t off = (rsvd + nfats * fatsz) * 512;
    *root = malloc(entries * 32);
    memcpy(*root, all + off, entries * 32);
    *nent = entries;
    free(all);
    return 0;
}

static const uint8_t *raw_find(const uint8_t *root, size_t n, const char *sfn11, size_t *index)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(root + 32 * i, sfn11, 11) == 0 && root[32 * i + 11] != 0x0F) {
            *index = i;
            return root + 32 * i;
        }
    return NULL;
}

static void write_small(struct fat_volume *vol, const char *path, uint32_t seed)
{
    uint8_t d[100];
    fatimg_fill(d, sizeof(d), seed);
    struct mf_err err = { 0 };
    int rc = fat_write_file(vol, path, d, sizeof(d), &err);
    CHECK_EQ(rc, 0);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", path, err.msg);
}

static void test_entries_on_card(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "names", 16384, "-F 16 -s 4"), 0);
    struct fatimg_vol fv;
    if (fatimg_mount(&img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    write_small(fv.vol, "/firmware.bin", 1);
    write_small(fv.vol, "/Robin_e3.bin", 2);
    write_small(fv.vol, "/ROBIN_NANO35.BIN", 3);
    write_small(fv.vol, "/ROBIN_NANO35_V2.BIN", 4);
    write_small(fv.vol, "/pr\xc3\xbc" "fung \xce\xb1\xce\xb2.bin", 5);
    for (int i = 0; i < 12; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/Long File Name Number %d.txt", i);
        write_small(fv.vol, p, 10 + (uint32_t)i);
    }
    /* Lookups ignore case, and find short names too. */
    struct fat_entry e;
    struct mf_err err = { 0 };
    CHECK_EQ(fat_stat(fv.vol, "/FIRMWARE.BIN", &e, &err), 1);
    CHECK_STR(e.name, "firmware.bin");
    CHECK_STR(e.short_name, "FIRMWARE.BIN");
    CHECK(!e.has_long_name);
    CHECK_EQ(e.attr, FAT_ATTR_ARCHIVE);
    CHECK_EQ(e.modified.year, 2023);
    CHECK_EQ(e.modified.month, 11);
    CHECK_EQ(e.modified.day, 14);
    CHECK_EQ(e.modified.hour, 22);
    CHECK_EQ(e.modified.minute, 13);
    CHECK_EQ(e.modified.second, 20);
    CHECK_EQ(fat_stat(fv.vol, "/robin_~2.bin", &e, &err), 1);
    CHECK_STR(e.name, "ROBIN_NANO35_V2.BIN");
    CHECK_EQ(fat_stat(fv.vol, "/PR\xc3\x9c" "FUNG \xce\x91\xce\x92.BIN", &e, &err), 1);
    CHECK_STR(e.short_name, "PR_FUN~1.BIN");
    CHECK_EQ(fat_stat(fv.vol, "/long file name number 11.TXT", &e, &err), 1);
    CHECK_STR(e.short_name, "LONGF~12.TXT");
    CHECK_EQ(fat_stat(fv.vol, "/nope.bin", &e, &err), 0);
    CHECK_EQ(fat_stat(fv.vol, "/", &e, &err), 1);
    CHECK_EQ(e.attr, FAT_ATTR_DIRECTORY);
    fatimg_unmount(&fv);

    char out[16384];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);
    /* mtools shows NT-flagged names in lower case and long names beside short ones. */
    CHECK_EQ(fatimg_sh(out, sizeof(out), "mdir -i '%s' ::", img.path), 0);
    CHECK(strstr(out, "firmware bin ") != NULL);
    CHECK(strstr(out, "ROBIN_E3 BIN") && strstr(out, "Robin_e3.bin"));
    CHECK(strstr(out, "ROBIN_~1 BIN") && strstr(out, "ROBIN_NANO35.BIN"));
    CHECK(strstr(out, "ROBIN_~2 BIN") && strstr(out, "ROBIN_NANO35_V2.BIN"));
    CHECK(strstr(out, "LONGFI~9 TXT") && strstr(out, "LONGF~10 TXT"));
    CHECK(strstr(out, "17 files") != NULL);

    /* The raw entries: one short entry with flags 0x18 and no long slots
     * before it; long names with the right checksum before theirs. */
    uint8_t *root = NULL;
    size_t n = 0, idx = 0;
    CHECK_EQ(raw_root(&img, &root, &n), 0);
    const uint8_t *fw = raw_find(root, n, "FIRMWAREBIN", &idx);
    CHECK(fw != NULL);
    if (fw) {
        CHECK_EQ(fw[12], 0x18);
        CHECK(idx == 0 || root[32 * (idx - 1) + 11] != 0x0F);
    }
    const uint8_t *r = raw_find(root, n, "ROBIN_E3BIN", &idx);
    CHECK(r && idx >= 1);
    if (r && idx >= 1) {
        const uint8_t *slot = root + 32 * (idx - 1);
        uint8_t sum = 0;
        for (int i = 0; i < 11; i++)
            sum = (uint8_t)(((sum & 1) ? 0x80 : 0) + (sum >> 1) + r[i]);
        CHECK_EQ(slot[11], 0x0F);
        CHECK_EQ(slot[0], 0x41);
        CHECK_EQ(slot[13], sum);
        CHECK_EQ(r[12], 0);
    }
    free(root);
    unlink(img.path);
}

/* Keep creating long-named files in the fixed FAT16 root until it is full. */
static void test_root_full(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "rootfull", 16384, "-F 16 -s 4 -r 64"), 0);
    struct fatimg_vol fv;
    if (fatimg_mount(&img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct mf_err err = { 0 };
    int made = 0;
    for (; made < 100; made++) {
        char p[64];
        snprintf(p, sizeof(p), "/Name with long form %d.dat", made);
        if (fat_write_file(fv.vol, p, "x", 1, &err) < 0)
            break;
    }
    fatimg_unmount(&fv);
    CHECK_EQ(made, 20);  /* 64 entries: 3 per file, kept inside one 16-entry sector */
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "root directory") != NULL);
    char out[4096];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);
    unlink(img.path);
}

static void check_listing(struct fat_volume *vol, const char *dir, int count, const char *fmt)
{
    struct fat_dir *d;
    struct mf_err err = { 0 };
    CHECK_EQ(fat_dir_open(vol, dir, &d, &err), 0);
    char *seen = calloc((size_t)count, 1);
    int n = 0, r;
    struct fat_entry e;
    while ((r = fat_dir_next(d, &e, &err)) == 1) {
        int k;
        char expect[300];
        n++;
        if (sscanf(strrchr(e.name, ' ') ? strrchr(e.name, ' ') + 1 : e.name, "%d", &k) != 1 || k < 0 ||
            k >= count) {
            CHECK(0);
            continue;
        }
        snprintf(expect, sizeof(expect), fmt, k);
        CHECK_STR(e.name, expect);
        CHECK_EQ(e.size, (uint32_t)(k * 7));
        seen[k]++;
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(n, count);
    for (int k = 0; k < count; k++)
        CHECK_EQ(seen[k], 1);
    free(seen);
    fat_dir_close(d);
}

static void test_big_dirs(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "bigdir", 40960, "-F 32 -s 1"), 0);
    /* mtools writes 400 files into one folder. */
    char local[600];
    fatimg_tmpname(local, sizeof(local), "many", "");
    CHECK_EQ(fatimg_sh(NULL, 0, "mkdir -p '%s'", local), 0);
    for (int k = 0; k < 400; k++) {
        char p[700];
        uint8_t d[3000];
        snprintf(p, sizeof(p), "%s/mtools %d", local, k);
        fatimg_fill(d, (size_t)k * 7, (uint32_t)k);
        fatimg_write_local(p, d, (size_t)k * 7);
    }
    CHECK_EQ(fatimg_mmd(&img, "/by mtools"), 0);
    char spec[600];
    fatimg_mspec(&img, spec, sizeof(spec));
    CHECK_EQ(fatimg_sh(NULL, 0, "mcopy -i '%s' '%s'/* '::/by mtools/'", spec, local), 0);
    fatimg_sh(NULL, 0, "rm -rf '%s'", local);

    struct fatimg_vol fv;
    if (fatimg_mount(&img, false, &fv) < 0) {
        CHECK(0);
        return;
    }
    check_listing(fv.vol, "/by mtools", 400, "mtools %d");
    for (int k = 0; k < 400; k += 37) {
        char p[64];
        uint8_t *got, want[3000];
        size_t len;
        struct mf_err err = { 0 };
        snprintf(p, sizeof(p), "/BY MTOOLS/MTOOLS %d", k);
        fatimg_fill(want, (size_t)k * 7, (uint32_t)k);
        CHECK_EQ(fatimg_read_fat(fv.vol, p, &got, &len, &err), 0);
        CHECK_EQ(len, (size_t)k * 7);
        CHECK_MEM(got, want, len);
        free(got);
    }
    /* The engine writes 300 files into a new folder (which grows many times). */
    struct mf_err err = { 0 };
    CHECK_EQ(fat_mkdir(fv.vol, "/by engine", &err), 0);
    for (int k = 0; k < 300; k++) {
        char p[80];
        uint8_t d[3000];
        snprintf(p, sizeof(p), "/by engine/engine file %d", k);
        fatimg_fill(d, (size_t)k * 7, (uint32_t)k + 1000);
        if (fat_write_file(fv.vol, p, d, (uint32_t)k * 7, &err) < 0) {
            fprintf(stderr, "%s: %s\n", p, err.msg);
            CHECK(0);
            break;
        }
    }
    check_listing(fv.vol, "/by engine", 300, "engine file %d");
    fatimg_unmount(&fv);

    char out[16384];
    int rc = fatimg_fsck(&img, out, sizeof(out));
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "%s\n", out);
    CHECK_EQ(fatimg_sh(out, sizeof(out), "mdir -i '%s' '::/by engine' | tail -3", spec), 0);
    CHECK(strstr(out, " 302 files") != NULL);  /* mdir counts "." and ".." */
    if (!strstr(out, " 302 files"))
        fprintf(stderr, "mdir: %s\n", out);
    for (int k = 0; k < 300; k += 29) {
        char p[80];
        uint8_t *got, want[3000];
        size_t len;
        snprintf(p, sizeof(p), "/by engine/engine file %d", k);
        fatimg_fill(want, (size_t)k * 7, (uint32_t)k + 1000);
        CHECK_EQ(fatimg_mread(&img, p, &got, &len), 0);
        CHECK_EQ(len, (size_t)k * 7);
        CHECK_MEM(got, want, len);
        free(got);
    }
    unlink(img.path);
}

int main(void)
{
    setenv("TZ", "UTC0", 1);
    tzset();
    test_name_plans();
    test_text();
    test_entries_on_card();
    test_root_full();
    test_big_dirs();
    return check_report("test_fat_names");
}
