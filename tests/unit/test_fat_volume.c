/* Volume-level behaviour: finding the volume (superfloppy, MBR, fake MBR),
 * refusing exFAT / unformatted / GPT / odd sectors / truncated images, the
 * write refusals (write-protected, unclean, full card)
 * that must leave the image byte-identical, contiguous allocation and its
 * fallback, and FSInfo kept exact. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

static int patch(const char *path, long off, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "r+b");
    if (!f)
        return -1;
    int ok = fseek(f, off, SEEK_SET) == 0 && fwrite(bytes, 1, n, f) == n;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

static int peek(const char *path, long off, void *bytes, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    int ok = fseek(f, off, SEEK_SET) == 0 && fread(bytes, 1, n, f) == n;
    fclose(f);
    return ok ? 0 : -1;
}

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

/* Mount must fail with MF_E_FS and a message containing `want`. */
static void expect_mount_error(const char *path, const char *want)
{
    struct blockdev *bd;
    struct mf_err err = { 0 };
    if (blockdev_open_image(path, true, &bd, &err) < 0) {
        CHECK(0);
        return;
    }
    struct fat_volume *vol = NULL;
    CHECK_EQ(fat_mount(bd, &vol, &err), -1);
    CHECK_EQ(err.code, MF_E_FS);
    CHECK(strstr(err.msg, want) != NULL);
    if (!strstr(err.msg, want))
        fprintf(stderr, "expected \"%s\" in: %s\n", want, err.msg);
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
    fat_unmount(vol, NULL);
    blockdev_close(bd);
}

static void blank_image(char *path, size_t cap, const char *tag, unsigned sectors)
{
    fatimg_tmpname(path, cap, tag, ".img");
    fatimg_sh(NULL, 0, "truncate -s %u '%s'", sectors * 512, path);
}

static void test_detection(void)
{
    char path[600];
    /* Unformatted: zeros, then noise. */
    blank_image(path, sizeof(path), "zeros", 4096);
    expect_mount_error(path, "No FAT filesystem");
    uint8_t noise[512];
    fatimg_fill(noise, sizeof(noise), 7);
    patch(path, 0, noise, sizeof(noise));
    expect_mount_error(path, "No FAT filesystem");

    /* A fake exFAT boot sector, bare and inside an MBR partition. */
    uint8_t ex[512] = { 0xEB, 0x76, 0x90, 'E', 'X', 'F', 'A', 'T', ' ', ' ', ' ' };
    ex[510] = 0x55;
    ex[511] = 0xAA;
    blank_image(path, sizeof(path), "exfat", 8192);
    patch(path, 0, ex, sizeof(ex));
    expect_mount_error(path, "reformat it as FAT32");
    expect_mount_error(path, "exFAT");
    uint8_t mbr[512] = { 0 };
    mbr[446 + 4] = 0x07;
    mbr[446 + 8] = 0x00;
    mbr[446 + 9] = 0x08;  /* start 2048 */
    mbr[446 + 12] = 0x00;
    mbr[446 + 13] = 0x10; /* 4096 sectors */
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    patch(path, 0, mbr, sizeof(mbr));
    patch(path, 2048 * 512, ex, sizeof(ex));
    expect_mount_error(path, "reformat it as FAT32");

    /* An MBR with no partitions; a GPT protective MBR. */
    memset(mbr + 446, 0, 64);
    patch(path, 0, mbr, sizeof(mbr));
    expect_mount_error(path, "No FAT filesystem");
    mbr[446 + 4] = 0xEE;
    mbr[446 + 8] = 1;
    patch(path, 0, mbr, sizeof(mbr));
    expect_mount_error(path, "GPT");
    unlink(path);

    /* 4096-byte logical sectors. */
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "s4096", 65536, "-S 4096 -F 16 -s 1"), 0);
    expect_mount_error(img.path, "not 512 bytes");
    unlink(img.path);

    /* FAT32 forced onto too few clusters: readers would disagree on the type. */
    CHECK_EQ(fatimg_make(&img, "f32small", 40960, "-F 32 -s 8"), 0);
    expect_mount_error(img.path, "FAT type");
    unlink(img.path);

    /* A truncated image. */
    CHECK_EQ(fatimg_make(&img, "trunc", 16384, "-F 16"), 0);
    CHECK_EQ(truncate(img.path, 8192 * 512), 0);
    expect_mount_error(img.path, "truncated");
    unlink(img.path);
}

