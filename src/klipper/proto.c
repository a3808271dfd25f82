#include "klipper/proto.h"

uint16_t kl_crc16(const uint8_t *data, size_t len)
{
    /* CRC-16/MCRF4XX, byte-wise: reflected 0x8408, init 0xFFFF, no xorout. */
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < len; i++) {
        uint8_t d = data[i] ^ (uint8_t)(crc & 0xff);
        d ^= (uint8_t)(d << 4);
        crc = (uint16_t)((((uint16_t)d << 8) | (crc >> 8)) ^ (uint8_t)(d >> 4) ^ ((uint16_t)d << 3));
    }
    return crc;
}

size_t kl_vlq_size(uint32_t v)
{
    int32_t sv = (int32_t)v;
    if (sv >= -(1 << 5) && sv < (3 << 5))
        return 1;
    if (sv >= -(1 << 12) && sv < (3 << 12))
        return 2;
    if (sv >= -(1 << 19) && sv < (3 << 19))
        return 3;
    if (sv >= -(1 << 26) && sv < (3 << 26))
        return 4;
    return 5;
}

size_t kl_vlq_encode(uint32_t v, uint8_t out[5])
{
    size_t n = kl_vlq_size(v), i = 0;
    for (size_t shift = 7 * (n - 1); shift > 0; shift -= 7)
        out[i++] = (uint8_t)(((v >> shift) & 0x7f) | 0x80);
    out[i++] = (uint8_t)(v & 0x7f);
    return i;
}

int kl_vlq_decode(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
    const uint8_t *q = *p;
    if (q >= end)
        return -1;
    uint8_t c = *q++;
    uint32_t r = c & 0x7f;
    /* The sign is carried by bits 6..5 of the first byte only. */
    if ((c & 0x60) == 0x60)
        r |= (uint32_t)-0x20;
    while (c & 0x80) {
        if (q >= end)
            return -1;
        c = *q++;
        r = (r << 7) | (c & 0x7f);
    }
    *v = r;
    *p = q;
    return 0;
}

size_t kl_block_build(uint8_t seq, const uint8_t *content, size_t len, uint8_t out[KL_MESSAGE_MAX])
{
    size_t total = len + KL_MESSAGE_MIN;
    out[0] = (uint8_t)total;
    out[1] = (uint8_t)(KL_DEST | (seq & KL_SEQ_MASK));
    for (size_t i = 0; i < len; i++)
        out[KL_HEADER_SIZE + i] = content[i];
    uint16_t crc = kl_crc16(out, total - KL_TRAILER_SIZE);
    out[total - 3] = (uint8_t)(crc >> 8);
    out[total - 2] = (uint8_t)crc;
    out[total - 1] = KL_SYNC;
    return total;
}

/* Bytes up to and including the next sync, or everything if there is none. */
static size_t skip_to_sync(struct kl_finder *f, const uint8_t *buf, size_t avail)
{
    for (size_t i = 0; i < avail; i++)
        if (buf[i] == KL_SYNC) {
            f->need_sync = false;
            return i + 1;
        }
    f->need_sync = true;
    return avail;
}

enum kl_find_result kl_block_find(struct kl_finder *f, const uint8_t *buf, size_t avail, size_t *len)
{
    *len = 0;
    if (!avail)
        return KL_FIND_MORE;
    if (f->need_sync) {
        /* Still inside a burst already reported: drop quietly. */
        *len = skip_to_sync(f, buf, avail);
        return KL_FIND_SYNC;
    }
    if (buf[0] == KL_SYNC) {
        *len = 1;
        return KL_FIND_SYNC;
    }
    uint8_t blen = buf[0];
    if (blen < KL_MESSAGE_MIN || blen > KL_MESSAGE_MAX || (avail >= 2 && (buf[1] & ~KL_SEQ_MASK) != KL_DEST)) {
        *len = skip_to_sync(f, buf, avail);
        return KL_FIND_ERROR;
    }
    if (avail < blen)
        return KL_FIND_MORE;
    uint16_t crc = kl_crc16(buf, blen - KL_TRAILER_SIZE);
    if (buf[blen - 1] != KL_SYNC || buf[blen - 3] != (uint8_t)(crc >> 8) || buf[blen - 2] != (uint8_t)crc) {
        *len = skip_to_sync(f, buf, avail);
        return KL_FIND_ERROR;
    }
    *len = blen;
    return KL_FIND_BLOCK;
}
