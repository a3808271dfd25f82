/* Katapult's frame format.
 *
 * 01 88 | cmd | len (payload words) | payload (len * 4 bytes) | crc16 LE | 99 03
 *
 * The CRC (Klipper's CRC-16/MCRF4XX) covers cmd, len and the payload.  All
 * integers in payloads are little-endian.
 */
#ifndef MF_KATAPULT_FRAME_H
#define MF_KATAPULT_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define KP_FRAME_OVERHEAD 8
/* The device accepts frames of at most 128 bytes. */
#define KP_FRAME_MAX 128
#define KP_PAYLOAD_MAX (KP_FRAME_MAX - KP_FRAME_OVERHEAD)
/* Block sizes the host accepts: a SEND_BLOCK (address + block) must fit in
 * one frame the device can receive. */
#define KP_BLOCK_MIN 64
#define KP_BLOCK_MAX (KP_PAYLOAD_MAX - 4)
/* The longest frame the device sends: a REQUEST_BLOCK reply (echoed
 * command, address, block). */
#define KP_RX_FRAME_MAX (KP_FRAME_OVERHEAD + 8 + KP_BLOCK_MAX)

enum kp_command {
    KP_CONNECT = 0x11,
    KP_SEND_BLOCK = 0x12,
    KP_SEND_EOF = 0x13,
    KP_REQUEST_BLOCK = 0x14,
    KP_COMPLETE = 0x15,
    KP_GET_CANBUS_ID = 0x16,
};

enum kp_response {
    KP_ACK = 0xa0,
    KP_NACK = 0xf1,   /* the device could not read our frame */
    KP_ERROR = 0xf2,  /* it read it and refused it */
    KP_BUSY = 0xf3,   /* known to host tools, sent by no current firmware */
};

uint32_t kp_get_le32(const uint8_t *p);
void kp_put_le32(uint8_t *p, uint32_t v);

/* Build a frame around payload (len a multiple of 4, <= KP_PAYLOAD_MAX);
 * returns the frame length. */
size_t kp_frame_build(uint8_t cmd, const uint8_t *payload, size_t len, uint8_t out[KP_FRAME_MAX]);

enum kp_find_result {
    KP_FIND_MORE,   /* need more bytes; nothing consumed */
    KP_FIND_FRAME,  /* a valid frame of `used` bytes is at the front */
    KP_FIND_SKIP,   /* `used` bytes that start no valid frame: drop them */
};

/* Look for a frame at the front of buf.  Garbage, bad lengths, trailers
 * and CRCs are skipped up to the next possible header (01 88), so a stream
 * with noise resynchronises on the next good frame. */
enum kp_find_result kp_frame_find(const uint8_t *buf, size_t len, size_t *used);

#endif
