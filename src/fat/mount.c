/* Finding and checking the volume: superfloppy or MBR partition, boot
 * sector (BPB), FAT type by cluster count, clean-shutdown flags, FSInfo. */
#include "fat/fat_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum boot_kind { BOOT_NONE, BOOT_FAT, BOOT_EXFAT, BOOT_NTFS, BOOT_BIG_SECTOR };

static bool pow2(uint32_t x) { return x && !(x & (x - 1)); }

static enum boot_kind classify(const uint8_t *s)
{
    if (memcmp(s + 3, "EXFAT   ", 8) == 0)
        return BOOT_EXFAT;
    if (memcmp(s + 3, "NTFS    ", 8) == 0)
        return BOOT_NTFS;
    if (s[0] != 0xEB && s[0] != 0xE9 && s[0] != 0xE8)
        return BOOT_NONE;
    uint32_t bps = get16(s + 11);
    if (!pow2(bps) || bps < 512 || bps > 4096 || !pow2(s[13]) || get16(s + 14) == 0 ||
        s[16] < 1 || s[16] > 2 || (get16(s + 22) == 0 && get32(s + 36) == 0))
        return BOOT_NONE;
    return bps == 512 ? BOOT_FAT : BOOT_BIG_SECTOR;
}

static int unusable(struct mf_err *err, const char *why)
{
    return mf_fail(err, MF_E_FS,
                   "The card's filesystem cannot be used: %s; nothing was changed; back up its files "
                   "and reformat it as FAT32 (one MBR partition, 512-byte sectors), then try again.",
                   why);
}

static int boot_kind_error(enum boot_kind k, struct mf_err *err)
{
    switch (k) {
    case BOOT_EXFAT:
        return mf_fail(err, MF_E_FS,
                       "The card is formatted as exFAT, which the board's bootloader cannot read; "
                       "nothing was changed; reformat it as FAT32 (on Linux: mkfs.fat -F 32; cards "
                       "over 32 GB need a tool that allows FAT32 on them) and try again.");
    case BOOT_NTFS:
        return unusable(err, "it is formatted as NTFS");
    case BOOT_BIG_SECTOR:
        return unusable(err, "its sectors are not 512 bytes");
    default:
        return mf_fail(err, MF_E_FS,
                       "No FAT filesystem was found on the card (it looks unformatted or uses another "
                       "format); nothing was changed; format it as FAT32 and try again.");
    }
}

/* Boot sector at LBA 0, else the first MBR partition that holds FAT. */
static int find_volume(struct blockdev *bd, uint8_t *boot, uint32_t *lba, struct mf_err *err)
{
    if (blockdev_read(bd, 0, 1, boot, err) < 0)
        return mf_wrap(err, "Reading the card's first sector: ");
    enum boot_kind k = classify(boot);
    if (k != BOOT_NONE) {
        *lba = 0;
        return k == BOOT_FAT ? 0 : boot_kind_error(k, err);
    }
    if (boot[510] != 0x55 || boot[511] != 0xAA)
        return boot_kind_error(BOOT_NONE, err);
    uint8_t mbr[SECTOR];
    memcpy(mbr, boot, SECTOR);
    enum boot_kind seen = BOOT_NONE;
    bool gpt = false;
    for (int i = 0; i < 4; i++) {
        const uint8_t *e = mbr + 446 + 16 * i;
        uint32_t start = get32(e + 8);
        gpt |= e[4] == 0xEE;
        if (e[4] == 0 || start == 0 || start >= bd->sector_count)
            continue;
        if (blockdev_read(bd, start, 1, boot, err) < 0)
            return mf_wrap(err, "Reading partition %d of the card: ", i + 1);
        k = classify(boot);
        if (k == BOOT_FAT) {
            *lba = start;
            return 0;
        }
        if (seen == BOOT_NONE)
            seen = k;
    }
    if (seen == BOOT_NONE && gpt)
        return unusable(err, "it uses a GPT partition table");
    return boot_kind_error(seen, err);
}

static void set_no_write(struct fat_volume *v, enum mf_code code, const char *msg)
{
    if (v->no_write_code != MF_OK)
        return;  /* keep the first reason */
    v->no_write_code = code;
    snprintf(v->no_write, sizeof(v->no_write), "%s", msg);
}

