/* The block-device seam: FAT sits on this, and knows nothing else.
 *
 * Two implementations: an SD card reached through the board (src/sd), and an
 * image file (imagefile.c).  Sectors are always 512 bytes.
 */
#ifndef MF_BLOCKDEV_BLOCKDEV_H
#define MF_BLOCKDEV_BLOCKDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

#define MF_SECTOR_SIZE 512u

struct blockdev;

struct blockdev_ops {
    /* Read or write `count` consecutive sectors starting at `lba`.
     * Return 0, or -1 with err set. */
    int (*read)(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err);
    int (*write)(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                 struct mf_err *err);
    /* Make written sectors durable (may be NULL). */
    int (*flush)(struct blockdev *bd, struct mf_err *err);
    void (*close)(struct blockdev *bd);
};

struct blockdev {
    const struct blockdev_ops *ops;
    uint32_t sector_count;
    bool read_only;
    /* Counters, for statistics and tests. */
    uint64_t sectors_read, sectors_written;
};

int blockdev_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err);
int blockdev_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                   struct mf_err *err);
int blockdev_flush(struct blockdev *bd, struct mf_err *err);
void blockdev_close(struct blockdev *bd);

/* An image file as a block device.  read_only opens it O_RDONLY. */
int blockdev_open_image(const char *path, bool read_only, struct blockdev **out, struct mf_err *err);

#endif
