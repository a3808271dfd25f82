/* FAT12/16/32 with long file names, on a block device.
 *
 * Mounts the volume at LBA 0 (superfloppy) or the first FAT partition of an
 * MBR; 512-byte sectors only.  Paths use '/' ("/", "/a/b/file.bin"); name
 * lookups are case-insensitive.  Names are UTF-8.
 *
 * Writes are power-safe in the sense of docs/fat.md: new data only goes into
 * free clusters, then the FAT copies (first, then second) are linked, then the
 * directory entry is published with one sector write.  FSInfo's free count
 * reads "unknown" on the card from the first change of a mount until sync.
 * A cut at any point leaves at worst unreferenced ("lost") clusters.  FAT
 * copies that an earlier cut left different, with an intact first copy, are
 * brought up to date from the first before a change writes anything else.  Every write
 * operation validates what it will touch first and changes nothing when the
 * volume looks damaged there, the card is full or write-protected.
 *
 * All functions return 0 (or the documented non-negative value) on success
 * and -1 with err set on failure; functions that hand out an object set
 * *out to NULL when they fail.  A volume is not thread-safe.  Open files,
 * directory listings and writers must be closed before fat_unmount(); a file
 * or listing left open across a change to the same volume reads stale data.
 */
#ifndef MF_FAT_FAT_H
#define MF_FAT_FAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "blockdev/blockdev.h"
#include "util/err.h"

/* Longest name in UTF-8 bytes (255 UTF-16 units, at most 3 bytes each). */
#define FAT_NAME_MAX 765

#define FAT_ATTR_READ_ONLY 0x01
#define FAT_ATTR_HIDDEN 0x02
#define FAT_ATTR_SYSTEM 0x04
#define FAT_ATTR_VOLUME_ID 0x08
#define FAT_ATTR_DIRECTORY 0x10
#define FAT_ATTR_ARCHIVE 0x20

enum fat_type { FAT_TYPE_12 = 12, FAT_TYPE_16 = 16, FAT_TYPE_32 = 32 };

struct fat_volume;

struct fat_info {
    enum fat_type type;
    char label[12];           /* volume label without trailing spaces; "" if none */
    uint32_t volume_id;
    uint32_t partition_lba;   /* first sector of the volume; 0 for a superfloppy */
    uint32_t cluster_bytes;
    uint32_t cluster_count;
    uint64_t total_bytes;     /* cluster_count * cluster_bytes */
    uint64_t free_bytes;      /* free_clusters * cluster_bytes */
    uint32_t free_clusters;
    bool free_exact;          /* false: taken from the FAT32 FSInfo sector unverified */
    bool writable;            /* false: card write-protected or volume marked unclean */
};

/* Local time as stored in a directory entry (2-second resolution). */
struct fat_time {
    uint16_t year;
    uint8_t month, day, hour, minute, second;
};

struct fat_entry {
    char name[FAT_NAME_MAX + 1];  /* long name, or the short name with its case flags applied */
    char short_name[40];          /* 8.3 name as stored, e.g. "FIRMWARE.BIN" (UTF-8) */
    bool has_long_name;
    uint8_t attr;                 /* FAT_ATTR_* */
    uint32_t size;                /* bytes; 0 for directories */
    uint32_t first_cluster;
    struct fat_time modified, created;
};

/* Mount: find the volume, check the boot sector, FSInfo and the FAT's
 * clean-shutdown flags.  exFAT, unformatted or unsupported cards fail with
 * MF_E_FS and a message saying how to reformat.  The volume borrows bd; it
 * does not close it. */
int fat_mount(struct blockdev *bd, struct fat_volume **out, struct mf_err *err);

/* How many FAT sectors a change on this mount found behind in the second
 * copy and brought up to date from the first: an earlier write to the card
 * was cut short between the two copies.  0 if none (the usual case). */
uint32_t fat_copies_resynced(const struct fat_volume *vol);

/* Write back all cached metadata (in the safe order), then the true free
 * count into FSInfo, and flush the device. */
int fat_sync(struct fat_volume *vol, struct mf_err *err);

/* Sync and free the volume (NULL is allowed).  Returns -1 if the final sync
 * failed; the volume is freed either way. */
int fat_unmount(struct fat_volume *vol, struct mf_err *err);

