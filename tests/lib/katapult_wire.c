/* Katapult frames for tests. */
#include "katapult_wire.h"

#include <string.h>

uint16_t kw_crc16(const uint8_t *data, size_t len)
{
    /* CRC-16/MCRF4XX: init 0xffff, reflected 0x1021, no final xor. */
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = crc & 1 ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
    }
    return crc;
}

uint32_t kw_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void kw_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t kw_encode(uint8_t code, const void *payload, size_t words, uint8_t *out)
{
    size_t n = 0;
    out[n++] = 0x01;
    out[n++] = 0x88;
    out[n++] = code;
    out[n++] = (uint8_t)words;
    if (words)
        memcpy(out + n, payload, words * 4);
    n += words * 4;
    uint16_t crc = kw_crc16(out + 2, n - 2);
    out[n++] = (uint8_t)crc;
    out[n++] = (uint8_t)(crc >> 8);
    out[n++] = 0x99;
    out[n++] = 0x03;
    return n;
}

size_t kw_send_block(uint32_t addr, const uint8_t *data, uint8_t *out)
{
    uint8_t p[68];
    kw_put_le32(p, addr);
    memcpy(p + 4, data, 64);
    return kw_encode(KW_SEND_BLOCK, p, 17, out);
}

size_t kw_request_block(uint32_t addr, uint8_t *out)
{
    uint8_t p[4];
    kw_put_le32(p, addr);
    return kw_encode(KW_REQUEST_BLOCK, p, 1, out);
}

void kw_feed(struct kw_reader *r, const uint8_t *data, size_t len)
{
    if (len > sizeof(r->buf) - r->len)
        len = sizeof(r->buf) - r->len;
    memcpy(r->buf + r->len, data, len);
    r->len += len;
}

static void drop(struct kw_reader *r, size_t n)
{
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
}

bool kw_next(struct kw_reader *r, struct kw_frame *f)
{
    while (r->len >= 8) {
        size_t len = (size_t)r->buf[3] * 4 + 8;
        bool head = r->buf[0] == 0x01 && r->buf[1] == 0x88 && len <= KW_FRAME_MAX;
        if (head && r->len < len)
            return false;
        if (head && r->buf[len - 2] == 0x99 && r->buf[len - 1] == 0x03 &&
            kw_crc16(r->buf + 2, len - 6) == (uint16_t)(r->buf[len - 4] | r->buf[len - 3] << 8)) {
            f->code = r->buf[2];
            f->words = r->buf[3];
            memcpy(f->payload, r->buf + 4, len - 8);
            f->len = len;
            drop(r, len);
            return true;
        }
        r->garbage++;
        drop(r, 1);
    }
    return false;
}
