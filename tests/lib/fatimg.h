/* FAT test images made and checked with tools nobody here wrote: mkfs.fat,
 * fsck.fat (dosfstools) and mtools.  Images live in $MF_TMP with unique names. */
#ifndef MF_TEST_FATIMG_H
#define MF_TEST_FATIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev/blockdev.h"
#include "fat/fat.h"

struct fatimg {
    char path[512];
    uint32_t offset;   /* first sector of the volume (0: superfloppy) */
    uint32_t sectors;  /* sectors of the volume */
};

/* $MF_TMP (created if needed), or /tmp when unset. */
const char *fatimg_tmpdir(void);
/* A fresh unique file name in the temp dir: <dir>/<tag>-<pid>-<n><suffix>. */
void fatimg_tmpname(char *out, size_t cap, const char *tag, const char *suffix);

/* Run a shell command; capture stdout+stderr into out (may be NULL).
 * Returns its exit status (or -1 if it could not run). */
int fatimg_sh(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* mkfs.fat a superfloppy image of `kib` KiB with extra options ("-F 16 -s 4"). */
int fatimg_make(struct fatimg *img, const char *tag, unsigned kib, const char *mkfs_opts);
/* An MBR with one partition (type byte `ptype`) at sector `start` of `kib`
 * KiB, formatted with mkfs.fat --offset. */
int fatimg_make_mbr(struct fatimg *img, const char *tag, uint32_t start, unsigned kib, uint8_t ptype,
                    const char *mkfs_opts);
/* Copy an image file (for crash tests), same offset. */
int fatimg_copy(const struct fatimg *src, struct fatimg *dst, const char *tag);

/* fsck.fat -n on the volume (extracted with dd when partitioned).  Returns
 * its exit status; its output goes to out. */
int fatimg_fsck(const struct fatimg *img, char *out, size_t cap);
/* The mtools image argument: "path" or "path@@bytes". */
void fatimg_mspec(const struct fatimg *img, char *out, size_t cap);
/* mcopy a file out of the image (path like "/dir/name"); returns exit status. */
int fatimg_mcopy_out(const struct fatimg *img, const char *path, const char *local);
int fatimg_mcopy_in(const struct fatimg *img, const char *local, const char *path);
/* mmd a folder. */
int fatimg_mmd(const struct fatimg *img, const char *path);
/* Read the file at `path` in the image with mtools; 0 and malloc'd data, or -1. */
int fatimg_mread(const struct fatimg *img, const char *path, uint8_t **data, size_t *len);

/* Local files. */
int fatimg_write_local(const char *path, const void *data, size_t len);
int fatimg_read_local(const char *path, uint8_t **data, size_t *len);
/* Deterministic pseudo-random bytes. */
void fatimg_fill(uint8_t *buf, size_t len, uint32_t seed);
/* A file of `size` fatimg_fill bytes put into the image by mcopy (its exit
 * status), or written by the engine (fat_write_file's result). */
int fatimg_put_seeded(const struct fatimg *img, const char *path, size_t size, uint32_t seed);
int fatimg_write_seeded(struct fat_volume *vol, const char *path, uint32_t size, uint32_t seed,
                        struct mf_err *err);
/* A hash of a whole file, to check an image did not change. */
uint64_t fatimg_hash_file(const char *path);

/* A block device that passes writes through to `inner` until `budget`
 * sectors have been written, then fails every write (a power cut in the
 * middle of a multi-sector write keeps its first sectors).  Closing it does
 * not close inner. */
struct blockdev *fatimg_cutoff(struct blockdev *inner, long budget);
long fatimg_cutoff_written(const struct blockdev *bd);

/* The engine on an image file (time fixed for reproducible entries). */
struct fatimg_vol {
    struct blockdev *bd;
    struct fat_volume *vol;
};
int fatimg_mount(const struct fatimg *img, bool read_only, struct fatimg_vol *out);
int fatimg_unmount(struct fatimg_vol *fv);
/* Read a whole file through fat_open/fat_read in uneven chunks. */
int fatimg_read_fat(struct fat_volume *vol, const char *path, uint8_t **data, size_t *len,
                    struct mf_err *err);

#endif
