/* Internals shared by the files of src/fat (not for other layers).
 *
 * Sector numbers inside this layer are relative to the volume (0 = boot
 * sector); vol_read/vol_write add the partition start.
 */
#ifndef MF_FAT_FAT_PRIV_H
#define MF_FAT_FAT_PRIV_H

#include "fat/fat.h"

#define SECTOR 512u
#define DIRENT 32u
#define ENTRIES_PER_SECTOR 16u
#define DIR_MAX_ENTRIES 65536u   /* FAT limit on entries in one directory */
#define LFN_MAX 255u             /* UTF-16 units in a long name */
#define LFN_CHARS_PER_SLOT 13u
#define ENTRY_FREE 0xE5u
#define ATTR_LFN 0x0Fu
#define NT_LOWER_BASE 0x08u
#define NT_LOWER_EXT 0x10u

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

/* ---- cache.c: write-back sector cache for metadata ---- */

/* What a cached sector holds decides how it is written back: FAT sectors go
 * to every FAT copy (first copy, then the others). */
enum sector_kind { SK_FAT = 1, SK_DIR, SK_FSINFO };

#define CACHE_SLOTS 64

struct cache_slot {
    uint32_t lba;
    uint8_t kind;
    bool valid, dirty;
    uint64_t dirty_seq;  /* order of first modification: the write-back order */
    uint64_t last_use;
    uint8_t data[SECTOR];
};

/* ---- extents: lists of cluster runs ---- */

struct extent {
    uint32_t start, count;
};

struct extents {
    struct extent *v;
    uint32_t n, cap;
    uint32_t clusters;  /* sum of counts */
};

/* ---- the volume ---- */

struct fat_volume {
    struct blockdev *bd;
    uint32_t part_lba;       /* absolute LBA of the boot sector */
    uint32_t vol_sectors;
    enum fat_type type;
    uint32_t sec_per_clus, cluster_bytes;
    uint32_t fat_start, fat_sectors, num_fats;
    uint32_t read_fat;       /* copy used for reading (0 unless mirroring is off) */
    uint32_t root_start, root_sectors, root_entries;  /* FAT12/16 fixed root */
    uint32_t root_cluster;   /* FAT32 */
    uint32_t data_start;
    uint32_t cluster_count, max_cluster;  /* valid clusters: 2..max_cluster */
    uint32_t eoc_min, bad_mark, eoc_mark;

    uint32_t fsinfo_sector;  /* 0: none */
    bool fsinfo_ok;          /* signatures valid: we may update it */
    uint32_t fsinfo_free;    /* as stored; 0xFFFFFFFF unknown */
    uint32_t alloc_hint;     /* where the next allocation search starts */
    bool free_known;         /* free_clusters exact (from a full scan) */
    uint32_t free_clusters;

    char label[12];
    uint32_t volume_id;

    enum mf_code no_write_code;  /* MF_OK: writable */
    char no_write[400];          /* the full user message otherwise */
    bool broken;                 /* a device write failed: stop writing */
    bool writer_open;
    time_t fixed_time;

    bool copies_checked;         /* change_begin looked at the FAT copies */
    bool fsinfo_open;            /* FSInfo's free count is "unknown" on the card until sync */
    bool hint_moved;             /* alloc_hint changed since mount */
    uint32_t copies_resynced;    /* FAT sectors brought up to date from the first copy */

    struct cache_slot cache[CACHE_SLOTS];
    uint64_t cache_tick, cache_seq;
};

int vol_read(struct fat_volume *v, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err);
int vol_write(struct fat_volume *v, uint32_t lba, uint32_t count, const uint8_t *buf,
              struct mf_err *err);
int cache_read(struct fat_volume *v, uint32_t lba, const uint8_t **out, struct mf_err *err);
int cache_modify(struct fat_volume *v, uint32_t lba, enum sector_kind kind, uint8_t **out,
                 struct mf_err *err);
int cache_read_range(struct fat_volume *v, uint32_t lba, uint32_t count, uint8_t *buf,
                     struct mf_err *err);
int cache_flush(struct fat_volume *v, struct mf_err *err);
void cache_forget(struct fat_volume *v, uint32_t lba, uint32_t count);
void cache_discard(struct fat_volume *v);
/* End of an operation: if it failed (rc < 0), its changes still in the cache
 * are dropped, never written later.  Returns rc. */
int cache_settle(struct fat_volume *v, int rc);
bool cache_has_dirty(const struct fat_volume *v);

/* ---- errors.c: user-facing messages ---- */