static void expect_mounts(const struct fatimg *img, uint32_t lba, enum fat_type type)
{
    struct fatimg_vol fv;
    if (fatimg_mount(img, true, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct fat_info info;
    CHECK_EQ(fat_info(fv.vol, false, &info, NULL), 0);
    CHECK_EQ(info.partition_lba, lba);
    CHECK_EQ(info.type, type);
    fatimg_unmount(&fv);
}

static void test_partitions(void)
{
    struct fatimg img;
    /* mkfs.fat --mbr=y puts a partition table into the boot sector itself. */
    CHECK_EQ(fatimg_make(&img, "fakembr", 16384, "-F 16 --mbr=y"), 0);
    expect_mounts(&img, 0, FAT_TYPE_16);
    unlink(img.path);

    /* The first FAT partition is used, after a non-FAT one. */
    CHECK_EQ(fatimg_make_mbr(&img, "twoparts", 4096, 40960, 0x0C, "-F 32 -s 1"), 0);
    uint8_t mbr[512];
    peek(img.path, 0, mbr, sizeof(mbr));
    memcpy(mbr + 446 + 16, mbr + 446, 16);
    uint8_t linux_part[16] = { 0, 0, 0, 0, 0x83, 0, 0, 0, 0x00, 0x08, 0, 0, 0x00, 0x08, 0, 0 };
    memcpy(mbr + 446, linux_part, 16);
    patch(img.path, 0, mbr, sizeof(mbr));
    expect_mounts(&img, 4096, FAT_TYPE_32);
    unlink(img.path);
}

/* Every change refused with `code` and the image byte-identical. */
static void expect_refusals(const struct fatimg *img, bool read_only, enum mf_code code, const char *want)
{
    uint64_t before = fatimg_hash_file(img->path);
    struct fatimg_vol fv;
    if (fatimg_mount(img, read_only, &fv) < 0) {
        CHECK(0);
        return;
    }
    struct fat_info info;
    CHECK_EQ(fat_info(fv.vol, false, &info, NULL), 0);
    CHECK(!info.writable);
    struct mf_err err = { 0 };
    struct fat_writer *w = NULL;
    CHECK_EQ(fat_create(fv.vol, "/new.bin", 10, &w, &err), -1);
    CHECK_EQ(err.code, code);
    CHECK(strstr(err.msg, want) != NULL);
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
    CHECK_EQ(fat_delete(fv.vol, "/keep.bin", &err), -1);
    CHECK_EQ(err.code, code);
    CHECK_EQ(fat_rename(fv.vol, "/keep.bin", "/other.bin", 0, &err), -1);
    CHECK_EQ(fat_mkdir(fv.vol, "/dir", &err), -1);
    CHECK_EQ(err.code, code);
    /* Reading still works. */
    uint8_t *data;
    size_t len;
    CHECK_EQ(fatimg_read_fat(fv.vol, "/keep.bin", &data, &len, &err), 0);
    CHECK_EQ(len, 5000);
    if (len == 5000)
        free(data);
    CHECK_EQ(fv.bd->sectors_written, 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img->path) == before);
}

static void put_keep(const struct fatimg *img)
{
    uint8_t d[5000];
    char local[600];
    fatimg_fill(d, sizeof(d), 3);
    fatimg_tmpname(local, sizeof(local), "keep", ".bin");
    fatimg_write_local(local, d, sizeof(d));
    CHECK_EQ(fatimg_mcopy_in(img, local, "/keep.bin"), 0);
    unlink(local);
}

static void test_refusals(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "wp", 16384, "-F 16"), 0);
    put_keep(&img);
    expect_refusals(&img, true, MF_E_CARD, "write-protected");

    /* Boot-sector dirty bit. */
    uint8_t b;
    peek(img.path, 37, &b, 1);
    b |= 1;
    patch(img.path, 37, &b, 1);
    expect_refusals(&img, false, MF_E_FS, "not cleanly removed");
    b &= (uint8_t)~1;
    patch(img.path, 37, &b, 1);

    /* FAT16 clean-shutdown bit cleared in FAT[1] of both copies. */
    uint8_t bpb[512];
    peek(img.path, 0, bpb, sizeof(bpb));
    long fat1 = (bpb[14] | bpb[15] << 8) * 512L, fatsz = (bpb[22] | bpb[23] << 8) * 512L;
    uint8_t f1[2];
    peek(img.path, fat1 + 2, f1, 2);
    f1[1] &= 0x7F;
    patch(img.path, fat1 + 2, f1, 2);
    patch(img.path, fat1 + fatsz + 2, f1, 2);
    expect_refusals(&img, false, MF_E_FS, "not cleanly removed");
    f1[1] |= 0x80;
    patch(img.path, fat1 + 2, f1, 2);
    patch(img.path, fat1 + fatsz + 2, f1, 2);

    /* A wrong media marker in FAT[0]. */
    uint8_t f0[2];
    peek(img.path, fat1, f0, 2);
    uint8_t bad0[2] = { 0x12, f0[1] };
    patch(img.path, fat1, bad0, 2);
    patch(img.path, fat1 + fatsz, bad0, 2);
    expect_refusals(&img, false, MF_E_FS, "media marker");
    patch(img.path, fat1, f0, 2);
    patch(img.path, fat1 + fatsz, f0, 2);

    /* FAT copies that differ: test_fat_mirror.c. */
    unlink(img.path);
}