/* Volume facts.  exact_free forces a scan of the whole FAT on FAT32 instead
 * of trusting the FSInfo free count (FAT12/16 are always scanned). */
int fat_info(struct fat_volume *vol, bool exact_free, struct fat_info *out, struct mf_err *err);
/* 0 if the volume may be written; else why not (MF_E_CARD: the card is
 * write-protected or an earlier write failed; MF_E_FS: the filesystem is
 * marked unclean or looks damaged). */
int fat_check_writable(struct fat_volume *vol, struct mf_err *err);

/* Timestamps for new and changed entries: a fixed time (reproducible images)
 * or 0 for the host clock.  Converted with the local time zone. */
void fat_set_time(struct fat_volume *vol, time_t fixed);

/* Look up a path.  Returns 1 and fills out if it exists, 0 if it does not
 * (also when a folder on the way is missing; out untouched), -1 on error
 * (invalid path, damaged directory). */
int fat_stat(struct fat_volume *vol, const char *path, struct fat_entry *out, struct mf_err *err);

/* Directory listing, in on-card order; "." and "..", deleted entries and the
 * volume label are skipped. */
struct fat_dir;
int fat_dir_open(struct fat_volume *vol, const char *path, struct fat_dir **out, struct mf_err *err);
/* Returns 1 with out filled, 0 at the end, -1 on error. */
int fat_dir_next(struct fat_dir *dir, struct fat_entry *out, struct mf_err *err);
void fat_dir_close(struct fat_dir *dir);

/* Streaming read.  fat_open checks the whole cluster chain against the file
 * size first (cycles, free or out-of-range clusters, wrong length), so a
 * damaged file fails here and not halfway through. */
struct fat_file;
int fat_open(struct fat_volume *vol, const char *path, struct fat_file **out, struct mf_err *err);
/* Returns the number of bytes read (0 at end of file) or -1. */
ssize_t fat_read(struct fat_file *f, void *buf, size_t len, struct mf_err *err);
uint32_t fat_file_size(const struct fat_file *f);
void fat_close(struct fat_file *f);

/* Streaming write of a NEW file of exactly `size` bytes.  fat_create checks
 * the name, that it does not exist, the free space (data and any directory
 * growth) and picks a contiguous run of free clusters if there is one;
 * nothing is written yet.  fat_write writes data into those still-free
 * clusters.  fat_commit links the FAT copies, publishes the directory entry
 * and updates FSInfo, then frees the writer (also on failure).  fat_abort
 * frees the writer; the card shows no trace of the file.  Only one writer
 * per volume at a time; other changes are refused while it is open. */
struct fat_writer;
int fat_create(struct fat_volume *vol, const char *path, uint32_t size, struct fat_writer **out,
               struct mf_err *err);
int fat_write(struct fat_writer *w, const void *buf, size_t len, struct mf_err *err);
int fat_commit(struct fat_writer *w, struct mf_err *err);
void fat_abort(struct fat_writer *w);

/* Whether a file can be put at path: its folders exist, its name can be
 * written on the card, and no folder has that name (a file there may be
 * replaced).  Nothing is written; err says what stands in the way. */
int fat_check_file_path(struct fat_volume *vol, const char *path, struct mf_err *err);

/* Whole-file convenience built on the three calls above. */
int fat_write_file(struct fat_volume *vol, const char *path, const void *data, uint32_t size,
                   struct mf_err *err);

/* Delete a file or an empty directory: directory entry first, then its
 * clusters are freed in every FAT copy, then FSInfo. */
int fat_delete(struct fat_volume *vol, const char *path, struct mf_err *err);

/* Rename or move a file (directories: rename within the same parent only).
 * Without FAT_RENAME_REPLACE an existing target is an error.  With it, an
 * existing target file is replaced atomically: the source entry is removed,
 * then the target's entry is rewritten in place to point at the source's
 * clusters (one sector write), then the target's old clusters are freed. */
#define FAT_RENAME_REPLACE 0x1u
int fat_rename(struct fat_volume *vol, const char *from, const char *to, unsigned flags,
               struct mf_err *err);

/* Create an empty directory. */
int fat_mkdir(struct fat_volume *vol, const char *path, struct mf_err *err);

#endif
