/* The user-facing messages that many FAT functions share. */
#include "fat/fat_priv.h"

#include <stdarg.h>
#include <stdio.h>

int fat_damaged(struct mf_err *err, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    return mf_fail(err, MF_E_FS,
                   "The card's FAT filesystem is damaged: %s; nothing was changed; repair it with "
                   "fsck.fat (Linux) or chkdsk (Windows), or reformat it as FAT32, then try again.",
                   detail);
}

int fat_not_found(struct mf_err *err, const char *path)
{
    return mf_fail(err, MF_E_INPUT, "There is no \"%.300s\" on the card; nothing was changed; check the "
                   "name and its folder.", path);
}

int fat_oom(struct mf_err *err)
{
    return mf_fail(err, MF_E_FAIL, "Out of memory while working on the card; nothing was changed.");
}

int fat_check_writable(struct fat_volume *vol, struct mf_err *err)
{
    return vol_check_writable(vol, err);
}

int vol_check_writable(struct fat_volume *v, struct mf_err *err)
{
    if (v->bd->read_only)
        return mf_fail(err, MF_E_CARD, "The card is write-protected; nothing was changed.");
    if (v->broken)
        return mf_fail(err, MF_E_CARD,
                       "An earlier write to the card failed, so nothing more was written; check the "
                       "card with fsck.fat or chkdsk before using it again.");
    if (v->no_write_code != MF_OK)
        return mf_fail(err, v->no_write_code, "%s", v->no_write);
    if (v->writer_open)
        return mf_fail(err, MF_E_FAIL,
                       "A file is still being written to the card; nothing was changed; finish or "
                       "abort that file first.");
    return 0;
}
