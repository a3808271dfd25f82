/* libFuzzer: the input is the start of a card image (the rest of a 64 MiB
 * card reads as zeros, so small inputs can hold FAT32 volumes).  Mount it,
 * report it, walk every folder and read every file, then make a few changes;
 * all with bounded work.  Nothing may crash, hang or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fat/fat.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CARD_SECTORS (1u << 17)
#define MAX_INPUT (4u << 20)
#define MAX_EXTRA 4096u

/* A memory card: the input's sectors, plus sectors written beyond them. */
struct mem_bd {
    struct blockdev bd;
    uint8_t *image;
    uint32_t stored;
    uint32_t extra_lba[MAX_EXTRA];
    uint8_t (*extra)[512];
    uint32_t nextra;
};

static uint8_t *sector_of(struct mem_bd *m, uint32_t lba, bool create)
{
    if (lba < m->stored)
        return m->image + (size_t)lba * 512;
    for (uint32_t i = 0; i < m->nextra; i++)
        if (m->extra_lba[i] == lba)
            return m->extra[i];
    if (!create || m->nextra == MAX_EXTRA)
        return NULL;
    m->extra_lba[m->nextra] = lba;
    memset(m->extra[m->nextra], 0, 512);
    return m->extra[m->nextra++];
}

static int mem_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    struct mem_bd *m = (struct mem_bd *)bd;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *s = sector_of(m, lba + i, false);
        if (s)
            memcpy(buf + (size_t)i * 512, s, 512);
        else
            memset(buf + (size_t)i * 512, 0, 512);
    }
    return 0;
}

static int mem_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                     struct mf_err *err)
{
    struct mem_bd *m = (struct mem_bd *)bd;
    for (uint32_t i = 0; i < count; i++) {
        uint8_t *s = sector_of(m, lba + i, true);
        if (!s)
            return mf_fail(err, MF_E_CARD, "fuzz card: too many sectors written");
        memcpy(s, buf + (size_t)i * 512, 512);
    }
    return 0;
}

static void mem_close(struct blockdev *bd)
{
    (void)bd;
}

static const struct blockdev_ops mem_ops = { mem_read, mem_write, NULL, mem_close };

struct budget {
    unsigned entries;
    size_t bytes;
};

static void read_file(struct fat_volume *vol, const char *path, struct budget *b)
{
    struct mf_err err;
    struct fat_file *f;
    if (fat_open(vol, path, &f, &err) < 0)
        return;
    static uint8_t buf[70000];
    size_t chunk = 1 + (b->entries * 7919u) % sizeof(buf);
    ssize_t got;
    while (b->bytes > 0 && (got = fat_read(f, buf, chunk < b->bytes ? chunk : b->bytes, &err)) > 0)
        b->bytes -= (size_t)got;
    fat_close(f);
}

static void walk(struct fat_volume *vol, const char *dir, int depth, struct budget *b)
{
    struct mf_err err;
    struct fat_dir *d;
    if (depth > 5 || b->entries == 0 || fat_dir_open(vol, dir, &d, &err) < 0)
        return;
    struct fat_entry *e = malloc(sizeof(*e));
    while (e && b->entries > 0 && fat_dir_next(d, e, &err) == 1) {
        b->entries--;
        char child[2048];
        snprintf(child, sizeof(child), "%s/%s", depth ? dir : "", e->name);
        struct fat_entry st;
        (void)fat_stat(vol, child, &st, &err);
        if (e->attr & FAT_ATTR_DIRECTORY)
            walk(vol, child, depth + 1, b);
        else
            read_file(vol, child, b);
    }
    free(e);
    fat_dir_close(d);
}

static void change(struct fat_volume *vol)
{
    struct mf_err err;
    static uint8_t payload[5000];
    memset(payload, 0xA5, sizeof(payload));
    fat_set_time(vol, 1700000000);
    (void)fat_write_file(vol, "/fuzz upload.tmp", payload, sizeof(payload), &err);
    (void)fat_mkdir(vol, "/Fz", &err);
    (void)fat_rename(vol, "/fuzz upload.tmp", "/firmware.bin", FAT_RENAME_REPLACE, &err);
    (void)fat_rename(vol, "/firmware.bin", "/Fz/Old firmware.bin", 0, &err);
    (void)fat_delete(vol, "/Fz/Old firmware.bin", &err);
    (void)fat_delete(vol, "/Fz", &err);
    struct fat_info info;
    (void)fat_info(vol, true, &info, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 512 || size > MAX_INPUT)
        return 0;
    struct mem_bd *m = calloc(1, sizeof(*m));
    if (!m)
        return 0;
    m->stored = (uint32_t)(size / 512);
    m->image = malloc((size_t)m->stored * 512);
    m->extra = malloc((size_t)MAX_EXTRA * 512);
    if (m->image && m->extra) {
        memcpy(m->image, data, (size_t)m->stored * 512);
        m->bd.ops = &mem_ops;
        m->bd.sector_count = CARD_SECTORS > m->stored ? CARD_SECTORS : m->stored;
        struct mf_err err;
        struct fat_volume *vol;
        if (fat_mount(&m->bd, &vol, &err) == 0) {
            struct fat_info info;
            (void)fat_info(vol, false, &info, &err);
            struct budget b = { 4000, 8u << 20 };
            walk(vol, "/", 0, &b);
            change(vol);
            walk(vol, "/", 0, &b);
            (void)fat_unmount(vol, &err);
        }
    }
    free(m->image);
    free(m->extra);
    free(m);
    return 0;
}
