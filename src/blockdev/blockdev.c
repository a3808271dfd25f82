#include "blockdev/blockdev.h"

/* Range and permission checks live here once, not in every implementation. */

static int check_range(struct blockdev *bd, uint32_t lba, uint32_t count, struct mf_err *err)
{
    if (lba > bd->sector_count || count > bd->sector_count - lba)
        return mf_fail(err, MF_E_FS,
                       "Sector %u+%u is past the end of the card (%u sectors); nothing was changed; "
                       "the filesystem is damaged, check it with fsck.fat on a computer.",
                       lba, count, bd->sector_count);
    return 0;
}

int blockdev_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    if (check_range(bd, lba, count, err) < 0)
        return -1;
    if (count == 0)
        return 0;
    if (bd->ops->read(bd, lba, count, buf, err) < 0)
        return -1;
    bd->sectors_read += count;
    return 0;
}

int blockdev_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                   struct mf_err *err)
{
    if (bd->read_only)
        return mf_fail(err, MF_E_CARD, "The card is write-protected; nothing was written.");
    if (check_range(bd, lba, count, err) < 0)
        return -1;
    if (count == 0)
        return 0;
    if (bd->ops->write(bd, lba, count, buf, err) < 0)
        return -1;
    bd->sectors_written += count;
    return 0;
}

int blockdev_flush(struct blockdev *bd, struct mf_err *err)
{
    return bd->ops->flush ? bd->ops->flush(bd, err) : 0;
}

void blockdev_close(struct blockdev *bd)
{
    if (bd)
        bd->ops->close(bd);
}
