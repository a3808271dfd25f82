/* The card as a struct blockdev, for the FAT layer.  Range and write-protect
 * checks happen in blockdev.c and again in sd_read/write_sectors. */
#include "sd/sd_int.h"

#include <stddef.h>

static struct sd_card *card_of(struct blockdev *bd)
{
    return (struct sd_card *)((char *)bd - offsetof(struct sd_card, bd));
}

static int bd_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf,
                   struct mf_err *err)
{
    return sd_read_sectors(card_of(bd), lba, count, buf, err);
}

static int bd_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                    struct mf_err *err)
{
    return sd_write_sectors(card_of(bd), lba, count, buf, err);
}

static void bd_close(struct blockdev *bd)
{
    (void)bd;  /* the card owns it; sd_close ends it */
}

static const struct blockdev_ops card_bd_ops = { bd_read, bd_write, NULL, bd_close };

void sd_blockdev_setup(struct sd_card *card)
{
    card->bd.ops = &card_bd_ops;
}

struct blockdev *sd_card_blockdev(struct sd_card *card)
{
    return &card->bd;
}
