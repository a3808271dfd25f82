/* Katapult frames: the precomputed frames of the protocol reference (and
 * BUSY's correct CRC), a payload round trip, and the frame finder's
 * resynchronisation on noise, bad CRCs and bad trailers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "katapult/frame.h"

static void test_precomputed(void)
{
    static const struct { uint8_t cmd; uint8_t frame[8]; } v[] = {
        { 0x11, { 0x01, 0x88, 0x11, 0x00, 0xf1, 0x7c, 0x99, 0x03 } }, /* CONNECT */
        { 0x13, { 0x01, 0x88, 0x13, 0x00, 0x41, 0x4f, 0x99, 0x03 } }, /* SEND_EOF */
        { 0x15, { 0x01, 0x88, 0x15, 0x00, 0x91, 0x1b, 0x99, 0x03 } }, /* COMPLETE */
        { 0x16, { 0x01, 0x88, 0x16, 0x00, 0xf9, 0x31, 0x99, 0x03 } }, /* GET_CANBUS_ID */
        { 0xf1, { 0x01, 0x88, 0xf1, 0x00, 0x68, 0x95, 0x99, 0x03 } }, /* NACK */
        { 0xf2, { 0x01, 0x88, 0xf2, 0x00, 0x00, 0xbf, 0x99, 0x03 } }, /* ERROR */
        { 0xf3, { 0x01, 0x88, 0xf3, 0x00, 0xd8, 0xa6, 0x99, 0x03 } }, /* BUSY (not protocol.md's copy of ERROR) */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t out[KP_FRAME_MAX];
        CHECK_EQ(kp_frame_build(v[i].cmd, NULL, 0, out), 8);
        CHECK_MEM(out, v[i].frame, 8);
        size_t used = 0;
        CHECK_EQ(kp_frame_find(v[i].frame, 8, &used), KP_FIND_FRAME);
        CHECK_EQ(used, 8);
    }
}

static void test_payload(void)
{
    uint8_t payload[68], out[KP_FRAME_MAX];
    kp_put_le32(payload, 0x08002040);
    for (int i = 4; i < 68; i++)
        payload[i] = (uint8_t)(i * 7);
    size_t n = kp_frame_build(0x12, payload, sizeof(payload), out);
    CHECK_EQ(n, 76);
    CHECK_EQ(out[3], 17);
    CHECK_EQ(kp_get_le32(out + 4), 0x08002040);
    CHECK_EQ(out[4], 0x40);
    CHECK_EQ(out[7], 0x08);
    size_t used;
    CHECK_EQ(kp_frame_find(out, n, &used), KP_FIND_FRAME);
    CHECK_EQ(used, 76);
    /* Every proper prefix asks for more. */
    for (size_t k = 0; k < n; k++)
        CHECK_EQ(kp_frame_find(out, k, &used), KP_FIND_MORE);
    /* Any single flipped bit is caught. */
    int caught = 0;
    for (size_t byte = 2; byte < n; byte++) {
        out[byte] ^= 0x10;
        if (kp_frame_find(out, n, &used) != KP_FIND_FRAME)
            caught++;
        out[byte] ^= 0x10;
    }
    CHECK_EQ(caught, (int)n - 2);
}

/* Feed a stream through the finder; count frames and skipped bytes. */
static int frames_in(const uint8_t *buf, size_t len, size_t *skipped, uint8_t *cmds)
{
    int frames = 0;
    size_t pos = 0, used;
    *skipped = 0;
    for (;;) {
        enum kp_find_result r = kp_frame_find(buf + pos, len - pos, &used);
        if (r == KP_FIND_MORE)
            break;
        if (r == KP_FIND_FRAME)
            cmds[frames++] = buf[pos + 2];
        else
            *skipped += used;
        CHECK(used > 0);
        pos += used;
    }
    return frames;
}

static void test_resync(void)
{
    uint8_t stream[256], cmds[16];
    size_t n = 0, skipped;
    static const uint8_t noise[] = { 0x7e, 0x01, 0x02, 0x99, 0x03, 0x01 };
    memcpy(stream + n, noise, sizeof(noise));
    n += sizeof(noise);
    n += kp_frame_build(0xa0, (const uint8_t[]){ 0x11, 0, 0, 0 }, 4, stream + n);
    /* A frame with a bad CRC, then one with a bad trailer. */
    size_t bad = n;
    n += kp_frame_build(0xf1, NULL, 0, stream + n);
    stream[bad + 4] ^= 1;
    bad = n;
    n += kp_frame_build(0xf2, NULL, 0, stream + n);
    stream[bad + 7] = 0x04;
    /* A header claiming a frame longer than any reply. */
    stream[n++] = 0x01;
    stream[n++] = 0x88;
    stream[n++] = 0xa0;
    stream[n++] = 0x40;
    n += kp_frame_build(0xa0, (const uint8_t[]){ 0x13, 0, 0, 0, 5, 0, 0, 0 }, 8, stream + n);
    CHECK_EQ(frames_in(stream, n, &skipped, cmds), 2);
    CHECK_EQ(cmds[0], 0xa0);
    CHECK_EQ(cmds[1], 0xa0);
    CHECK_EQ(skipped, sizeof(noise) + 8 + 8 + 4);
    /* A trailing lone 0x01 is kept: it may start the next header. */
    uint8_t tail[] = { 0x55, 0x01 };
    size_t used;
    CHECK_EQ(kp_frame_find(tail, 2, &used), KP_FIND_SKIP);
    CHECK_EQ(used, 1);
    CHECK_EQ(kp_frame_find(tail + 1, 1, &used), KP_FIND_MORE);
}

int main(void)
{
    test_precomputed();
    test_payload();
    test_resync();
    return check_report("test_katapult_frame");
}