/* "::/name <a-b> <c-d>" from mshowfat: the number of runs. */
static int runs_of(const struct fatimg *img, const char *path)
{
    char out[4096];
    if (fatimg_sh(out, sizeof(out), "mshowfat -i '%s' '::%s'", img->path, path) != 0)
        return -1;
    int n = 0;
    for (const char *p = out; (p = strchr(p, '<')) != NULL; p++)
        n++;
    return n;
}

static void test_full_card(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "full", 2048, "-F 12 -s 4"), 0);
    struct fatimg_vol fv;
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct mf_err err = { 0 };
    struct fat_info info;
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    uint32_t cb = info.cluster_bytes, total = info.free_clusters;

    /* Twenty 3-cluster files, then every other one deleted: free space in holes. */
    char p[64];
    for (int i = 0; i < 20; i++) {
        snprintf(p, sizeof(p), "/f%02d.bin", i);
        CHECK_EQ(fatimg_write_seeded(fv.vol, p, 3 * cb - 10, (uint32_t)i, &err), 0);
    }
    CHECK_EQ(runs_of(&img, "/f00.bin"), 1);
    for (int i = 0; i < 20; i += 2) {
        snprintf(p, sizeof(p), "/f%02d.bin", i);
        CHECK_EQ(fat_delete(fv.vol, p, &err), 0);
    }
    /* Fill the big free tail, so only the holes are left. */
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    uint32_t tail = info.free_clusters - 30;
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/tail.bin", tail * cb, 99, &err), 0);
    CHECK_EQ(runs_of(&img, "/tail.bin"), 1);
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    CHECK_EQ(info.free_clusters, 30);

    /* Too big by one byte: refused before anything is written. */
    fatimg_unmount(&fv);
    uint64_t before = fatimg_hash_file(img.path);
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct fat_writer *w = NULL;
    CHECK_EQ(fat_create(fv.vol, "/big.bin", 30 * cb + 1, &w, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "full") != NULL);
    CHECK_EQ(fv.bd->sectors_written, 0);
    fatimg_unmount(&fv);
    CHECK(fatimg_hash_file(img.path) == before);

    /* Exactly the free space fits, spread over the holes. */
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/holes.bin", 30 * cb, 123, &err), 0);
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    CHECK_EQ(info.free_clusters, 0);
    CHECK(total > 30);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/one.bin", 1, 5, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/zero.bin", 0, 5, &err), 0);  /* needs no cluster */
    fatimg_unmount(&fv);
    CHECK_EQ(runs_of(&img, "/holes.bin"), 10);
    char out[4096];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);
    uint8_t *got;
    size_t len;
    CHECK_EQ(fatimg_mread(&img, "/holes.bin", &got, &len), 0);
    uint8_t *want = malloc(30 * cb);
    fatimg_fill(want, 30 * cb, 123);
    CHECK_EQ(len, 30 * cb);
    if (len == 30 * cb)
        CHECK_MEM(got, want, len);
    free(want);
    free(got);
    unlink(img.path);
}

