#include "fatimg.h"

#include "fat/fat.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fatimg_tmpdir(void)
{
    const char *d = getenv("MF_TMP");
    if (!d || !*d)
        d = "/tmp";
    mkdir(d, 0777);
    return d;
}

void fatimg_tmpname(char *out, size_t cap, const char *tag, const char *suffix)
{
    static unsigned counter;
    snprintf(out, cap, "%s/%s-%ld-%u%s", fatimg_tmpdir(), tag, (long)getpid(), counter++, suffix);
}

int fatimg_sh(char *out, size_t cap, const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    char full[4200];
    snprintf(full, sizeof(full), "MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null LC_ALL=C %s 2>&1", cmd);
    FILE *p = popen(full, "r");
    if (!p)
        return -1;
    size_t n = 0;
    char buf[1024];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), p)) > 0) {
        if (out && n + 1 < cap) {
            size_t k = got < cap - 1 - n ? got : cap - 1 - n;
            memcpy(out + n, buf, k);
            n += k;
        }
    }
    if (out && cap)
        out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int fatimg_make(struct fatimg *img, const char *tag, unsigned kib, const char *mkfs_opts)
{
    fatimg_tmpname(img->path, sizeof(img->path), tag, ".img");
    img->offset = 0;
    img->sectors = kib * 2;
    char out[2048];
    int rc = fatimg_sh(out, sizeof(out), "mkfs.fat -C %s '%s' %u", mkfs_opts, img->path, kib);
    if (rc != 0)
        fprintf(stderr, "mkfs.fat failed (%d): %s\n", rc, out);
    return rc == 0 ? 0 : -1;
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int fatimg_make_mbr(struct fatimg *img, const char *tag, uint32_t start, unsigned kib, uint8_t ptype,
                    const char *mkfs_opts)
{
    fatimg_tmpname(img->path, sizeof(img->path), tag, ".img");
    img->offset = start;
    img->sectors = kib * 2;
    FILE *f = fopen(img->path, "wb");
    if (!f)
        return -1;
    uint8_t mbr[512] = { 0 };
    uint8_t *e = mbr + 446;
    e[0] = 0x00;
    e[1] = 0xFE; e[2] = 0xFF; e[3] = 0xFF;  /* CHS unused: LBA only */
    e[4] = ptype;
    e[5] = 0xFE; e[6] = 0xFF; e[7] = 0xFF;
    put32le(e + 8, start);
    put32le(e + 12, img->sectors);
    mbr[510] = 0x55;
    mbr[511] = 0xAA;
    int ok = fwrite(mbr, 1, sizeof(mbr), f) == sizeof(mbr);
    ok &= fclose(f) == 0;
    ok &= truncate(img->path, ((off_t)start + img->sectors) * 512) == 0;
    if (!ok)
        return -1;
    char out[2048];
    int rc = fatimg_sh(out, sizeof(out), "mkfs.fat --offset %u %s '%s' %u", start, mkfs_opts, img->path, kib);
    if (rc != 0)
        fprintf(stderr, "mkfs.fat failed (%d): %s\n", rc, out);
    return rc == 0 ? 0 : -1;
}

int fatimg_copy(const struct fatimg *src, struct fatimg *dst, const char *tag)
{
    *dst = *src;
    fatimg_tmpname(dst->path, sizeof(dst->path), tag, ".img");
    return fatimg_sh(NULL, 0, "cp --sparse=always '%s' '%s'", src->path, dst->path) == 0 ? 0 : -1;
}

int fatimg_fsck(const struct fatimg *img, char *out, size_t cap)
{
    if (img->offset == 0)
        return fatimg_sh(out, cap, "fsck.fat -n '%s'", img->path);
    char part[600];
    fatimg_tmpname(part, sizeof(part), "part", ".img");
    int rc = fatimg_sh(NULL, 0, "dd if='%s' of='%s' bs=512 skip=%u count=%u conv=sparse status=none",
                       img->path, part, img->offset, img->sectors);
    if (rc == 0)
        rc = fatimg_sh(out, cap, "fsck.fat -n '%s'", part);
    unlink(part);
    return rc;
}

void fatimg_mspec(const struct fatimg *img, char *out, size_t cap)
{
    if (img->offset)
        snprintf(out, cap, "%s@@%llu", img->path, (unsigned long long)img->offset * 512);
    else
        snprintf(out, cap, "%s", img->path);
}

int fatimg_mcopy_out(const struct fatimg *img, const char *path, const char *local)
{
    char spec[600];
    fatimg_mspec(img, spec, sizeof(spec));
    return fatimg_sh(NULL, 0, "mcopy -n -i '%s' '::%s' '%s'", spec, path, local);
}

int fatimg_mcopy_in(const struct fatimg *img, const char *local, const char *path)
{
    char spec[600];
    fatimg_mspec(img, spec, sizeof(spec));
    return fatimg_sh(NULL, 0, "mcopy -i '%s' '%s' '::%s'", spec, local, path);
}

int fatimg_mmd(const struct fatimg *img, const char *path)
{
    char spec[600];
    fatimg_mspec(img, spec, sizeof(spec));
    return fatimg_sh(NULL, 0, "mmd -i '%s' '::%s'", spec, path);
}

int fatimg_mread(const struct fatimg *img, const char *path, uint8_t **data, size_t *len)
{
    char local[600];
    fatimg_tmpname(local, sizeof(local), "mread", ".bin");
    int rc = fatimg_mcopy_out(img, path, local);
    if (rc == 0)
        rc = fatimg_read_local(local, data, len);
    else
        rc = -1;
    unlink(local);
    return rc;
}

int fatimg_write_local(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

int fatimg_read_local(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *data = buf;
    *len = n;
    return 0;
}

void fatimg_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

int fatimg_put_seeded(const struct fatimg *img, const char *path, size_t size, uint32_t seed)
{
    char local[600];
    uint8_t *d = malloc(size ? size : 1);
    if (!d)
        return -1;
    fatimg_fill(d, size, seed);
    fatimg_tmpname(local, sizeof(local), "seeded", ".bin");
    int rc = fatimg_write_local(local, d, size) < 0 ? -1 : fatimg_mcopy_in(img, local, path);
    unlink(local);
    free(d);
    return rc;
}

int fatimg_write_seeded(struct fat_volume *vol, const char *path, uint32_t size, uint32_t seed,
                        struct mf_err *err)
{
    uint8_t *d = malloc(size ? size : 1);
    if (!d)
        return -1;
    fatimg_fill(d, size, seed);
    int rc = fat_write_file(vol, path, d, size, err);
    free(d);
    return rc;
}

uint64_t fatimg_hash_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint64_t h = 1469598103934665603ull;
    uint8_t buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        for (size_t i = 0; i < got; i++)
            h = (h ^ buf[i]) * 1099511628211ull;
    fclose(f);
    return h;
}

/* ---- cut-off block device ---- */

struct cutoff_bd {
    struct blockdev bd;
    struct blockdev *inner;
    long budget, written;
};

static int cut_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    struct cutoff_bd *c = (struct cutoff_bd *)bd;
    return blockdev_read(c->inner, lba, count, buf, err);
}

