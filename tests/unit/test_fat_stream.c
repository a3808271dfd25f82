/* The streaming writer and reader: wrong lengths, abort, one writer at a
 * time, names as long as FAT allows (more slots than a sector holds), and
 * reading in every chunk size across fragmented files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fatimg.h"

static void fsck_clean(const struct fatimg *img)
{
    char out[8192];
    int rc = fatimg_fsck(img, out, sizeof(out));
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "%s\n", out);
}

static void test_lengths_and_abort(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "stream", 16384, "-F 16 -s 2"), 0);
    struct fatimg_vol fv;
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct mf_err err = { 0 };
    uint8_t d[5000];
    fatimg_fill(d, sizeof(d), 9);

    /* Fewer bytes than announced: not published. */
    struct fat_writer *w = NULL;
    CHECK_EQ(fat_create(fv.vol, "/short.bin", 5000, &w, &err), 0);
    CHECK_EQ(fat_write(w, d, 4999, &err), 0);
    CHECK_EQ(fat_commit(w, &err), -1);
    CHECK(strstr(err.msg, "4999 of the 5000") != NULL);
    struct fat_entry e;
    CHECK_EQ(fat_stat(fv.vol, "/short.bin", &e, &err), 0);

    /* More bytes than announced: refused, the writer stays usable. */
    CHECK_EQ(fat_create(fv.vol, "/long.bin", 100, &w, &err), 0);
    CHECK_EQ(fat_write(w, d, 101, &err), -1);
    CHECK_EQ(fat_write(w, d, 100, &err), 0);
    CHECK_EQ(fat_write(w, d, 1, &err), -1);

    /* One writer at a time: every other change waits. */
    struct fat_writer *w2 = NULL;
    CHECK_EQ(fat_create(fv.vol, "/second.bin", 1, &w2, &err), -1);
    CHECK(w2 == NULL);
    CHECK(strstr(err.msg, "still being written") != NULL);
    CHECK_EQ(fat_mkdir(fv.vol, "/dir", &err), -1);
    CHECK_EQ(fat_delete(fv.vol, "/x", &err), -1);
    CHECK_EQ(fat_commit(w, &err), 0);
    CHECK_EQ(fat_stat(fv.vol, "/long.bin", &e, &err), 1);
    CHECK_EQ(e.size, 100);

    /* Abort after writing data: no trace, not even lost clusters. */
    CHECK_EQ(fat_create(fv.vol, "/aborted.bin", sizeof(d), &w, &err), 0);
    CHECK_EQ(fat_write(w, d, sizeof(d), &err), 0);
    fat_abort(w);
    CHECK_EQ(fat_stat(fv.vol, "/aborted.bin", &e, &err), 0);

    /* Paths that are not file names. */
    CHECK_EQ(fat_create(fv.vol, "/", 1, &w, &err), -1);
    CHECK_EQ(fat_create(fv.vol, "/missing/x.bin", 1, &w, &err), -1);
    CHECK_EQ(fat_create(fv.vol, "/long.bin/x.bin", 1, &w, &err), -1);
    CHECK_EQ(fat_create(fv.vol, "/../x.bin", 1, &w, &err), -1);
    CHECK_EQ(fat_create(fv.vol, "/a|b", 1, &w, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    struct fat_file *f = NULL;
    CHECK_EQ(fat_open(fv.vol, "/", &f, &err), -1);
    CHECK_EQ(fat_open(fv.vol, "/nothing.bin", &f, &err), -1);
    CHECK(f == NULL);
    struct fat_dir *dir = NULL;
    CHECK_EQ(fat_dir_open(fv.vol, "/long.bin", &dir, &err), -1);
    CHECK(dir == NULL);
    fatimg_unmount(&fv);
    fsck_clean(&img);
    char out[4096];
    CHECK_EQ(fatimg_sh(out, sizeof(out), "mdir -b -i '%s' ::", img.path), 0);
    CHECK_STR(out, "::/long.bin\n");
    unlink(img.path);
}

static void test_longest_names(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "longest", 40960, "-F 32 -s 1"), 0);
    struct fatimg_vol fv;
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct mf_err err = { 0 };
    CHECK_EQ(fat_mkdir(fv.vol, "/d", &err), 0);
    char name[300], path[310];
    /* 255 characters: 20 long-name slots and a short entry, more than a
     * sector (and, at 512-byte clusters, a cluster) holds. */
    for (int k = 0; k < 6; k++) {
        memset(name, 'a' + k, 255);
        name[255] = '\0';
        memcpy(name + 251, ".bin", 5);
        snprintf(path, sizeof(path), "/d/%s", name);
        uint8_t d[700];
        fatimg_fill(d, sizeof(d), (uint32_t)k);
        int rc = fat_write_file(fv.vol, path, d, sizeof(d), &err);
        CHECK_EQ(rc, 0);
        if (rc)
            fprintf(stderr, "%s\n", err.msg);
    }
    struct fat_entry e;
    memset(name, 'C', 255);
    name[255] = '\0';
    memcpy(name + 251, ".BIN", 5);
    snprintf(path, sizeof(path), "/d/%s", name);
    CHECK_EQ(fat_stat(fv.vol, path, &e, &err), 1);
    CHECK_EQ(strlen(e.name), 255);
    CHECK_EQ(fat_delete(fv.vol, path, &err), 0);
    fatimg_unmount(&fv);
    fsck_clean(&img);
    memset(name, 'e', 255);
    memcpy(name + 251, ".bin", 5);
    snprintf(path, sizeof(path), "/d/%s", name);
    uint8_t *got;
    size_t len;
    CHECK_EQ(fatimg_mread(&img, path, &got, &len), 0);
    CHECK_EQ(len, 700);
    free(got);
    unlink(img.path);
}