static int parse_bpb(struct fat_volume *v, const uint8_t *b, struct mf_err *err)
{
    uint32_t root_entries = get16(b + 17), tot16 = get16(b + 19), fatsz16 = get16(b + 22);
    uint32_t tot = tot16 ? tot16 : get32(b + 32);
    uint32_t fatsz = fatsz16 ? fatsz16 : get32(b + 36);
    v->sec_per_clus = b[13];
    v->cluster_bytes = v->sec_per_clus * SECTOR;
    v->fat_start = get16(b + 14);
    v->num_fats = b[16];
    v->fat_sectors = fatsz;
    v->vol_sectors = tot;
    v->root_entries = root_entries;
    v->root_sectors = (root_entries * DIRENT + SECTOR - 1) / SECTOR;
    if (v->cluster_bytes > 65536)
        return unusable(err, "its clusters are larger than 64 KiB");
    if (tot == 0 || fatsz == 0)
        return unusable(err, "its boot sector gives a zero size");
    uint64_t meta = (uint64_t)v->fat_start + (uint64_t)v->num_fats * fatsz + v->root_sectors;
    if (meta >= tot)
        return unusable(err, "its boot sector leaves no room for data");
    v->root_start = v->fat_start + v->num_fats * fatsz;
    v->data_start = (uint32_t)meta;
    v->cluster_count = (tot - v->data_start) / v->sec_per_clus;
    v->max_cluster = v->cluster_count + 1;
    v->type = v->cluster_count < 4085 ? FAT_TYPE_12 : v->cluster_count < 65525 ? FAT_TYPE_16 : FAT_TYPE_32;
    if ((fatsz16 == 0) != (v->type == FAT_TYPE_32))
        return unusable(err, "its boot sector and its cluster count disagree on the FAT type");
    if (v->cluster_count == 0 || v->cluster_count > 0x0FFFFFF5)
        return unusable(err, "its cluster count is out of range");
    uint64_t m = v->max_cluster;
    uint64_t fat_bytes = v->type == FAT_TYPE_12 ? m + m / 2 + 2 : (m + 1) * (v->type == FAT_TYPE_16 ? 2 : 4);
    if (fat_bytes > (uint64_t)fatsz * SECTOR)
        return unusable(err, "its FAT is too small for its clusters");
    if (v->type == FAT_TYPE_32) {
        if (root_entries != 0 || get16(b + 42) != 0)
            return unusable(err, "its FAT32 boot sector has unsupported fields (version or root size)");
        v->root_cluster = get32(b + 44);
        if (!fat_in_range(v, v->root_cluster))
            return unusable(err, "its root folder starts outside the volume");
        uint16_t ext = get16(b + 40);
        if (ext & 0x80) {
            v->read_fat = ext & 0x0F;
            if (v->read_fat >= v->num_fats)
                return unusable(err, "its active FAT does not exist");
            set_no_write(v, MF_E_FS, "The card's FAT32 volume keeps its FAT copies unmirrored, which "
                         "mcuflash does not write; nothing was changed; reformat it as FAT32 and try again.");
        }
        v->bad_mark = 0x0FFFFFF7;
        v->eoc_min = 0x0FFFFFF8;
        v->eoc_mark = 0x0FFFFFFF;
    } else {
        if (root_entries == 0 || root_entries * DIRENT % SECTOR != 0)
            return unusable(err, "its root folder size is invalid");
        v->bad_mark = v->type == FAT_TYPE_12 ? 0xFF7 : 0xFFF7;
        v->eoc_min = v->bad_mark + 1;
        v->eoc_mark = v->type == FAT_TYPE_12 ? 0xFFF : 0xFFFF;
    }
    return 0;
}

static const char unclean_msg[] =
    "The card's filesystem is marked as not cleanly removed (or with errors) by the last computer "
    "or printer that used it; nothing was changed; check and repair it with fsck.fat -a (Linux) or "
    "chkdsk /f (Windows), then try again.";

/* FAT[0] must carry the media byte; the dirty bits must be clear. */
static int check_flags(struct fat_volume *v, const uint8_t *b, struct mf_err *err)
{
    uint32_t f0, f1;
    if (fat_get(v, 0, &f0, err) < 0 || fat_get(v, 1, &f1, err) < 0)
        return -1;
    uint32_t high = v->type == FAT_TYPE_12 ? 0xF00 : v->type == FAT_TYPE_16 ? 0xFF00 : 0x0FFFFF00;
    if (f0 != (high | b[21]))
        set_no_write(v, MF_E_FS, "The card's FAT does not start with the media marker of its boot "
                     "sector, so it looks damaged; nothing was changed; repair it with fsck.fat -a "
                     "(Linux) or chkdsk /f (Windows), then try again.");
    bool dirty = (b[v->type == FAT_TYPE_32 ? 65 : 37] & 1) != 0;
    if (v->type == FAT_TYPE_16)
        dirty |= !(f1 & 0x8000);
    if (v->type == FAT_TYPE_32)
        dirty |= !(f1 & 0x08000000);
    if (dirty)
        set_no_write(v, MF_E_FS, unclean_msg);
    return 0;
}

