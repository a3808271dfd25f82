/* Klipper wire format: CRC-16, VLQ integers and message blocks.
 *
 * A block is [len][seq][content 0..59][crc_hi][crc_lo][0x7E]; the CRC
 * (CRC-16/MCRF4XX) covers len, seq and content.  There is no byte stuffing:
 * 0x7E only re-aligns the stream after an error.
 */
#ifndef MF_KLIPPER_PROTO_H
#define MF_KLIPPER_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KL_MESSAGE_MIN 5
#define KL_MESSAGE_MAX 64
#define KL_HEADER_SIZE 2
#define KL_TRAILER_SIZE 3
#define KL_PAYLOAD_MAX (KL_MESSAGE_MAX - KL_MESSAGE_MIN)
#define KL_DEST 0x10
#define KL_SEQ_MASK 0x0f
#define KL_SYNC 0x7e

uint16_t kl_crc16(const uint8_t *data, size_t len);

/* Encode v (read as signed 32-bit for the size rule) into out; returns 1..5. */
size_t kl_vlq_encode(uint32_t v, uint8_t out[5]);
/* Decode one VLQ at *p (advancing it); -1 if it runs past end. */
int kl_vlq_decode(const uint8_t **p, const uint8_t *end, uint32_t *v);
/* Number of bytes kl_vlq_encode would use. */
size_t kl_vlq_size(uint32_t v);

/* Build a block around content (len <= KL_PAYLOAD_MAX); returns block length. */
size_t kl_block_build(uint8_t seq, const uint8_t *content, size_t len, uint8_t out[KL_MESSAGE_MAX]);

/* Incremental block finder with the resync rules of both ends. */
enum kl_find_result {
    KL_FIND_MORE,   /* need more bytes */
    KL_FIND_BLOCK,  /* a valid block of `len` bytes is at the front */
    KL_FIND_SYNC,   /* `len` leading sync/garbage bytes dropped silently */
    KL_FIND_ERROR,  /* `len` bytes of a bad block dropped (one error burst) */
};

struct kl_finder {
    bool need_sync;  /* dropping input until the next 0x7E */
};

/* Look at buf[0..avail); says what the caller should do with the front. */
enum kl_find_result kl_block_find(struct kl_finder *f, const uint8_t *buf, size_t avail, size_t *len);

#endif