/* A file in many fragments, read with every chunk size from 1 to 1100. */
static void test_fragmented_reads(void)
{
    struct fatimg img;
    CHECK_EQ(fatimg_make(&img, "frag", 2048, "-F 12 -s 1"), 0);
    struct fatimg_vol fv;
    CHECK_EQ(fatimg_mount(&img, false, &fv), 0);
    struct mf_err err = { 0 };
    char p[32];
    uint8_t one[512] = { 1 };
    for (int i = 0; i < 12; i++) {
        snprintf(p, sizeof(p), "/s%d", i);
        CHECK_EQ(fat_write_file(fv.vol, p, one, sizeof(one), &err), 0);
    }
    for (int i = 0; i < 12; i += 2) {
        snprintf(p, sizeof(p), "/s%d", i);
        CHECK_EQ(fat_delete(fv.vol, p, &err), 0);
    }
    /* Fill the tail so only the six one-cluster holes remain, then use them. */
    struct fat_info info;
    CHECK_EQ(fat_info(fv.vol, true, &info, &err), 0);
    uint8_t *big = calloc(1, (info.free_clusters - 6) * 512);
    CHECK_EQ(fat_write_file(fv.vol, "/tail", big, (info.free_clusters - 6) * 512, &err), 0);
    free(big);
    uint8_t d[6 * 512 - 100];
    fatimg_fill(d, sizeof(d), 77);
    CHECK_EQ(fat_write_file(fv.vol, "/frag.bin", d, sizeof(d), &err), 0);
    for (size_t chunk = 1; chunk <= 1100; chunk += (chunk < 20 ? 1 : 37)) {
        struct fat_file *f;
        CHECK_EQ(fat_open(fv.vol, "/frag.bin", &f, &err), 0);
        uint8_t got[sizeof(d) + 10];
        size_t n = 0;
        ssize_t r;
        while ((r = fat_read(f, got + n, chunk < sizeof(got) - n ? chunk : sizeof(got) - n, &err)) > 0)
            n += (size_t)r;
        CHECK_EQ(r, 0);
        CHECK_EQ(n, sizeof(d));
        CHECK_MEM(got, d, sizeof(d));
        fat_close(f);
    }
    fatimg_unmount(&fv);
    fsck_clean(&img);
    char out[1024];
    CHECK_EQ(fatimg_sh(out, sizeof(out), "mshowfat -i '%s' ::/frag.bin", img.path), 0);
    int runs = 0;
    for (const char *q = out; (q = strchr(q, '<')) != NULL; q++)
        runs++;
    CHECK_EQ(runs, 6);
    unlink(img.path);
}

int main(void)
{
    test_lengths_and_abort();
    test_longest_names();
    test_fragmented_reads();
    return check_report("test_fat_stream");
}
