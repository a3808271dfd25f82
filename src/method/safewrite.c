#include "method/safewrite.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/interrupt.h"

/* Large enough for multi-block transfers, small enough for smooth progress
 * and for stopping soon after Ctrl-C. */
#define CHUNK (16u * 1024u)

/* The temporary file sits in the target's directory, so the final rename
 * stays within one directory. */
static void temp_path(const char *path, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(buf, cap, "%.*s/%s", (int)(slash - path), path, MF_TEMP_NAME);
    else
        snprintf(buf, cap, "/%s", MF_TEMP_NAME);
}

int mf_fat_compare(struct fat_volume *vol, const char *path, const uint8_t *data, uint32_t size,
                   const struct mf_progress *p, struct mf_err *err)
{
    struct fat_file *f;
    if (fat_open(vol, path, &f, err) < 0)
        return -1;
    int same = fat_file_size(f) == size;
    uint8_t *buf = malloc(CHUNK);
    if (!buf) {
        fat_close(f);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    uint32_t off = 0;
    while (same && off < size) {
        ssize_t n = mf_interrupt_check(err) < 0 ? -1 : fat_read(f, buf, CHUNK, err);
        if (n < 0) {
            same = -1;
            break;
        }
        if (n == 0 || off + (uint32_t)n > size || memcmp(buf, data + off, (size_t)n)) {
            same = 0;
            break;
        }
        off += (uint32_t)n;
        mf_progress_update(p, "verify", off, size);
    }
    free(buf);
    fat_close(f);
    return same;
}

int mf_fat_put(struct fat_volume *vol, const char *path, const uint8_t *data, uint32_t size,
               const struct mf_progress *p, struct mf_err *err)
{
    char tmp[FAT_NAME_MAX + 16];
    struct fat_entry e;
    temp_path(path, tmp, sizeof(tmp));
    /* What stands in the way is found before anything is written. */
    if (fat_check_file_path(vol, path, err) < 0)
        return -1;
    /* A temporary file left by an interrupted run is ours to remove. */
    int exists = fat_stat(vol, tmp, &e, err);
    if (exists < 0 || (exists && fat_delete(vol, tmp, err) < 0))
        return -1;
    struct fat_writer *w;
    if (fat_create(vol, tmp, size, &w, err) < 0)
        return -1;
    for (uint32_t off = 0; off < size; off += CHUNK) {
        uint32_t n = size - off < CHUNK ? size - off : CHUNK;
        if (mf_interrupt_check(err) < 0 || fat_write(w, data + off, n, err) < 0) {
            fat_abort(w);
            return mf_wrap(err, "Uploading %s failed; the card's files are unchanged: ", path);
        }
        mf_progress_update(p, "upload", off + n, size);
    }
    if (size == 0)
        mf_progress_update(p, "upload", 0, 0);
    if (fat_commit(w, err) < 0)
        return mf_wrap(err, "Uploading %s failed: ", path);
    int same = mf_fat_compare(vol, tmp, data, size, p, err);
    if (same <= 0) {
        struct mf_err ignore;
        fat_delete(vol, tmp, &ignore);
        if (same == 0)
            return mf_fail(err, MF_E_VERIFY, "The copy of %s read back from the card differs from the file sent; "
                           "it was removed and %s is unchanged; the card may be failing: try again, or replace "
                           "the card.", path, path);
        return -1;
    }
    if (fat_rename(vol, tmp, path, FAT_RENAME_REPLACE, err) < 0) {
        struct mf_err ignore;
        fat_delete(vol, tmp, &ignore);
        return -1;
    }
    return 0;
}

int mf_fat_get(struct fat_volume *vol, const char *path, uint32_t max, uint8_t **out, uint32_t *size,
               const struct mf_progress *p, struct mf_err *err)
{
    struct fat_file *f;
    if (fat_open(vol, path, &f, err) < 0)
        return -1;
    uint32_t total = fat_file_size(f);
    if (total > max) {
        fat_close(f);
        return mf_fail(err, MF_E_INPUT, "%s on the card is %u bytes, more than the %u this command reads.", path,
                       total, max);
    }
    uint8_t *buf = malloc(total ? total : 1);
    if (!buf) {
        fat_close(f);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    uint32_t off = 0;
    while (off < total) {
        uint32_t want = total - off < CHUNK ? total - off : CHUNK;
        ssize_t n = fat_read(f, buf + off, want, err);
        if (n <= 0) {
            free(buf);
            fat_close(f);
            return n < 0 ? -1 : mf_fail(err, MF_E_FS, "%s ended early on the card.", path);
        }
        off += (uint32_t)n;
        mf_progress_update(p, "download", off, total);
    }
    fat_close(f);
    *out = buf;
    *size = total;
    return 0;
}
