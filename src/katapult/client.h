/* A client for the Katapult bootloader over a transport.
 *
 * Each command is one frame and one reply.  A NACK, an error reply, a reply
 * that echoes the wrong command or address, or no reply in time makes the
 * client drain the input, pause and send the same frame again (resending a
 * block is safe: the device accepts an identical block again).  When the
 * tries run out the error names the command, the address and what came
 * back last.
 *
 * No policy lives here: nothing is sent that the caller did not ask for,
 * and COMPLETE in particular only ever comes from kp_complete.
 */
#ifndef MF_KATAPULT_CLIENT_H
#define MF_KATAPULT_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "link/transport.h"
#include "util/err.h"

struct kp_info {
    uint32_t proto;          /* 0x00MMmmpp: 0x00010100 is 1.1.0 */
    uint32_t start_address;  /* first address of the application */
    uint32_t block_size;     /* bytes per SEND_BLOCK / REQUEST_BLOCK */
    char mcu[64];            /* e.g. "stm32f446xx" */
    char version[96];        /* Katapult's build version; "" before proto 1.1.0 */
};

struct kp_stats {
    uint64_t frames_sent, frames_received;
    uint64_t nacks;        /* NACK replies */
    uint64_t errors;       /* command-error replies */
    uint64_t busy;         /* BUSY replies */
    uint64_t timeouts;     /* tries that got no reply in time */
    uint64_t mismatches;   /* ACKs for another command or address */
    uint64_t bad_bytes;    /* input skipped while looking for frames */
    uint64_t retries;      /* frames sent again */
};

/* How long to wait and how often to try.  The long waits are Katapult's
 * own tool's (2 s, and 5 s for a block that may wait for a 128 KiB sector
 * erase); but only a block that starts a flash page (every page
 * of every supported chip starts on a 1 KiB boundary) can wait for an
 * erase, so the others and read-backs get quick_reply_ms, and a reply that
 * arrived garbled is asked for again as soon as the line is quiet. */
struct kp_limits {
    unsigned tries, block_tries;
    unsigned reply_ms, block_reply_ms;
    unsigned quick_reply_ms;  /* a block inside a page, REQUEST_BLOCK */
    unsigned garbled_quiet_ms; /* quiet this long after unreadable input: try again */
    unsigned drain_ms;     /* input read and dropped after a failed try */
    unsigned pause_ms;     /* then a pause before the next */
    unsigned busy_ms;      /* pause after a BUSY reply */
};

struct kp_client;

/* A client over t (which stays owned by the caller).  Nothing is sent. */
int kp_client_new(struct transport *t, struct kp_client **out, struct mf_err *err);
void kp_client_free(struct kp_client *c);

struct kp_limits *kp_client_limits(struct kp_client *c);
/* What the last successful CONNECT reported (zeros before one). */
void kp_client_info(const struct kp_client *c, struct kp_info *info);
struct kp_stats kp_client_stats(const struct kp_client *c);

/* Double-buffered USB devices (STM32 USB FS other than F2/F4/H7) hold a
 * reply back until the next one; an unknown command first makes them
 * answer at once.  Its error reply is ignored. */
int kp_prime(struct kp_client *c, struct mf_err *err);

/* CONNECT: learn the protocol version, application start, block size, MCU
 * and (1.1.0) version.  Block sizes outside KP_BLOCK_MIN..KP_BLOCK_MAX, or
 * not a multiple of 4, are refused. */
int kp_connect(struct kp_client *c, struct kp_info *info, struct mf_err *err);
/* The CONNECT reply's payload after the echoed command word. */
int kp_parse_connect(const uint8_t *data, size_t len, struct kp_info *info, struct mf_err *err);

/* After kp_connect: one block_size block at addr (aligned, >= start). */
int kp_send_block(struct kp_client *c, uint32_t addr, const uint8_t *block, struct mf_err *err);
/* Flush the last page; the device reports how many pages it wrote. */
int kp_send_eof(struct kp_client *c, uint32_t *pages, struct mf_err *err);
int kp_request_block(struct kp_client *c, uint32_t addr, uint8_t *block, struct mf_err *err);
/* Start the application (the device resets 100 ms after its ACK). */
int kp_complete(struct kp_client *c, struct mf_err *err);
/* CAN builds only: the node's UUID. */
int kp_get_canbus_id(struct kp_client *c, uint8_t uuid[6], struct mf_err *err);

/* Whole images.  progress (may be NULL) is called after every block with
 * the bytes done and the total (the image padded to whole blocks). */
typedef void (*kp_progress_fn)(void *ctx, size_t done, size_t total);

/* Write image at the start address, the last block padded with 0xFF. */
int kp_write_image(struct kp_client *c, const uint8_t *image, size_t len, kp_progress_fn progress,
                   void *ctx, struct mf_err *err);
/* Read every block of the image back and compare.  On a difference fails
 * with MF_E_VERIFY and sets *bad_addr to the first differing address. */
int kp_verify_image(struct kp_client *c, const uint8_t *image, size_t len, kp_progress_fn progress,
                    void *ctx, uint32_t *bad_addr, struct mf_err *err);

#endif