int fat_damaged(struct mf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int fat_oom(struct mf_err *err);
int fat_not_found(struct mf_err *err, const char *path);
/* 0 if the volume may be changed now, else -1 with the reason. */
int vol_check_writable(struct fat_volume *v, struct mf_err *err);

/* ---- extents.c ---- */

int ext_push(struct extents *e, uint32_t cluster, struct mf_err *err);
bool ext_contains(const struct extents *e, uint32_t cluster);
uint32_t ext_cluster_at(const struct extents *e, uint32_t index);  /* index < clusters */
uint32_t ext_last(const struct extents *e);
int ext_append(struct extents *dst, const struct extents *src, struct mf_err *err);
void ext_free(struct extents *e);

/* ---- table.c: FAT entries ---- */

static inline bool fat_is_eoc(const struct fat_volume *v, uint32_t val) { return val >= v->eoc_min; }
static inline bool fat_in_range(const struct fat_volume *v, uint32_t c)
{
    return c >= 2 && c <= v->max_cluster;
}
int fat_get(struct fat_volume *v, uint32_t cluster, uint32_t *val, struct mf_err *err);
int fat_set(struct fat_volume *v, uint32_t cluster, uint32_t val, struct mf_err *err);
/* Call fn for each cluster in [first, last] with its FAT value, reading the
 * FAT in large blocks; fn returns non-zero to stop. */
typedef int (*fat_scan_fn)(void *ctx, uint32_t cluster, uint32_t val);
int fat_scan(struct fat_volume *v, uint32_t first, uint32_t last, fat_scan_fn fn, void *ctx,
             struct mf_err *err);
int fat_count_free(struct fat_volume *v, uint32_t *out, struct mf_err *err);
/* Before an operation writes anything: the FAT copies must agree in every
 * sector holding the entry of a cluster in the list.  Where they differ,
 * fat_mirror_check decides: a cut write is mirrored, damage is refused. */
int fat_check_copies(struct fat_volume *v, const struct extents *clusters, struct mf_err *err);

/* ---- mirror.c: FAT copies after a cut write ---- */

/* Count the free clusters (free_known afterwards) and compare the FAT copies
 * in full; if they differ and every entry of the first copy is valid, bring
 * the others up to date from it, else refuse as damage. */
int fat_mirror_check(struct fat_volume *v, struct mf_err *err);

/* ---- change.c: around the changes of a mount ---- */

/* Right before an operation's first write, after its checks: once per mount
 * the full FAT-copy check where needed, and FSInfo's free count made
 * "unknown" on the card until change_settle. */
int change_begin(struct fat_volume *v, struct mf_err *err);
/* Account for allocated/freed clusters and the next-free hint (in memory). */
void fsinfo_account(struct fat_volume *v, uint32_t allocated, uint32_t freed, uint32_t last_alloc);
/* At sync: the true free count and hint back into FSInfo. */
int change_settle(struct fat_volume *v, struct mf_err *err);

/* ---- chain.c: validated chain walks ---- */

/* Next cluster after `cluster`; *next = 0 at end of chain.  Free, bad and
 * out-of-range links are damage. */
int chain_next(struct fat_volume *v, uint32_t cluster, uint32_t *next, const char *what,
               struct mf_err *err);
/* The whole chain from `start`, at most `limit` clusters (more is damage). */
int chain_collect(struct fat_volume *v, uint32_t start, uint32_t limit, struct extents *out,
                  const char *what, struct mf_err *err);
/* The chain of a file's directory entry, checked against its size. */
int chain_of_file(struct fat_volume *v, const uint8_t *ent, const char *name, struct extents *out,
                  struct mf_err *err);
/* Most clusters a directory may have. */
uint32_t dir_cluster_limit(const struct fat_volume *v);

/* ---- alloc.c: allocation and freeing ---- */

/* Find `need` free clusters not in `exclude` (may be NULL): a contiguous run
 * if there is one, else the first free ones found.  Writes nothing. */
int alloc_plan(struct fat_volume *v, uint32_t need, const struct extents *exclude,
               struct extents *out, struct mf_err *err);
/* Link the clusters into one chain ending with end-of-chain (cached, not flushed). */
int alloc_link(struct fat_volume *v, const struct extents *e, struct mf_err *err);
/* Mark every cluster free (cached, not flushed). */
int alloc_release(struct fat_volume *v, const struct extents *e, struct mf_err *err);
/* Write zeros over whole clusters (new directory clusters). */
int clusters_zero(struct fat_volume *v, const struct extents *e, struct mf_err *err);

static inline uint32_t cluster_lba(const struct fat_volume *v, uint32_t c)
{
    return v->data_start + (c - 2) * v->sec_per_clus;
}

/* Card sector of a file's sector number `sector` (clusters in e), and how
 * many sectors follow it contiguously; 0 and 0 past the end. */
void ext_locate_sector(const struct fat_volume *v, const struct extents *e, uint32_t sector,
                       uint32_t *lba, uint32_t *contiguous);

/* ---- name.c: names ---- */

struct name_plan {
    uint16_t lfn[LFN_MAX + 1];
    uint32_t lfn_len;
    bool need_lfn;       /* store long-name slots */
    bool need_tail;      /* the short name must get a ~N tail */
    uint8_t sfn[11];     /* short name (without tail) */
    uint8_t nt;          /* case flags when no LFN is stored */
};

int utf8_to_utf16(const char *s, size_t len, uint16_t *out, uint32_t max, uint32_t *out_len);
size_t utf16_to_utf8(const uint16_t *s, uint32_t len, char *out, size_t cap);
uint16_t fat_upcase(uint16_t c);
void fat_upcase_str(uint16_t *s, uint32_t len);
bool name_equal_ci(const uint16_t *a, uint32_t alen, const uint16_t *b, uint32_t blen);
/* Check a new name and work out its short form; err says why it is invalid. */
int name_plan_make(const char *name, size_t len, struct name_plan *p, struct mf_err *err);
/* Apply numeric tail n (~n) to base name in p->sfn, writing out[11]. */
void sfn_with_tail(const uint8_t sfn[11], uint32_t n, uint8_t out[11]);
uint8_t sfn_checksum(const uint8_t sfn[11]);
/* The short name as UTF-16, with the NT lower-case flags applied if asked. */
uint32_t sfn_to_utf16(const uint8_t *ent, bool apply_case, uint16_t *out);
/* The short name as stored, "NAME.EXT", in UTF-8. */
void sfn_to_text(const uint8_t *ent, char *out, size_t cap);

/* ---- lfn.c: long-name slots ---- */

struct lfn_state {
    uint16_t name[LFN_CHARS_PER_SLOT * 20 + 1];
    uint8_t expect;    /* next sequence number expected; 0: none in progress */
    uint8_t sum, slots;
    uint32_t first;    /* ordinal of the first slot */
};

void lfn_reset(struct lfn_state *st);
void lfn_feed(struct lfn_state *st, const uint8_t *ent, uint32_t ordinal);
/* At a short entry: the long name if the slots before it belong to it. */
uint32_t lfn_take(struct lfn_state *st, const uint8_t *sfn_ent, uint16_t *out, uint32_t *first);
/* Build the slots for a long name, last part first; returns the count. */
uint32_t lfn_build(const uint16_t *name, uint32_t len, uint8_t sum, uint8_t slots[][DIRENT]);

/* ---- time.c ---- */

void fat_stamp(const struct fat_volume *v, uint16_t *date, uint16_t *time, uint8_t *tenth);
void fat_time_decode(uint16_t date, uint16_t time, struct fat_time *out);

/* ---- dirent.c: 32-byte directory entries ---- */

static inline bool ent_is_lfn(const uint8_t *e) { return (e[11] & 0x3F) == ATTR_LFN; }
static inline bool ent_is_dot(const uint8_t *e) { return e[0] == '.'; }
uint32_t ent_cluster(const struct fat_volume *v, const uint8_t *e);
void ent_set_cluster(const struct fat_volume *v, uint8_t *e, uint32_t c);
/* Fill a fresh short entry with name, attributes and the current time. */
void ent_init(const struct fat_volume *v, uint8_t *e, const uint8_t sfn[11], uint8_t nt, uint8_t attr);
void ent_to_public(const struct fat_volume *v, const uint8_t *sfn_ent, const uint16_t *lfn,
                   uint32_t lfn_len, struct fat_entry *out);

/* ---- dir.c: directory iteration, scanning and placement ---- */

struct dir_iter {
    struct fat_volume *v;
    uint32_t first_cluster;   /* 0: fixed root */
    uint32_t cluster;         /* current cluster (chain directories) */
    uint32_t ordinal;         /* next entry */
    uint32_t clusters_seen;
    bool at_end;
    uint32_t lba;             /* sector of the last entry returned */
};

void dir_iter_start(struct fat_volume *v, uint32_t first_cluster, struct dir_iter *it);
/* Next raw entry (copied to ent).  Returns 1, or 0 at the physical end. */
int dir_iter_next(struct dir_iter *it, uint8_t ent[DIRENT], uint32_t *ordinal, struct mf_err *err);

struct dir_rec {
    uint8_t sfn[DIRENT];
    uint32_t first, sfn_ord;  /* ordinals of the first slot and of the short entry */
    uint16_t lfn[LFN_MAX + 1];
    uint32_t lfn_len;         /* 0: no valid long name */
};

/* Next live short entry with its long name (labels and dot entries included);
 * 1, or 0 at the end marker / physical end. */
int dir_next_rec(struct dir_iter *it, struct lfn_state *st, struct dir_rec *rec, struct mf_err *err);

struct dir_scan {
    uint32_t cluster;        /* first cluster; 0: fixed root */
    struct extents chain;    /* clusters (chain directories), grows with placement */
    uint32_t entries;        /* physical size in entries */
    uint32_t end;            /* ordinal of the end marker (first 0x00), or entries */
    uint8_t *free_map;       /* per ordinal < end: 1 if deleted (reusable) */
    uint8_t (*names)[11];    /* short names in use (sorted after the scan) */
    uint32_t nnames, names_cap;
    uint32_t live;           /* entries other than dots and label */
    bool found;
    struct dir_rec match;
};

/* Scan a directory; if query is given (upper-cased UTF-16), look for it
 * (long or short name, case-insensitive), skipping the entry at ordinal
 * `ignore` (UINT32_MAX: none). */
int dir_scan(struct fat_volume *v, uint32_t cluster, const uint16_t *query, uint32_t qlen,
             uint32_t ignore, struct dir_scan *s, struct mf_err *err);
void dir_scan_free(struct dir_scan *s);
bool dir_name_taken(const struct dir_scan *s, const uint8_t sfn[11]);
/* Sector and byte offset of an entry by ordinal. */
int dir_locate(const struct fat_volume *v, const struct dir_scan *s, uint32_t ordinal, uint32_t *lba,
               uint32_t *offset, struct mf_err *err);

struct placement {
    uint32_t start, count;   /* ordinals for the new entries */
    uint32_t pad_from;       /* end markers in [pad_from, start) become 0xE5 first */
    struct extents grow;     /* new clusters for the directory */
};

/* Choose where `count` entries go, preferring one sector, treating the
 * ordinals in [reuse_first, reuse_last] as free (an entry being renamed).
 * May plan directory growth (clusters not in `exclude`).  Writes nothing. */
int dir_place(struct fat_volume *v, struct dir_scan *s, uint32_t count, uint32_t reuse_first,
              uint32_t reuse_last, const struct extents *exclude, struct placement *pl,
              struct mf_err *err);
void placement_free(struct placement *pl);
/* Before writing: every FAT sector a publish will change (new data clusters,
 * directory growth and the directory's last cluster) must hold identical
 * copies. */
int publish_check(struct fat_volume *v, const struct dir_scan *dir, const struct extents *data,
                  const struct placement *pl, struct mf_err *err);
/* Phases of publishing: zero new directory clusters (data), link them (FAT),
 * write the entries (directory). */
int dir_grow_zero(struct fat_volume *v, const struct placement *pl, struct mf_err *err);
int dir_grow_link(struct fat_volume *v, struct dir_scan *s, const struct placement *pl,
                  struct mf_err *err);
int dir_write_entries(struct fat_volume *v, const struct dir_scan *s, const struct placement *pl,
                      uint8_t entries[][DIRENT], struct mf_err *err);
/* Mark entries [first, last] deleted (cached). */
int dir_mark_deleted(struct fat_volume *v, const struct dir_scan *s, uint32_t first, uint32_t last,
                     struct mf_err *err);

/* The entries for a new name in directory s: long-name slots plus a short
 * entry (tail chosen unique in s), filled by ent_init.  Returns count or -1. */
int dir_build_entries(struct fat_volume *v, const struct dir_scan *s, const struct name_plan *np,
                      uint8_t attr, uint8_t entries[][DIRENT], struct mf_err *err);

/* ---- path.c ---- */

struct path_target {
    bool is_root;
    bool parent_missing;      /* failed because a folder on the way does not exist */
    uint32_t parent;          /* first cluster of the parent directory (0: fixed root) */
    const char *name;         /* last component (points into the path) */
    size_t name_len;
    uint16_t query[LFN_MAX + 1];  /* last component upper-cased */
    uint32_t qlen;
};

/* Resolve all but the last component; convert the last one. */
int path_parent(struct fat_volume *v, const char *path, struct path_target *t, struct mf_err *err);
/* Resolve a full path: *found says if it exists; scan holds its directory. */
int path_lookup(struct fat_volume *v, const char *path, struct path_target *t, struct dir_scan *scan,
                struct mf_err *err);
uint32_t root_cluster_of(const struct fat_volume *v);  /* 0 for FAT12/16 */

#endif
