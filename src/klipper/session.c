/* Host side of the Klipper link layer.
 *
 * Blocks go out with 64-bit sequence numbers (the wire carries the low
 * nibble).  A block is acknowledged when any MCU block carries a higher
 * "next expected" sequence.  Responses carry the sequence the MCU expected
 * after the block that produced them, which tells exactly which block (and so
 * which query) they answer; the explicit ack after them proves that a query
 * without a response lost it.
 */
#include "klipper/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

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

enum qstate { Q_QUEUED, Q_SENT, Q_DONE, Q_LOST, Q_SHUTDOWN };

struct kl_query {
    struct kl_query *next_in_block;
    const struct kl_msgfmt *resp;
    int oid;
    unsigned flags;
    enum qstate state;
    int retries;
    uint8_t cmd[KL_PAYLOAD_MAX];
    uint8_t cmd_len;
    uint16_t reply_size;   /* estimated size of the reply block */
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
    unsigned expect;          /* reply bytes counted for it when sent */
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
    /* Bytes the MCU may still hold in its transmit buffer: replies and acks
     * expected for everything sent, less what has arrived. */
    uint64_t expect_rx;
    uint64_t rx_parsed;           /* input bytes taken apart into blocks (or skipped) */
    unsigned tx_buffer;           /* the MCU's transmit buffer size */
    uint64_t last_byte_us;        /* when input last arrived */
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

static int fail_dead(struct kl_session *s, struct mf_err *err)
{
    if (err)
        *err = s->dead_err;
    return -1;
}

static void set_dead(struct kl_session *s, const char *why)
{
    if (s->dead)
        return;
    s->dead = true;
    mf_fail(&s->dead_err, MF_E_DEVICE, "%s %s; the operation was interrupted; check the cable and power, "
            "then run the command again.", s->what, why);
}

/* ---- output ---------------------------------------------------------- */

static void write_out(struct kl_session *s)
{
    while (s->outlen && !s->dead) {
        ssize_t n = transport_write(s->t, s->outbuf, s->outlen);
        if (n < 0)
            set_dead(s, "stopped accepting data (the device went away)");
        if (n <= 0)
            return;
        memmove(s->outbuf, s->outbuf + n, s->outlen - (size_t)n);
        s->outlen -= (size_t)n;
    }
}

static void queue_bytes(struct kl_session *s, const uint8_t *b, size_t n)
{
    if (s->outlen + n > sizeof(s->outbuf))
        write_out(s);
    if (s->outlen + n > sizeof(s->outbuf)) {
        /* The device is not draining; wait for it rather than drop bytes. */
        while (!s->dead && s->outlen + n > sizeof(s->outbuf)) {
            if (!(transport_wait(s->t, TRANSPORT_WRITABLE, 1000) & TRANSPORT_WRITABLE))
                set_dead(s, "stopped accepting data");
            write_out(s);
        }
        if (s->dead)
            return;
    }
    memcpy(s->outbuf + s->outlen, b, n);
    s->outlen += n;
}

static void transmit_block(struct kl_session *s, struct outblock *b)
{
    uint8_t frame[KL_MESSAGE_MAX];
    size_t n = kl_block_build((uint8_t)b->seq, b->content, b->len, frame);
    queue_bytes(s, frame, n);
    s->stats.blocks_sent++;
    s->stats.bytes_sent += n;
}

static uint64_t wire_us(const struct kl_session *s, size_t bytes)
{
    return s->byte_time_ns * bytes / 1000u;
}

static void arm_retransmit(struct kl_session *s, uint64_t now)
{
    s->retransmit_at = s->inflight ? now + s->rto_us + wire_us(s, s->inflight_bytes) : 0;
}

/* What the MCU sends back for a block: its replies and the ack after them. */
static unsigned block_reply_bytes(const struct outblock *b)
{
    unsigned n = KL_MESSAGE_MIN;
    for (const struct kl_query *q = b->queries; q; q = q->next_in_block)
        n += q->reply_size;
    return n;
}

/* Send queued blocks as far as the window rules allow. */
static void send_ready(struct kl_session *s)
{
    uint64_t now = mf_now_us();
    for (struct outblock *b = s->head; b; b = b->next) {
        if (b->sent)
            continue;
        if (s->inflight >= MAX_PENDING_BLOCKS)
            break;
        if (s->receive_window && s->inflight &&
            (int64_t)s->inflight_bytes + KL_MESSAGE_MAX > s->receive_window)
            break;
        /* Firmware drops a reply that does not fit its transmit buffer.
         * Replies can outgrow requests (an SPI read answers 56 bytes for
         * 56 sent, plus a longer id and an ack), so over a long pipeline
         * they pile up there: send only what the buffer can take. */
        unsigned expect = block_reply_bytes(b);
        uint64_t held = s->expect_rx > s->rx_parsed ? s->expect_rx - s->rx_parsed : 0;
        if (s->inflight && held + expect > s->tx_buffer)
            break;
        if (!s->inflight)
            s->last_progress_us = now; /* silence is measured from here */
        b->seq = s->send_seq++;
        b->sent = true;
        b->sent_us = now;
        s->inflight++;
        s->inflight_bytes += b->len + KL_MESSAGE_MIN;
        if (s->expect_rx < s->rx_parsed)
            s->expect_rx = s->rx_parsed;
        s->expect_rx += expect;
        b->expect = expect;
        for (struct kl_query *q = b->queries; q; q = q->next_in_block)
            q->state = Q_SENT;
        if (s->inflight == 1)
            arm_retransmit(s, now);
        transmit_block(s, b);
    }
    write_out(s);
}

static void close_building(struct kl_session *s)
{
    struct outblock *b = s->building;
    if (!b)
        return;
    s->building = NULL;
    if (s->tail)
        s->tail->next = b;
    else
        s->head = b;
    s->tail = b;
}

/* Append an encoded command (and its query, if any) to the block being built. */
static int append_command(struct kl_session *s, const uint8_t *cmd, size_t len, struct kl_query *q,
                          struct mf_err *err)
{
    /* One query per block: a reply names its block, not its query, so two
     * alike queries in one block could not be told apart if one reply were
     * lost. */
    if (s->building && (s->building->len + len > KL_PAYLOAD_MAX || (q && s->building->queries)))
        close_building(s);
    if (!s->building) {
        s->building = calloc(1, sizeof(*s->building));
        if (!s->building)
            return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    struct outblock *b = s->building;
    if (len)
        memcpy(b->content + b->len, cmd, len);
    b->len = (uint8_t)(b->len + len);
    if (q) {
        q->next_in_block = NULL;
        struct kl_query **pp = &b->queries;
        while (*pp)
            pp = &(*pp)->next_in_block;
        *pp = q;
        q->state = Q_QUEUED;
    }
    return 0;
}

static int encode(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args, uint8_t *out,
                  struct mf_err *err)
{
    int n = kl_msg_encode(cmd, args, out, KL_PAYLOAD_MAX);
    if (n < 0)
        return mf_fail(err, MF_E_FAIL, "The command '%s' with these arguments needs %zu bytes, more than the %d "
                       "a Klipper message block carries; it was not sent.",
                       cmd->name, kl_msg_size(cmd, args), KL_PAYLOAD_MAX);
    return n;
}

/* ---- input ----------------------------------------------------------- */

static void update_rtt(struct kl_session *s, uint64_t sample)
{
    if (!s->srtt_us) {
        s->srtt_us = sample * 10;
        s->rttvar_us = sample / 2;
    } else {
        uint64_t diff = s->srtt_us > sample ? s->srtt_us - sample : sample - s->srtt_us;
        s->rttvar_us = (3 * s->rttvar_us + diff) / 4;
        s->srtt_us = (7 * s->srtt_us + sample) / 8;
    }
    uint64_t var = 4 * s->rttvar_us > 1000 ? 4 * s->rttvar_us : 1000;
    s->rto_us = s->srtt_us + var;
    if (s->rto_us < MIN_RTO_US)
        s->rto_us = MIN_RTO_US;
    if (s->rto_us > MAX_RTO_US)
        s->rto_us = MAX_RTO_US;
}

/* Queries of a block whose processing is complete: those without a reply lost it. */
static void resolve_queries(struct kl_session *s, struct outblock *b)
{
    for (struct kl_query *q = b->queries; q; q = q->next_in_block) {
        if (q->state == Q_SENT) {
            q->state = Q_LOST;
            s->stats.lost_responses++;
        }
    }
    b->queries = NULL;
}

/* An ack comes after every reply to the blocks it acknowledges, so what the
 * MCU may still hold is what the blocks from rseq on will answer: drop
 * whatever the estimates of the finished ones said beyond what came. */
static void settle_expected(struct kl_session *s, uint64_t rseq)
{
    uint64_t pending = 0;
    for (struct outblock *b = s->head; b && b->sent; b = b->next)
        if (b->seq >= rseq)
            pending += b->expect;
    s->expect_rx = s->rx_parsed + pending;
}

/* Everything below rseq has been received by the MCU.  explicit: the block
 * was an ack/nak, sent after every response of the blocks it acknowledges. */
static void process_ack(struct kl_session *s, uint64_t rseq, bool explicit_ack)
{
    uint64_t now = mf_now_us();
    bool progress = false;
    struct outblock *b = s->head;
    while (b && b->sent && b->seq < rseq) {
        if (!b->data_acked) {
            b->data_acked = true;
            s->inflight--;
            s->inflight_bytes -= b->len + KL_MESSAGE_MIN;
            if (!b->retransmitted)
                update_rtt(s, now - b->sent_us);
            progress = true;
        }
        /* A data block proves only that blocks before the one that produced
         * it are finished; the block it answers may still have replies coming. */
        if (!explicit_ack && b->seq + 1 == rseq)
            break;
        resolve_queries(s, b);
        s->head = b->next;
        if (!s->head)
            s->tail = NULL;
        free(b);
        b = s->head;
    }
    if (progress) {
        s->last_progress_us = now;
        s->nak_retransmitted = false;
        arm_retransmit(s, now);
    }
}

static void retransmit_all(struct kl_session *s)
{
    static const uint8_t sync = KL_SYNC;
    /* Drop what we have not written yet: it is all in the blocks below. */
    s->outlen = 0;
    queue_bytes(s, &sync, 1);
    for (struct outblock *b = s->head; b && b->sent; b = b->next) {
        if (b->data_acked)
            continue;
        b->retransmitted = true;
        transmit_block(s, b);
        s->stats.retransmits++;
    }
    write_out(s);
}

static struct outblock *find_sent_block(struct kl_session *s, uint64_t seq)
{
    for (struct outblock *b = s->head; b && b->sent; b = b->next)
        if (b->seq == seq)
            return b;
    return NULL;
}

static void note_shutdown(struct kl_session *s, const struct kl_msg *m)
{
    uint32_t id = kl_msg_u(m, "static_string_id");
    const struct kl_enum *e = s->dict ? kl_dict_enum(s->dict, "static_string_id") : NULL;
    char buf[96];
    const char *text = e ? kl_enum_name(e, (int32_t)id, buf, sizeof(buf)) : NULL;
    if (text)
        snprintf(s->shutdown_reason, sizeof(s->shutdown_reason), "%s", text);
    else
        snprintf(s->shutdown_reason, sizeof(s->shutdown_reason), "unknown reason %u", id);
    s->shutdown = true;
}

/* A message from the MCU, carried by a block whose seq was rseq. */
static void handle_message(struct kl_session *s, const struct kl_msg *m, uint64_t rseq)
{
    const struct kl_msgfmt *f = m->fmt;
    if (f->is_output || !strcmp(f->name, "stats") || !strcmp(f->name, "starting"))
        return;
    bool is_shutdown = f == s->f_is_shutdown;
    if (f == s->f_shutdown || is_shutdown)
        note_shutdown(s, m);
    if (f == s->f_shutdown)
        return;
    /* The reply to a command in block rseq-1. */
    struct outblock *b = find_sent_block(s, rseq - 1);
    if (!b)
        return;
    for (struct kl_query *q = b->queries; q; q = q->next_in_block) {
        if (q->state != Q_SENT)
            continue;
        if (is_shutdown) {
            q->state = Q_SHUTDOWN;
            snprintf(q->shutdown_reason, sizeof(q->shutdown_reason), "%s", s->shutdown_reason);
            return;
        }
        if (q->resp != f)
            continue;
        if (q->oid >= 0 && (int)kl_msg_u(m, "oid") != q->oid)
            continue;
        q->reply = *m;
        /* Buffer args point into the copy's own store. */
        for (unsigned i = 0; i < f->nparams; i++)
            if (m->args[i].data)
                q->reply.args[i].data = q->reply.store + (m->args[i].data - m->store);
        q->reply.fmt = f;
        q->state = Q_DONE;
        return;
    }
}

static const struct kl_msgfmt *lookup_id(struct kl_session *s, int32_t id)
{
    if (s->dict)
        return kl_dict_by_id(s->dict, id);
    return id == 0 ? &s->f_identify_response : NULL;
}

static void handle_block(struct kl_session *s, const uint8_t *blk, size_t len)
{
    s->stats.blocks_received++;
    uint64_t rseq = s->receive_seq + ((uint64_t)(blk[1] - s->receive_seq) & KL_SEQ_MASK);
    if (rseq > s->send_seq) {
        /* Claims an ack for something never sent: stale or foreign. */
        return;
    }
    const uint8_t *p = blk + KL_HEADER_SIZE, *end = blk + len - KL_TRAILER_SIZE;
    bool explicit_ack = p == end;
    if (!explicit_ack) {
        while (p < end) {
            uint32_t id;
            struct kl_msg m;
            memset(&m, 0, sizeof(m));
            if (kl_vlq_decode(&p, end, &id) < 0)
                break;
            const struct kl_msgfmt *f = lookup_id(s, (int32_t)id);
            if (!f || kl_msg_decode_params(f, &p, end, &m) < 0)
                break; /* unknown to us: cannot find the next message's start */
            m.seq = rseq;
            handle_message(s, &m, rseq);
        }
    }
    if (rseq > s->receive_seq) {
        s->receive_seq = rseq;
        process_ack(s, rseq, explicit_ack);
    }
    if (explicit_ack) {
        if (rseq > s->last_ack_seq) {
            /* The ack after a block's responses: that block is finished. */
            s->last_ack_seq = rseq;
            process_ack(s, rseq, true);
            settle_expected(s, rseq);
        } else if (s->inflight && !s->nak_retransmitted) {
            /* A repeated ack is a nak: the MCU dropped what followed. */
            s->stats.naks++;
            s->nak_retransmitted = true;
            retransmit_all(s);
        }
    }
}

static void read_input(struct kl_session *s)
{
    for (;;) {
        ssize_t n = transport_read(s->t, s->inbuf + s->inlen, sizeof(s->inbuf) - s->inlen);
        if (n < 0) {
            set_dead(s, "disconnected");
            return;
        }
        if (n == 0)
            break;
        s->inlen += (size_t)n;
        s->stats.bytes_received += (uint64_t)n;
        s->last_byte_us = mf_now_us();
        size_t pos = 0, len;
        for (;;) {
            enum kl_find_result r = kl_block_find(&s->finder, s->inbuf + pos, s->inlen - pos, &len);
            if (r == KL_FIND_MORE)
                break;
            s->rx_parsed += len;
            if (r == KL_FIND_BLOCK)
                handle_block(s, s->inbuf + pos, len);
            else if (r == KL_FIND_ERROR)
                s->stats.bad_blocks++;
            pos += len;
        }
        memmove(s->inbuf, s->inbuf + pos, s->inlen - pos);
        s->inlen -= pos;
    }
}

/* One round of I/O: wait until input, the retransmit timer or deadline. */
static void pump(struct kl_session *s, uint64_t deadline)
{
    close_building(s);
    send_ready(s);
    if (s->dead)
        return;
    uint64_t now = mf_now_us(), until = deadline;
    if (s->retransmit_at && s->retransmit_at < until)
        until = s->retransmit_at;
    if (s->probe_at && s->probe_at < until)
        until = s->probe_at;
    int timeout = until > now ? (int)((until - now + 999) / 1000) : 0;
    int ready = transport_wait(s->t, TRANSPORT_READABLE | (s->outlen ? TRANSPORT_WRITABLE : 0), timeout);
    if (ready & TRANSPORT_BROKEN)
        set_dead(s, "went away");
    if (ready & TRANSPORT_READABLE)
        read_input(s);
    if (ready & TRANSPORT_WRITABLE)
        write_out(s);
    now = mf_now_us();
    /* Every sent block was answered by data but the ack that should follow
     * never came (lost, or the MCU shut down mid-block): an empty block
     * makes the MCU ack everything before it. */
    if (!s->inflight && s->head && s->head->sent) {
        if (!s->probe_at)
            s->probe_at = now + s->rto_us;
        else if (now >= s->probe_at) {
            s->probe_at = 0;
            append_command(s, NULL, 0, NULL, NULL);
            close_building(s);
        }
    } else {
        s->probe_at = 0;
    }
    if (s->retransmit_at && now >= s->retransmit_at && s->inflight) {
        s->rto_us = s->rto_us * 2 > MAX_RTO_US ? MAX_RTO_US : s->rto_us * 2;
        retransmit_all(s);
        arm_retransmit(s, now);
    }
    /* Bytes alone prove nothing: a board that restarted sends stats and
     * naks but never acknowledges our blocks again. */
    if (s->head && now - s->last_progress_us > SILENCE_LIMIT_US)
        set_dead(s, "stopped answering (or restarted)");
    /* Quiet for longer than the buffer takes to drain: it is empty, whatever
     * the estimate says (lost replies never arrive). */
    if (now - s->last_byte_us > wire_us(s, s->tx_buffer) + 2000)
        s->expect_rx = s->rx_parsed;
    send_ready(s);
}

/* ---- public ---------------------------------------------------------- */

const struct kl_dict *kl_session_dict(const struct kl_session *s)
{
    return s->dict;
}

struct kl_stats kl_session_stats(const struct kl_session *s)
{
    struct kl_stats st = s->stats;
    st.srtt_us = (uint32_t)s->srtt_us;
    st.rto_us = (uint32_t)s->rto_us;
    return st;
}

bool kl_session_shutdown(const struct kl_session *s, const char **reason)
{
    if (reason)
        *reason = s->shutdown_reason;
    return s->shutdown;
}

const struct kl_msgfmt *kl_session_command(struct kl_session *s, const char *name, struct mf_err *err)
{
    const struct kl_msgfmt *f = kl_dict_command(s->dict, name);
    if (!f)
        mf_fail(err, MF_E_PROTOCOL, "The firmware on %s has no '%s' command; nothing was changed; build Klipper "
                "with the feature that provides it (make menuconfig) and flash it once by other means.",
                s->what, name);
    return f;
}

const struct kl_msgfmt *kl_session_response(struct kl_session *s, const char *name, struct mf_err *err)
{
    const struct kl_msgfmt *f = kl_dict_response(s->dict, name);
    if (!f)
        mf_fail(err, MF_E_PROTOCOL, "The firmware on %s has no '%s' response; it is not a Klipper build this "
                "tool knows.", s->what, name);
    return f;
}

int kl_send(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args, struct mf_err *err)
{
    if (s->dead)
        return fail_dead(s, err);
    uint8_t buf[KL_PAYLOAD_MAX];
    int n = encode(s, cmd, args, buf, err);
    if (n < 0)
        return -1;
    if (append_command(s, buf, (size_t)n, NULL, err) < 0)
        return -1;
    if (s->building && s->building->len > KL_PAYLOAD_MAX - 8) {
        close_building(s);
        send_ready(s);
    }
    return 0;
}

static int shutdown_error(struct kl_session *s, const char *reason, struct mf_err *err)
{
    return mf_fail(err, MF_E_PROTOCOL, "The MCU on %s shut down (\"%s\"); the operation stopped there; "
                   "check the wiring and the board definition, then run the command again (the board is reset "
                   "first).", s->what, reason);
}

int kl_flush(struct kl_session *s, struct mf_err *err)
{
    close_building(s);
    while (s->head && !s->dead)
        pump(s, mf_now_us() + 100000);
    if (s->dead)
        return fail_dead(s, err);
    if (s->shutdown)
        return shutdown_error(s, s->shutdown_reason, err);
    return 0;
}

int kl_send_now(struct kl_session *s, struct mf_err *err)
{
    close_building(s);
    send_ready(s);
    while (s->outlen && !s->dead && (transport_wait(s->t, TRANSPORT_WRITABLE, 1000) & TRANSPORT_WRITABLE))
        write_out(s);
    if (s->dead)
        return fail_dead(s, err);
    transport_drain(s->t);
    return 0;
}

/* Size of a reply block, from above: integers at most 5 bytes; a buffer as
 * long as the request's own (spi_transfer, debug_ping) or as the `count` or
 * `len` asked for (identify, sdio_read_data_buffer), else a full block. */
static uint16_t reply_estimate(const struct kl_msgfmt *cmd, const struct kl_arg *args,
                               const struct kl_msgfmt *resp)
{
    size_t buf_guess = KL_PAYLOAD_MAX, reply = KL_MESSAGE_MIN + kl_vlq_size((uint32_t)resp->id);
    for (unsigned i = 0; i < cmd->nparams; i++) {
        enum kl_ptype t = cmd->params[i].type;
        if (t == KL_PT_BUFFER || t == KL_PT_STRING || t == KL_PT_PROGMEM)
            buf_guess = args[i].len;
        else if (!strcmp(cmd->params[i].name, "count") || !strcmp(cmd->params[i].name, "len"))
            buf_guess = args[i].u;
        else if (!strcmp(cmd->params[i].name, "wait"))  /* sdio_send_command: none, short, long */
            buf_guess = args[i].u == 2 ? 16 : args[i].u == 1 ? 4 : 0;
    }
    for (unsigned i = 0; i < resp->nparams; i++) {
        enum kl_ptype t = resp->params[i].type;
        reply += (t == KL_PT_BUFFER || t == KL_PT_STRING || t == KL_PT_PROGMEM) ? 1 + buf_guess : 5;
    }
    return (uint16_t)(reply > KL_MESSAGE_MAX ? KL_MESSAGE_MAX : reply);
}

int kl_send_sync(struct kl_session *s, struct mf_err *err)
{
    static const uint8_t sync = KL_SYNC;
    queue_bytes(s, &sync, 1);
    return kl_send_now(s, err);
}

struct kl_query *kl_query_submit(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args,
                                 const struct kl_msgfmt *resp, int oid, unsigned flags, struct mf_err *err)
{
    if (s->dead) {
        fail_dead(s, err);
        return NULL;
    }
    struct kl_query *q = calloc(1, sizeof(*q));
    if (!q) {
        mf_fail(err, MF_E_FAIL, "Out of memory.");
        return NULL;
    }
    int n = encode(s, cmd, args, q->cmd, err);
    if (n < 0) {
        free(q);
        return NULL;
    }
    q->cmd_len = (uint8_t)n;
    q->resp = resp;
    q->oid = oid;
    q->flags = flags;
    q->reply_size = reply_estimate(cmd, args, resp);
    if (append_command(s, q->cmd, q->cmd_len, q, err) < 0) {
        free(q);
        return NULL;
    }
    return q;
}

/* Take q out of whichever block still lists it. */
static void unlink_query(struct kl_session *s, struct kl_query *q)
{
    struct outblock *blocks[2] = { s->head, s->building };
    for (int i = 0; i < 2; i++)
        for (struct outblock *b = blocks[i]; b; b = i ? NULL : b->next)
            for (struct kl_query **pp = &b->queries; *pp; pp = &(*pp)->next_in_block)
                if (*pp == q) {
                    *pp = q->next_in_block;
                    return;
                }
}

int kl_query_wait(struct kl_session *s, struct kl_query *q, struct kl_msg *reply, struct mf_err *err)
{
    int rc = 0;
    for (;;) {
        if (q->state == Q_DONE) {
            if (reply)
                *reply = q->reply;
            if (reply)
                for (unsigned i = 0; i < q->reply.fmt->nparams; i++)
                    if (q->reply.args[i].data)
                        reply->args[i].data = reply->store + (q->reply.args[i].data - q->reply.store);
            break;
        }
        if (q->state == Q_SHUTDOWN) {
            rc = shutdown_error(s, q->shutdown_reason, err);
            break;
        }
        if (q->state == Q_LOST) {
            if (!(q->flags & KL_Q_RETRY)) {
                mf_fail(err, MF_E_PROTOCOL, "A reply from %s was lost.", s->what);
                rc = KL_LOST;
                break;
            }
            if (++q->retries > QUERY_RETRIES) {
                rc = mf_fail(err, MF_E_PROTOCOL, "%s did not answer '%s' after %d tries; nothing further was sent; "
                             "check the cable, then run the command again.", s->what, q->resp->name, QUERY_RETRIES);
                break;
            }
            if (append_command(s, q->cmd, q->cmd_len, q, err) < 0) {
                rc = -1;
                break;
            }
        }
        if (s->dead) {
            rc = fail_dead(s, err);
            break;
        }
        pump(s, mf_now_us() + 100000);
    }
    unlink_query(s, q);
    free(q);
    return rc;
}

void kl_query_cancel(struct kl_session *s, struct kl_query *q)
{
    if (!q)
        return;
    unlink_query(s, q);
    free(q);
}

int kl_query(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args,
             const struct kl_msgfmt *resp, int oid, unsigned flags, struct kl_msg *reply, struct mf_err *err)
{
    struct kl_query *q = kl_query_submit(s, cmd, args, resp, oid, flags, err);
    return q ? kl_query_wait(s, q, reply, err) : -1;
}

/* ---- connection ------------------------------------------------------ */

/* Learn the MCU's expected sequence: send an empty block; the ack or nak
 * that comes back carries it. */
static int sync_sequence(struct kl_session *s, struct mf_err *err)
{
    static const uint8_t sync = KL_SYNC;
    for (int attempt = 0; attempt < 25 && !s->dead; attempt++) {
        uint8_t frame[KL_MESSAGE_MAX];
        queue_bytes(s, &sync, 1);
        size_t n = kl_block_build(0, NULL, 0, frame);
        queue_bytes(s, frame, n);
        s->stats.blocks_sent++;
        s->stats.bytes_sent += n + 1;
        write_out(s);
        uint64_t until = mf_now_us() + 100000 + (uint64_t)attempt * 20000;
        while (mf_now_us() < until && !s->dead) {
            uint64_t now = mf_now_us();
            if (!(transport_wait(s->t, TRANSPORT_READABLE, (int)((until - now) / 1000) + 1) & TRANSPORT_READABLE))
                continue;
            ssize_t r = transport_read(s->t, s->inbuf + s->inlen, sizeof(s->inbuf) - s->inlen);
            if (r <= 0) {
                if (r < 0)
                    set_dead(s, "disconnected");
                continue;
            }
            s->inlen += (size_t)r;
            s->stats.bytes_received += (uint64_t)r;
            size_t pos = 0, len;
            enum kl_find_result fr;
            while ((fr = kl_block_find(&s->finder, s->inbuf + pos, s->inlen - pos, &len)) != KL_FIND_MORE) {
                if (fr == KL_FIND_BLOCK) {
                    s->stats.blocks_received++;
                    if (len == KL_MESSAGE_MIN) {
                        /* Everything after this is answered by the session proper. */
                        s->send_seq = s->receive_seq = s->last_ack_seq = s->inbuf[pos + 1] & KL_SEQ_MASK;
                        pos += len;
                        memmove(s->inbuf, s->inbuf + pos, s->inlen - pos);
                        s->inlen -= pos;
                        s->last_progress_us = mf_now_us();
                        return 0;
                    }
                }
                pos += len;
            }
            memmove(s->inbuf, s->inbuf + pos, s->inlen - pos);
            s->inlen -= pos;
        }
    }
    if (s->dead)
        return fail_dead(s, err);
    return mf_fail(err, MF_E_DEVICE, "%s does not answer as a Klipper MCU; nothing was changed; check that the "
                   "board runs Klipper firmware, that this is the right port and baud rate, and that the "
                   "board is powered.", s->what);
}

static struct kl_query *ask_chunk(struct kl_session *s, uint32_t offset, uint32_t count, struct mf_err *err)
{
    return kl_query_submit(s, &s->f_identify, (struct kl_arg[]){ KL_U(offset), KL_U(count) },
                           &s->f_identify_response, -1, KL_Q_RETRY, err);
}

static int identify(struct kl_session *s, struct mf_err *err)
{
    enum { CHUNK = 40, WINDOW = 4 };
    size_t cap = 8192, len = 0;
    uint8_t *blob = malloc(cap);
    struct kl_query *q[WINDOW] = { 0 };
    uint32_t off[WINDOW];
    uint32_t next_off = 0;
    bool end = false;
    int rc = 0;
    if (!blob)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    for (int i = 0; i < WINDOW; i++, next_off += CHUNK) {
        off[i] = next_off;
        if (!(q[i] = ask_chunk(s, next_off, CHUNK, err))) {
            rc = -1;
            break;
        }
    }
    /* Chunks come back in order; keep WINDOW requests outstanding.  A chunk
     * shorter than asked for (possibly empty) is the last. */
    for (int i = 0; rc == 0 && !end; i = (i + 1) % WINDOW) {
        struct kl_msg m;
        struct kl_query *cur = q[i];
        q[i] = NULL;
        if (kl_query_wait(s, cur, &m, err) < 0) {
            rc = -1;
            break;
        }
        const struct kl_arg *data = kl_msg_arg(&m, "data");
        if (kl_msg_u(&m, "offset") != off[i] || off[i] != len) {
            rc = mf_fail(err, MF_E_PROTOCOL, "%s sent its data dictionary out of order; nothing was changed.",
                         s->what);
            break;
        }
        if (len + data->len > (4u << 20)) {
            rc = mf_fail(err, MF_E_PROTOCOL, "%s sends an endless data dictionary; it is not a Klipper MCU.",
                         s->what);
            break;
        }
        if (len + data->len > cap) {
            uint8_t *nb = realloc(blob, cap *= 2);
            if (!nb) {
                rc = mf_fail(err, MF_E_FAIL, "Out of memory.");
                break;
            }
            blob = nb;
        }
        memcpy(blob + len, data->data, data->len);
        len += data->len;
        if (data->len < CHUNK) {
            /* The MCU shortens only the last chunk; later requests come back empty. */
            end = true;
            break;
        }
        off[i] = next_off;
        if (!(q[i] = ask_chunk(s, next_off, CHUNK, err))) {
            rc = -1;
            break;
        }
        next_off += CHUNK;
    }
    for (int i = 0; i < WINDOW; i++)
        kl_query_cancel(s, q[i]);
    if (rc == 0) {
        char *json;
        size_t jlen;
        if (kl_zlib_inflate(blob, len, &json, &jlen, NULL) < 0)
            rc = mf_fail(err, MF_E_PROTOCOL, "The data dictionary from %s is damaged (it does not inflate); "
                         "nothing was changed; try again, and if it persists reflash the board by other means.",
                         s->what);
        else {
            rc = kl_dict_parse(json, jlen, &s->dict, err);
            free(json);
        }
    }
    free(blob);
    return rc;
}

int kl_session_open(struct transport *t, struct kl_session **out, struct mf_err *err)
{
    struct kl_session *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    s->t = t;
    snprintf(s->what, sizeof(s->what), "%s", t->name);
    s->rto_us = MIN_RTO_US;
    s->tx_buffer = UART_TX_BUFFER; /* until the dictionary says otherwise */
    s->last_progress_us = mf_now_us();
    kl_msgfmt_parse("identify offset=%u count=%c", 1, false, &s->f_identify);
    kl_msgfmt_parse("identify_response offset=%u data=%.*s", 0, false, &s->f_identify_response);
    transport_discard_input(s->t); /* stale output from before we connected */
    if (sync_sequence(s, err) < 0 || identify(s, err) < 0) {
        kl_session_close(s);
        return -1;
    }
    s->f_shutdown = kl_dict_response(s->dict, "shutdown");
    s->f_is_shutdown = kl_dict_response(s->dict, "is_shutdown");
    int64_t v;
    if (kl_dict_const_int(s->dict, "RECEIVE_WINDOW", &v))
        s->receive_window = v;
    if (kl_dict_const_int(s->dict, "SERIAL_BAUD", &v) && v > 0)
        s->byte_time_ns = (uint64_t)(10000000000ull / (uint64_t)v);
    s->tx_buffer = s->byte_time_ns ? UART_TX_BUFFER : USB_TX_BUFFER;
    *out = s;
    return 0;
}

void kl_session_close(struct kl_session *s)
{
    if (!s)
        return;
    while (s->head) {
        struct outblock *b = s->head;
        s->head = b->next;
        free(b);
    }
    free(s->building);
    kl_dict_free(s->dict);
    kl_msgfmt_free(&s->f_identify);
    kl_msgfmt_free(&s->f_identify_response);
    free(s);
}
