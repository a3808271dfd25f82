#include "fake_katapult.h"

#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "katapult/frame.h"

#define START FAKE_KP_START
#define FLASH_SIZE FAKE_KP_FLASH_SIZE

static void put_frame(int fd, uint8_t code, const uint8_t *payload, size_t len)
{
    uint8_t out[KP_RX_FRAME_MAX + 8];
    size_t n = kp_frame_build(code, payload, len, out);
    if (write(fd, out, n) != (ssize_t)n)
        _exit(3);
}

size_t fake_kp_connect_reply(const struct fake_kp *d, uint8_t *p)
{
    size_t n = 0;
    kp_put_le32(p, KP_CONNECT);
    kp_put_le32(p + 4, d->proto);
    kp_put_le32(p + 8, START);
    kp_put_le32(p + 12, d->block_size);
    n = 16;
    memcpy(p + n, d->mcu, strlen(d->mcu));
    n += strlen(d->mcu);
    memset(p + n, 0, (size_t)d->padding + 1);
    n += (size_t)d->padding + 1;
    if (d->version) {
        memcpy(p + n, d->version, strlen(d->version));
        n += strlen(d->version);
    }
    while (n % 4)
        p[n++] = 0;
    return n;
}

/* Answer one valid frame the way Katapult does, unless a fault applies. */
static void answer(int fd, const struct fake_kp *d, uint8_t *flash, const uint8_t *f, enum fake_kp_fault fault)
{
    uint8_t cmd = f[2], p[KP_RX_FRAME_MAX];
    size_t len = 4;
    uint32_t addr = f[3] ? kp_get_le32(f + 4) : 0;
    kp_put_le32(p, cmd);
    if (fault == F_SILENT)
        return;
    if (fault == F_NACK || fault == F_ERROR) {
        put_frame(fd, fault == F_NACK ? KP_NACK : KP_ERROR, NULL, 0);
        return;
    }
    if (fault == F_NOISE && write(fd, "\x7e\x01\x55\x99\x03", 5) != 5)
        _exit(3);
    switch (cmd) {
    case KP_CONNECT:
        len = fake_kp_connect_reply(d, p);
        break;
    case KP_SEND_BLOCK:
        if (addr < START || addr + d->block_size > START + FLASH_SIZE || (size_t)f[3] * 4 != 4 + d->block_size) {
            put_frame(fd, KP_ERROR, NULL, 0);
            return;
        }
        memcpy(flash + addr - START, f + 8, d->block_size);
        kp_put_le32(p + 4, addr);
        len = 8;
        break;
    case KP_SEND_EOF:
        kp_put_le32(p + 4, 3);
        len = 8;
        break;
    case KP_REQUEST_BLOCK:
        if (addr < START || addr + d->block_size > START + FLASH_SIZE) {
            put_frame(fd, KP_ERROR, NULL, 0);
            return;
        }
        kp_put_le32(p + 4, addr);
        memcpy(p + 8, flash + addr - START, d->block_size);
        if (fault == F_FLIP_READ)
            p[8 + 5] ^= 0x04;
        len = 8 + d->block_size;
        break;
    case KP_COMPLETE:
        break;
    case KP_GET_CANBUS_ID:
        memcpy(p + 4, d->uuid, 6);
        memset(p + 10, 0, 2);
        len = 12;
        break;
    default:
        put_frame(fd, KP_ERROR, NULL, 0);
        return;
    }
    if (fault == F_WRONG_CMD)
        kp_put_le32(p, cmd + 1);
    if (fault == F_WRONG_ADDR && len >= 8)
        kp_put_le32(p + 4, addr + d->block_size);
    put_frame(fd, KP_ACK, p, len);
}

void fake_kp_run(int fd, const struct fake_kp *d)
{
    uint8_t flash[FLASH_SIZE], buf[1024];
    memset(flash, 0xff, sizeof(flash));
    size_t len = 0;
    int frames = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            _exit(0);
        len += (size_t)n;
        size_t used;
        enum kp_find_result r;
        while ((r = kp_frame_find(buf, len, &used)) != KP_FIND_MORE) {
            if (r == KP_FIND_FRAME) {
                frames++;
                bool hit = frames >= d->first_fault && frames <= d->last_fault;
                answer(fd, d, flash, buf, hit ? d->fault : F_NONE);
            } else {
                put_frame(fd, KP_NACK, NULL, 0);
            }
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
}