/* FSInfo: exact free count and next-free hint; an unknown count stays unknown. */
static void test_fsinfo(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "fsinfo", 40960, "-F 32 -s 1"), 0);
    uint8_t fsi[512];
    struct fatimg_vol fv;
    struct mf_err err = { 0 };
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/a.bin", 5000, 1, &err), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/b.bin", 7000, 2, &err), 0);
    CHECK_EQ(fat_delete(fv.vol, "/a.bin", &err), 0);
    CHECK_EQ(fat_mkdir(fv.vol, "/d", &err), 0);
    struct fat_entry e;
    CHECK_EQ(fat_stat(fv.vol, "/b.bin", &e, &err), 1);
    uint32_t b_last = e.first_cluster + 7000 / 512;
    struct fat_info quick, exact;
    CHECK_EQ(fat_info(fv.vol, false, &quick, &err), 0);
    fatimg_unmount(&fv);
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fat_info(fv.vol, false, &quick, &err), 0);
    CHECK(!quick.free_exact);
    CHECK_EQ(fat_info(fv.vol, true, &exact, &err), 0);
    CHECK(exact.free_exact);
    CHECK_EQ(quick.free_clusters, exact.free_clusters);
    fatimg_unmount(&fv);
    char out[4096];
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);  /* includes the free count */
    CHECK(strstr(out, "summary") == NULL);
    peek(img.path, 512, fsi, sizeof(fsi));
    CHECK_EQ(le32(fsi + 488), exact.free_clusters);
    CHECK(le32(fsi + 492) > b_last);  /* the folder went after b.bin: hint past both */

    /* Unknown count (what a cut change leaves): the next change counts the
     * free clusters and stores the exact count; the hint follows the file. */
    uint8_t unknown[4] = { 0xFF, 0xFF, 0xFF, 0xFF };
    patch(img.path, 512 + 488, unknown, 4);
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    CHECK_EQ(fatimg_write_seeded(fv.vol, "/c.bin", 3000, 3, &err), 0);
    CHECK_EQ(fat_stat(fv.vol, "/c.bin", &e, &err), 1);
    fatimg_unmount(&fv);
    peek(img.path, 512, fsi, sizeof(fsi));
    CHECK_EQ(le32(fsi + 488), exact.free_clusters - 3000 / 512 - 1);
    CHECK_EQ(le32(fsi + 492), e.first_cluster + 3000 / 512 + 1);
    CHECK_EQ(fatimg_fsck(&img, out, sizeof(out)), 0);
    CHECK(strstr(out, "summary") == NULL);
    /* The backup FSInfo and boot sector are not touched. */
    CHECK_EQ(fatimg_sh(out, sizeof(out), "fsck.fat -n -v '%s'", img.path), 0);
    CHECK(strstr(out, "differences between boot") == NULL);
    unlink(img.path);
}

int main(void)
{
    test_detection();
    test_partitions();
    test_refusals();
    test_full_card();
    test_fsinfo();
    return check_report("test_fat_volume");
}