static int cut_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                     struct mf_err *err)
{
    struct cutoff_bd *c = (struct cutoff_bd *)bd;
    uint32_t allowed = c->budget - c->written < (long)count ? (uint32_t)(c->budget - c->written) : count;
    if (allowed && blockdev_write(c->inner, lba, allowed, buf, err) < 0)
        return -1;
    c->written += allowed;
    if (allowed < count)
        return mf_fail(err, MF_E_CARD, "Power cut (test) after %ld sectors.", c->written);
    return 0;
}

static void cut_close(struct blockdev *bd)
{
    free(bd);
}

static const struct blockdev_ops cut_ops = { cut_read, cut_write, NULL, cut_close };

struct blockdev *fatimg_cutoff(struct blockdev *inner, long budget)
{
    struct cutoff_bd *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->bd.ops = &cut_ops;
    c->bd.sector_count = inner->sector_count;
    c->bd.read_only = inner->read_only;
    c->inner = inner;
    c->budget = budget;
    return &c->bd;
}

long fatimg_cutoff_written(const struct blockdev *bd)
{
    return ((const struct cutoff_bd *)bd)->written;
}

/* ---- the engine on an image ---- */

int fatimg_mount(const struct fatimg *img, bool read_only, struct fatimg_vol *out)
{
    struct mf_err err = { 0 };
    out->bd = NULL;
    out->vol = NULL;
    if (blockdev_open_image(img->path, read_only, &out->bd, &err) < 0) {
        fprintf(stderr, "open %s: %s\n", img->path, err.msg);
        return -1;
    }
    if (fat_mount(out->bd, &out->vol, &err) < 0) {
        fprintf(stderr, "mount %s: %s\n", img->path, err.msg);
        blockdev_close(out->bd);
        out->bd = NULL;
        return -1;
    }
    fat_set_time(out->vol, 1700000000);
    return 0;
}

int fatimg_unmount(struct fatimg_vol *fv)
{
    struct mf_err err = { 0 };
    int rc = fat_unmount(fv->vol, &err);
    if (rc < 0)
        fprintf(stderr, "unmount: %s\n", err.msg);
    blockdev_close(fv->bd);
    fv->vol = NULL;
    fv->bd = NULL;
    return rc;
}

int fatimg_read_fat(struct fat_volume *vol, const char *path, uint8_t **data, size_t *len,
                    struct mf_err *err)
{
    struct fat_file *f;
    if (fat_open(vol, path, &f, err) < 0)
        return -1;
    size_t size = fat_file_size(f);
    uint8_t *buf = malloc(size ? size : 1);
    size_t n = 0;
    /* Odd chunk sizes exercise partial sectors. */
    static const size_t chunks[] = { 1, 700, 512, 4096, 333, 65536 };
    for (unsigned i = 0; buf; i++) {
        ssize_t got = fat_read(f, buf + n, chunks[i % 6] < size - n ? chunks[i % 6] : size - n + 1, err);
        if (got < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    fat_close(f);
    if (!buf)
        return -1;
    *data = buf;
    *len = n;
    return 0;
}
