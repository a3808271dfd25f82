#include "blockdev/blockdev.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct image_bd {
    struct blockdev bd;
    int fd;
    char path[256];
};

static int image_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    struct image_bd *im = (struct image_bd *)bd;
    size_t len = (size_t)count * MF_SECTOR_SIZE;
    ssize_t n = pread(im->fd, buf, len, (off_t)lba * MF_SECTOR_SIZE);
    if (n < 0 || (size_t)n != len)
        return mf_fail(err, MF_E_CARD, "Cannot read sector %u of image %s (%s); nothing was changed.",
                       lba, im->path, n < 0 ? strerror(errno) : "short read");
    return 0;
}

static int image_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf,
                       struct mf_err *err)
{
    struct image_bd *im = (struct image_bd *)bd;
    size_t len = (size_t)count * MF_SECTOR_SIZE;
    ssize_t n = pwrite(im->fd, buf, len, (off_t)lba * MF_SECTOR_SIZE);
    if (n < 0 || (size_t)n != len)
        return mf_fail(err, MF_E_CARD, "Cannot write sector %u of image %s (%s).", lba, im->path,
                       n < 0 ? strerror(errno) : "short write");
    return 0;
}

static int image_flush(struct blockdev *bd, struct mf_err *err)
{
    struct image_bd *im = (struct image_bd *)bd;
    if (fsync(im->fd) < 0)
        return mf_fail(err, MF_E_CARD, "Cannot flush image %s: %s.", im->path, strerror(errno));
    return 0;
}

static void image_close(struct blockdev *bd)
{
    struct image_bd *im = (struct image_bd *)bd;
    close(im->fd);
    free(im);
}

static const struct blockdev_ops image_ops = { image_read, image_write, image_flush, image_close };

int blockdev_open_image(const char *path, bool read_only, struct blockdev **out, struct mf_err *err)
{
    int fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return mf_fail(err, MF_E_INPUT, "Cannot open card image %s: %s.", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)MF_SECTOR_SIZE) {
        close(fd);
        return mf_fail(err, MF_E_INPUT, "Card image %s is not a regular file of at least one sector.",
                       path);
    }
    struct image_bd *im = calloc(1, sizeof(*im));
    if (!im) {
        close(fd);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    im->bd.ops = &image_ops;
    im->bd.sector_count = (uint32_t)(st.st_size / MF_SECTOR_SIZE);
    im->bd.read_only = read_only;
    im->fd = fd;
    snprintf(im->path, sizeof(im->path), "%s", path);
    *out = &im->bd;
    return 0;
}
