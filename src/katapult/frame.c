#include "katapult/frame.h"

#include <string.h>

#include "klipper/proto.h"

#define KP_STX1 0x01
#define KP_STX2 0x88
#define KP_SYNC2 0x99
#define KP_SYNC 0x03

uint32_t kp_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void kp_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

size_t kp_frame_build(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t out[KP_FRAME_MAX])
{
    out[0] = KP_STX1;
    out[1] = KP_STX2;
    out[2] = cmd;
    out[3] = (uint8_t)(len / 4);
    if (len)
        memcpy(out + 4, payload, len);
    uint16_t crc = kl_crc16(out + 2, len + 2);
    out[4 + len] = (uint8_t)crc;
    out[5 + len] = (uint8_t)(crc >> 8);
    out[6 + len] = KP_SYNC2;
    out[7 + len] = KP_SYNC;
    return len + KP_FRAME_OVERHEAD;
}

/* Bytes before the next place a header could start (a lone 0x01 at the end
 * may be the first half of one). */
static size_t skip_to_header(const uint8_t *buf, size_t len, size_t from)
{
    for (size_t i = from; i < len; i++)
        if (buf[i] == KP_STX1 && (i + 1 == len || buf[i + 1] == KP_STX2))
            return i;
    return len;
}

enum kp_find_result kp_frame_find(const uint8_t *buf, size_t len, size_t *used)
{
    size_t start = skip_to_header(buf, len, 0);
    if (start > 0) {
        *used = start;
        return KP_FIND_SKIP;
    }
    if (len < 4)
        return KP_FIND_MORE;
    size_t total = (size_t)buf[3] * 4 + KP_FRAME_OVERHEAD;
    if (total > KP_RX_FRAME_MAX) {
        *used = skip_to_header(buf, len, 1);
        return KP_FIND_SKIP;
    }
    if (len < total)
        return KP_FIND_MORE;
    uint16_t crc = kl_crc16(buf + 2, total - 6);
    if (buf[total - 2] != KP_SYNC2 || buf[total - 1] != KP_SYNC || buf[total - 4] != (uint8_t)crc ||
        buf[total - 3] != (uint8_t)(crc >> 8)) {
        *used = skip_to_header(buf, len, 1);
        return KP_FIND_SKIP;
    }
    *used = total;
    return KP_FIND_FRAME;
}
