/* Katapult frames from the host's side, written from the protocol facts
 * (01 88 cmd len-in-words payload crc16-LE 99 03, CRC over cmd, len and
 * payload): an encoder, and a reader that finds frames in a byte stream. */
#ifndef MF_TEST_KATAPULT_WIRE_H
#define MF_TEST_KATAPULT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KW_FRAME_MAX 136

enum {
    KW_CONNECT = 0x11, KW_SEND_BLOCK = 0x12, KW_SEND_EOF = 0x13, KW_REQUEST_BLOCK = 0x14,
    KW_COMPLETE = 0x15, KW_GET_CANBUS_ID = 0x16,
    KW_ACK = 0xa0, KW_NACK = 0xf1, KW_ERROR = 0xf2,
};

struct kw_frame {
    uint8_t code;           /* the command, or the response code */
    uint8_t words;
    uint8_t payload[KW_FRAME_MAX];
    size_t len;             /* whole frame */
};

uint16_t kw_crc16(const uint8_t *data, size_t len);
/* A frame with words*4 payload bytes; returns its length. */
size_t kw_encode(uint8_t code, const void *payload, size_t words, uint8_t *out);
/* SEND_BLOCK of 64 bytes at addr. */
size_t kw_send_block(uint32_t addr, const uint8_t *data, uint8_t *out);
/* REQUEST_BLOCK at addr. */
size_t kw_request_block(uint32_t addr, uint8_t *out);

/* Bytes from the device; frames come out whole and checked. */
struct kw_reader {
    uint8_t buf[8192];
    size_t len;
    unsigned garbage;       /* bytes that were not part of a valid frame */
};

/* Add bytes; then take frames one at a time (false: none complete yet). */
void kw_feed(struct kw_reader *r, const uint8_t *data, size_t len);
bool kw_next(struct kw_reader *r, struct kw_frame *f);

uint32_t kw_le32(const uint8_t *p);
void kw_put_le32(uint8_t *p, uint32_t v);

#endif