static void read_fsinfo(struct fat_volume *v, const uint8_t *b)
{
    v->alloc_hint = 2;
    v->fsinfo_free = 0xFFFFFFFF;
    uint32_t sec = get16(b + 48);
    const uint8_t *s;
    /* Through the cache: the first change of the card rewrites it. */
    if (v->type != FAT_TYPE_32 || sec == 0 || sec >= v->fat_start || cache_read(v, sec, &s, NULL) < 0)
        return;
    v->fsinfo_sector = sec;
    v->fsinfo_ok = get32(s) == 0x41615252 && get32(s + 484) == 0x61417272 && get32(s + 508) == 0xAA550000;
    if (!v->fsinfo_ok)
        return;
    v->fsinfo_free = get32(s + 488);
    uint32_t hint = get32(s + 492);
    if (fat_in_range(v, hint))
        v->alloc_hint = hint;
}

static void copy_label(char *out, const uint8_t *raw)
{
    memcpy(out, raw, 11);
    out[11] = '\0';
    for (int i = 0; i < 11; i++)
        if ((uint8_t)out[i] < 0x20 || (uint8_t)out[i] >= 0x7F)
            out[i] = '?';
    for (int i = 10; i >= 0 && out[i] == ' '; i--)
        out[i] = '\0';
    if (strcmp(out, "NO NAME") == 0)
        out[0] = '\0';
}

/* The label entry in the root folder wins over the boot sector copy. */
static void read_label(struct fat_volume *v, const uint8_t *b)
{
    uint32_t sig_at = v->type == FAT_TYPE_32 ? 66 : 38;
    if (b[sig_at] == 0x29)
        copy_label(v->label, b + sig_at + 5);
    v->volume_id = b[sig_at] == 0x29 ? get32(b + sig_at + 1) : 0;
    struct dir_iter it;
    struct lfn_state st;
    struct dir_rec *rec = malloc(sizeof(*rec));
    if (!rec)
        return;
    lfn_reset(&st);
    dir_iter_start(v, root_cluster_of(v), &it);
    while (dir_next_rec(&it, &st, rec, NULL) == 1) {
        if ((rec->sfn[11] & FAT_ATTR_VOLUME_ID) && !(rec->sfn[11] & FAT_ATTR_DIRECTORY)) {
            copy_label(v->label, rec->sfn);
            break;
        }
    }
    free(rec);
}

int fat_mount(struct blockdev *bd, struct fat_volume **out, struct mf_err *err)
{
    *out = NULL;
    uint8_t boot[SECTOR];
    uint32_t lba;
    if (find_volume(bd, boot, &lba, err) < 0)
        return -1;
    struct fat_volume *v = calloc(1, sizeof(*v));
    if (!v)
        return fat_oom(err);
    v->bd = bd;
    v->part_lba = lba;
    if (parse_bpb(v, boot, err) < 0)
        goto fail;
    if ((uint64_t)lba + v->vol_sectors > bd->sector_count) {
        unusable(err, "the volume is larger than the card (the card or image is truncated)");
        goto fail;
    }
    if (check_flags(v, boot, err) < 0)
        goto fail;
    read_fsinfo(v, boot);
    read_label(v, boot);
    *out = v;
    return 0;
fail:
    free(v);
    return -1;
}

int fat_sync(struct fat_volume *vol, struct mf_err *err)
{
    if (cache_flush(vol, err) < 0 || change_settle(vol, err) < 0)
        return -1;
    if (vol->bd->read_only)
        return 0;
    return blockdev_flush(vol->bd, err);
}

int fat_unmount(struct fat_volume *vol, struct mf_err *err)
{
    if (!vol)
        return 0;
    int rc = 0;
    if (!vol->broken && !vol->bd->read_only)
        rc = fat_sync(vol, err);
    free(vol);
    return rc;
}

int fat_info(struct fat_volume *vol, bool exact_free, struct fat_info *out, struct mf_err *err)
{
    memset(out, 0, sizeof(*out));
    out->type = vol->type;
    memcpy(out->label, vol->label, sizeof(out->label));
    out->volume_id = vol->volume_id;
    out->partition_lba = vol->part_lba;
    out->cluster_bytes = vol->cluster_bytes;
    out->cluster_count = vol->cluster_count;
    out->total_bytes = (uint64_t)vol->cluster_count * vol->cluster_bytes;
    if (vol->free_known) {
        out->free_clusters = vol->free_clusters;
        out->free_exact = true;
    } else if (!exact_free && vol->fsinfo_ok && vol->fsinfo_free <= vol->cluster_count) {
        out->free_clusters = vol->fsinfo_free;
    } else {
        if (fat_count_free(vol, &out->free_clusters, err) < 0)
            return -1;
        out->free_exact = true;
    }
    out->free_bytes = (uint64_t)out->free_clusters * vol->cluster_bytes;
    out->writable = !vol->bd->read_only && !vol->broken && vol->no_write_code == MF_OK;
    return 0;
}
