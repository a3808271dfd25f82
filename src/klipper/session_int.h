/* Inside the Klipper host session: its state, shared by the files that
 * each do one job (session.c: open and close; session_io.c: I/O and
 * waiting; session_window.c: blocks, acks, the window and retransmission;
 * session_query.c: queries and the replies that match them;
 * session_identify.c: sequence sync and the data dictionary). */
#ifndef MF_KLIPPER_SESSION_INT_H
#define MF_KLIPPER_SESSION_INT_H

#include "klipper/session.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_PENDING_BLOCKS 12
#define MIN_RTO_US 25000u
#define MAX_RTO_US 5000000u
#define QUERY_RETRIES 20
/* No byte at all from the MCU for this long while waiting means it is gone. */
#define SILENCE_LIMIT_US 6000000u
/* Transmit buffers of Klipper firmware (usb_cdc.c, serial_irq.c): replies
 * that do not fit are dropped. */
#define USB_TX_BUFFER 192u
#define UART_TX_BUFFER 96u
/* canserial.c's was 96 bytes until Klipper raised it to 192 in May 2026; a
 * CAN node about to be updated may well run a build from before. */
#define CAN_TX_BUFFER 96u

/* USB and CAN carry packets: round trips cost more than bytes. */
static inline bool ks_medium_has_packets(enum transport_medium m)
{
    return m == TRANSPORT_MEDIUM_USB || m == TRANSPORT_MEDIUM_CAN;
}

/* The MCU's transmit buffer on a link of this medium, the smaller where
 * that is not known. */
static inline unsigned ks_tx_buffer_of(enum transport_medium m)
{
    return m == TRANSPORT_MEDIUM_USB ? USB_TX_BUFFER : m == TRANSPORT_MEDIUM_CAN ? CAN_TX_BUFFER : UART_TX_BUFFER;
}
/* What a full-speed USB host takes from the board's bulk endpoint while it
 * has data, at least: five packets per 1 ms frame. */
#define USB_PACKETS_PER_MS 5u

/* Q_REPLIED: a reply came, but an alike query of the same block may have
 * lost its own, which would make this one the wrong reply; it is done when
 * the block is. */
enum qstate { Q_QUEUED, Q_SENT, Q_REPLIED, Q_DONE, Q_LOST, Q_SHUTDOWN };

struct kl_query {
    struct kl_query *next_in_block;
    const struct kl_msgfmt *resp;
    int oid;
    unsigned flags;
    enum qstate state;
    int retries;
    uint8_t cmd[KL_PAYLOAD_MAX];
    uint8_t cmd_len;
    uint16_t reply_size;   /* the largest its reply block can be */
    uint16_t reply_room;   /* what the MCU wants free to make it (kl_reply_room) */
    uint32_t mcu_ns;       /* the least time the MCU spends on the command */
    uint64_t block_ns;     /* ... on its block's commands up to this one */
    struct kl_msg reply;
    char shutdown_reason[96];
};

struct outblock {
    struct outblock *next;
    uint64_t seq;
    uint64_t sent_us;
    bool sent, retransmitted, data_acked;
    uint8_t len;
    uint8_t content[KL_PAYLOAD_MAX];
    uint64_t mcu_ns;          /* the least time the MCU spends on its commands */
    struct kl_query *queries; /* queries whose command is in this block */
};

struct kl_session {
    struct transport *t;
    char what[256];
    struct kl_dict *dict;
    /* identify bootstrap formats (ids 0 and 1 are fixed) */
    struct kl_msgfmt f_identify, f_identify_response;
    const struct kl_msgfmt *f_shutdown, *f_is_shutdown;

    uint64_t send_seq;    /* seq of the next block to send */
    uint64_t receive_seq; /* MCU's next expected seq as last seen */
    uint64_t last_ack_seq;/* highest seq carried by an empty (ack/nak) block */
    struct outblock *head, *tail; /* unacked and unsent blocks, in order */
    struct outblock *building;    /* block being filled (not in the list) */
    unsigned inflight;            /* sent and unacked */
    unsigned inflight_bytes;
    unsigned tx_buffer;           /* the MCU's transmit buffer size */
    uint64_t answered_seq;        /* blocks below this have been answered */
    unsigned partial_bytes;       /* of a block still arriving */
    struct command_time {         /* the least time the MCU spends on a command */
        const struct kl_msgfmt *cmd;
        uint32_t fixed_ns, per_byte_ns;
    } times[8];
    unsigned ntimes;
    int64_t receive_window;       /* 0: not declared */
    uint64_t byte_time_ns;        /* UART wire time per byte, 0 on USB */

    uint64_t rto_us, srtt_us, rttvar_us;
    uint64_t retransmit_at;
    uint64_t probe_at;            /* when to send an empty block to get an ack */
    bool nak_retransmitted;       /* ignore further naks until progress */
    uint64_t last_progress_us;    /* when the MCU last acknowledged something */

    uint8_t inbuf[4096];
    size_t inlen;
    struct kl_finder finder;
    uint8_t outbuf[4096];
    size_t outlen;

    bool shutdown;
    char shutdown_reason[96];
    bool dead;
    struct mf_err dead_err;
    struct kl_stats stats;
};

/* session_io.c: I/O and waiting */
int ks_fail_dead(struct kl_session *s, struct mf_err *err);
void ks_set_dead(struct kl_session *s, const char *why);
void ks_write_out(struct kl_session *s);
void ks_queue_bytes(struct kl_session *s, const uint8_t *b, size_t n);
uint64_t ks_wire_us(const struct kl_session *s, size_t bytes);
void ks_pump(struct kl_session *s, uint64_t deadline);

/* session_window.c: blocks, acks, window, retransmission */
void ks_arm_retransmit(struct kl_session *s, uint64_t now);
void ks_send_ready(struct kl_session *s);
void ks_close_building(struct kl_session *s);
int ks_append_command(struct kl_session *s, const uint8_t *cmd, size_t len, uint32_t mcu_ns, struct kl_query *q,
                      struct mf_err *err);
uint32_t ks_command_ns(const struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args);
int ks_encode(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args, uint8_t *out,
              struct mf_err *err);
void ks_retransmit_all(struct kl_session *s);
struct outblock *ks_find_sent_block(struct kl_session *s, uint64_t seq);
void ks_handle_block(struct kl_session *s, const uint8_t *blk, size_t len);
void ks_run_timers(struct kl_session *s, uint64_t now);
void ks_note_partial(struct kl_session *s, const uint8_t *start, size_t len);

/* session_query.c: queries and their replies */
void ks_resolve_queries(struct kl_session *s, struct outblock *b);
void ks_handle_message(struct kl_session *s, const struct kl_msg *m, uint64_t rseq);
int ks_shutdown_error(struct kl_session *s, const char *reason, struct mf_err *err);

/* session_identify.c: sequence sync and the dictionary */
int ks_sync_sequence(struct kl_session *s, struct mf_err *err);
int ks_identify(struct kl_session *s, struct mf_err *err);

/* session.c */
const struct kl_msgfmt *ks_lookup_id(struct kl_session *s, int32_t id);

#endif
