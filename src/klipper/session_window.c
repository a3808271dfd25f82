/* Blocks on the line: packing commands into blocks, the window of blocks in
 * flight, acks and naks, retransmission.
 *
 * Blocks go out with 64-bit sequence numbers (the wire carries the low
 * nibble).  A block is acknowledged when any MCU block carries a higher
 * "next expected" sequence. */
#include "klipper/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

static void transmit_block(struct kl_session *s, struct outblock *b)
{
    uint8_t frame[KL_MESSAGE_MAX];
    size_t n = kl_block_build((uint8_t)b->seq, b->content, b->len, frame);
    ks_queue_bytes(s, frame, n);
    s->stats.blocks_sent++;
    s->stats.bytes_sent += n;
}

void ks_arm_retransmit(struct kl_session *s, uint64_t now)
{
    s->retransmit_at = s->inflight ? now + s->rto_us + ks_wire_us(s, s->inflight_bytes) : 0;
}

/* The MCU's transmit buffer as the replies it may hold, in order: what the
 * link takes from it in a while is a UART's bytes at the baud rate, or on
 * USB a few packets a frame, each message in a packet of its own at worst.
 * A message is made only if the room it wants is free (kl_reply_room). */
#define TXQ_MAX (4 * MAX_PENDING_BLOCKS)
struct txq {
    uint16_t msg[TXQ_MAX];
    unsigned head, n, bytes;
    unsigned peak;            /* the most it needed: what it held and a message's room */
    unsigned extra;           /* the most room a message wanted beyond its size */
    uint64_t idle_ns;         /* link time not yet worth a byte or packet */
    bool full;                /* more messages than it can tell */
};

static void txq_push(struct txq *q, unsigned bytes, unsigned room)
{
    if (q->n == TXQ_MAX) {
        q->full = true;
        return;
    }
    if (room < bytes)
        room = bytes;
    if (q->bytes + room > q->peak)
        q->peak = q->bytes + room;
    if (room - bytes > q->extra)
        q->extra = room - bytes;
    q->msg[(q->head + q->n++) % TXQ_MAX] = (uint16_t)bytes;
    q->bytes += bytes;
}

/* The link works on while the MCU does: time short of a whole byte or
 * packet is kept for the next call, not lost to rounding. */
static void txq_drain(const struct kl_session *s, struct txq *q, uint64_t ns)
{
    uint64_t unit_ns = s->byte_time_ns ? s->byte_time_ns : 1000000u / USB_PACKETS_PER_MS;
    ns += q->idle_ns;
    uint64_t can = ns / unit_ns;
    while (q->n && can) {
        uint16_t *m = &q->msg[q->head % TXQ_MAX];
        uint16_t take = !s->byte_time_ns || can >= *m ? *m : (uint16_t)can;
        *m = (uint16_t)(*m - take);
        q->bytes -= take;
        can -= s->byte_time_ns ? take : 1;
        if (!*m) {
            q->head++;
            q->n--;
        }
    }
    q->idle_ns = q->n ? ns % unit_ns : 0;
}

static bool reply_due(const struct kl_query *r)
{
    return r->state == Q_QUEUED || r->state == Q_SENT;
}

/* What came of a reply still arriving has left the buffer. */
static void take_arrived(const struct kl_session *s, struct txq *q)
{
    unsigned partial = s->partial_bytes;
    for (unsigned i = 0; partial && i < q->n; i++) {
        uint16_t *m = &q->msg[(q->head + i) % TXQ_MAX];
        uint16_t take = partial < *m ? (uint16_t)partial : *m;
        *m = (uint16_t)(*m - take);
        q->bytes -= take;
        partial -= take;
    }
}

/* A block's replies not yet received, and the ack after them. */
static void push_replies(struct txq *q, const struct outblock *b)
{
    for (const struct kl_query *r = b->queries; r; r = r->next_in_block)
        if (reply_due(r))
            txq_push(q, r->reply_size, r->reply_room);
    txq_push(q, KL_MESSAGE_MIN, KL_MESSAGE_MIN);
}

/* The replies of block b, which the MCU starts at `begin` (ns from now,
 * negative if before): each after its least time on the commands before
 * it, the ack after all of them.  *t: the time the queue is drained to. */
static void push_block(const struct kl_session *s, struct txq *q, const struct outblock *b, int64_t begin,
                       uint64_t *t)
{
    for (const struct kl_query *r = b->queries;; r = r->next_in_block) {
        if (r && !reply_due(r))
            continue;
        int64_t at = begin + (int64_t)(r ? r->block_ns : b->mcu_ns);
        if (at > (int64_t)*t) {
            txq_drain(s, q, (uint64_t)at - *t);
            *t = (uint64_t)at;
        }
        txq_push(q, r ? r->reply_size : KL_MESSAGE_MIN, r ? r->reply_room : KL_MESSAGE_MIN);
        if (!r)
            break;
    }
}

/* The MCU's least time on block b before its first reply. */
static uint64_t first_reply_ns(const struct outblock *b)
{
    for (const struct kl_query *r = b->queries; r; r = r->next_in_block)
        if (reply_due(r))
            return r->block_ns;
    return b->mcu_ns;
}

/* An estimate of what the MCU's transmit buffer holds once block `last` is
 * answered, Lindley's recursion from now on, every reply as early as the
 * MCU's least times allow:
 *  - the blocks the MCU has answered (their replies, or the start of
 *    them, came in) hold what has not arrived yet, and the link drains it
 *    at its least rate until `last` is answered: not before `last` has
 *    crossed the line (a UART), nor before the MCU has spent its least time
 *    on every block not yet answered but the first (it may be at work on
 *    that one already) and on `last` up to its first reply;
 *  - those blocks and `last` answer no sooner than the MCU's time on each
 *    after the one before, each reply no sooner than its time on the
 *    commands before it in its block; the most at any reply counts. */
static unsigned backlog_estimate(const struct kl_session *s, const struct outblock *last)
{
    struct txq from_now = { 0 }, future = { 0 };
    const struct outblock *first_future = NULL;
    uint64_t future_ns = 0, future_t = 0;
    int64_t begin = 0;
    for (const struct outblock *b = s->head; b; b = b->next) {
        if (b->sent && b->seq < s->answered_seq) {
            push_replies(&from_now, b);
        } else {
            if (first_future)
                future_ns += b == last ? first_reply_ns(b) : b->mcu_ns;
            else
                first_future = b;
            push_block(s, &future, b, begin, &future_t);
            begin += (int64_t)b->mcu_ns;
        }
        if (b == last)
            break;
    }
    take_arrived(s, &from_now);
    for (const struct outblock *b = first_future; b; b = b->next) {
        push_replies(&from_now, b);
        if (b == last)
            break;
    }
    uint64_t crossing_ns = s->byte_time_ns * (uint64_t)(last->len + KL_MESSAGE_MIN);
    txq_drain(s, &from_now, crossing_ns > future_ns ? crossing_ns : future_ns);
    if (from_now.full || future.full)
        return UINT32_MAX;
    unsigned held = from_now.bytes ? from_now.bytes + from_now.extra : 0;
    return held > future.peak ? held : future.peak;
}

/* The most the MCU's transmit buffer could hold until block `last` is
 * answered, with the link draining it at its least rate meanwhile:
 *  - the blocks the MCU has answered (their replies, or the start of
 *    them, came in) hold now what has not arrived yet;
 *  - `last` answers as early as it could: the blocks sent may all be done
 *    with already (their replies still queued), and one not sent yet
 *    starts once it has crossed the line (a UART) and the MCU is done with
 *    the one before;
 *  - the blocks before it answer as late as they could and still let it:
 *    their replies come closest to its own, each after the MCU's least time
 *    on the commands before it.
 * Slower commands or other timing only leave the buffer emptier. */
static unsigned backlog_worst(const struct kl_session *s, const struct outblock *last)
{
    struct txq q = { 0 };
    const struct outblock *b = s->head;
    for (; b != last && b->sent && b->seq < s->answered_seq; b = b->next)
        push_replies(&q, b);
    take_arrived(s, &q);
    q.peak = q.bytes;
    const struct outblock *first = b;
    /* When the MCU starts `last`, at the earliest, and its time on the
     * blocks before it. */
    int64_t end = INT64_MIN, start_last = 0, before = 0;
    uint64_t crossing = 0;
    for (b = first; b; b = b->next) {
        int64_t st = INT64_MIN;
        if (!b->sent) {
            crossing += s->byte_time_ns * (uint64_t)(b->len + KL_MESSAGE_MIN);
            st = end > (int64_t)crossing ? end : (int64_t)crossing;
            end = st + (int64_t)b->mcu_ns;
        }
        if (b == last) {
            start_last = st;
            break;
        }
        before += (int64_t)b->mcu_ns;
    }
    uint64_t t = 0;
    int64_t st = start_last - before;
    for (b = first; b; b = b->next) {
        push_block(s, &q, b, st, &t);
        st += (int64_t)b->mcu_ns;
        if (b == last)
            break;
    }
    return q.full ? UINT32_MAX : q.peak;
}

/* Firmware drops a reply that does not fit its transmit buffer.  On a
 * UART a reply leaves it slowly (25 KB/s at 250000 baud), replies of
 * blocks the MCU finished long ago may still wait there, and an overrun
 * costs a lost reply: the worst case rules, at no cost measured.  On USB
 * the worst case keeps two 64-byte replies in flight where three nearly
 * always fit: the estimate, which lets blocks sent but not answered start
 * from now one after another, as a board's frames mostly make them (no
 * reply dropped in test_sd_klipper_txbuf; 4 MHz SPI reads 7.1 ms a
 * sector, 9.5 in the worst case). */
static unsigned tx_backlog(const struct kl_session *s, const struct outblock *last)
{
    return s->byte_time_ns ? backlog_worst(s, last) : backlog_estimate(s, last);
}

/* Send queued blocks as far as the window rules allow. */
void ks_send_ready(struct kl_session *s)
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
        /* The last block answered may still owe its ack (the margin). */
        if (s->inflight && tx_backlog(s, b) + KL_MESSAGE_MIN > s->tx_buffer)
            break;
        if (!s->inflight)
            s->last_progress_us = now; /* silence is measured from here */
        b->seq = s->send_seq++;
        b->sent = true;
        b->sent_us = now;
        s->inflight++;
        s->inflight_bytes += b->len + KL_MESSAGE_MIN;
        for (struct kl_query *q = b->queries; q; q = q->next_in_block)
            q->state = Q_SENT;
        if (s->inflight == 1)
            ks_arm_retransmit(s, now);
        transmit_block(s, b);
    }
    ks_write_out(s);
}

void ks_close_building(struct kl_session *s)
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

/* The largest the replies to a block's queries can be together. */
static unsigned block_replies(const struct outblock *b)
{
    unsigned n = 0;
    for (const struct kl_query *q = b->queries; q; q = q->next_in_block)
        n += q->reply_size;
    return n;
}

/* Where round trips cost (USB, CAN), queries share a block while their
 * replies fit the MCU's transmit buffer together: it answers them all at
 * once, and one ack follows them all.  A reply names its block, not its
 * query; session_query.c tells alike ones apart by their order.  On a UART
 * bytes cost, and a block runs only once all of it has crossed: a query
 * in a block of its own is answered sooner (a card's write pad, measured).
 * Until the dictionary tells the link, it may be a UART unless the
 * transport knows better. */
static bool query_fits(const struct kl_session *s, const struct outblock *b, const struct kl_query *q)
{
    if (s->byte_time_ns || (!s->dict && !ks_medium_has_packets(s->t->medium)))
        return !b->queries;
    return block_replies(b) + q->reply_room <= kl_session_block_replies_max(s);
}

/* Append an encoded command (and its query, if any) to the block being built. */
int ks_append_command(struct kl_session *s, const uint8_t *cmd, size_t len, uint32_t mcu_ns, struct kl_query *q,
                      struct mf_err *err)
{
    if (s->building && (s->building->len + len > KL_PAYLOAD_MAX || (q && !query_fits(s, s->building, q))))
        ks_close_building(s);
    if (!s->building) {
        s->building = calloc(1, sizeof(*s->building));
        if (!s->building)
            return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    struct outblock *b = s->building;
    if (len)
        memcpy(b->content + b->len, cmd, len);
    b->len = (uint8_t)(b->len + len);
    b->mcu_ns += mcu_ns;
    if (q) {
        q->block_ns = b->mcu_ns;
        q->next_in_block = NULL;
        struct kl_query **pp = &b->queries;
        while (*pp)
            pp = &(*pp)->next_in_block;
        *pp = q;
        q->state = Q_QUEUED;
    }
    return 0;
}

int ks_encode(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args, uint8_t *out,
              struct mf_err *err)
{
    int n = kl_msg_encode(cmd, args, out, KL_PAYLOAD_MAX);
    if (n < 0)
        return mf_fail(err, MF_E_FAIL, "The command '%s' with these arguments needs %zu bytes, more than the %d "
                       "a Klipper message block carries; it was not sent.",
                       cmd->name, kl_msg_size(cmd, args), KL_PAYLOAD_MAX);
    return n;
}


/* The timeout the measured round trips call for, without backoff. */
static void rto_from_rtt(struct kl_session *s)
{
    uint64_t var = 4 * s->rttvar_us > 1000 ? 4 * s->rttvar_us : 1000;
    s->rto_us = s->srtt_us + var;
    if (s->rto_us < MIN_RTO_US)
        s->rto_us = MIN_RTO_US;
    if (s->rto_us > MAX_RTO_US)
        s->rto_us = MAX_RTO_US;
}

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
        ks_resolve_queries(s, b);
        s->head = b->next;
        if (!s->head)
            s->tail = NULL;
        free(b);
        b = s->head;
    }
    if (progress) {
        /* The timeout follows the round trips measured, and the MCU
         * answering again ends the backoff: a block that was sent again
         * gives no round trip to measure, so without this a line where each
         * block needs a retransmission waits twice as long for each, until
         * the silence limit calls the board dead. */
        if (s->srtt_us)
            rto_from_rtt(s);
        s->last_progress_us = now;
        s->nak_retransmitted = false;
        ks_arm_retransmit(s, now);
    }
}

void ks_retransmit_all(struct kl_session *s)
{
    static const uint8_t sync = KL_SYNC;
    /* Drop what we have not written yet: it is all in the blocks below. */
    s->outlen = 0;
    ks_queue_bytes(s, &sync, 1);
    for (struct outblock *b = s->head; b && b->sent; b = b->next) {
        if (b->data_acked)
            continue;
        b->retransmitted = true;
        transmit_block(s, b);
        s->stats.retransmits++;
    }
    ks_write_out(s);
}

struct outblock *ks_find_sent_block(struct kl_session *s, uint64_t seq)
{
    for (struct outblock *b = s->head; b && b->sent; b = b->next)
        if (b->seq == seq)
            return b;
    return NULL;
}

/* The start of a block still arriving: a block of the MCU's that answers a
 * block of ours (its sequence says which) has been sent, so that block
 * was answered, and its bytes so far have left the MCU. */
void ks_note_partial(struct kl_session *s, const uint8_t *start, size_t len)
{
    s->partial_bytes = 0;
    if (len < KL_HEADER_SIZE || start[0] < KL_MESSAGE_MIN || start[0] > KL_MESSAGE_MAX ||
        (start[1] & ~KL_SEQ_MASK) != KL_DEST)
        return;
    uint64_t rseq = s->receive_seq + ((uint64_t)(start[1] - s->receive_seq) & KL_SEQ_MASK);
    if (rseq > s->send_seq)
        return;
    if (rseq > s->answered_seq)
        s->answered_seq = rseq;
    s->partial_bytes = (unsigned)len;
}

void ks_handle_block(struct kl_session *s, const uint8_t *blk, size_t len)
{
    s->stats.blocks_received++;
    uint64_t rseq = s->receive_seq + ((uint64_t)(blk[1] - s->receive_seq) & KL_SEQ_MASK);
    if (rseq > s->send_seq) {
        /* Claims an ack for something never sent: stale or foreign. */
        return;
    }
    if (rseq > s->answered_seq)
        s->answered_seq = rseq;
    const uint8_t *p = blk + KL_HEADER_SIZE, *end = blk + len - KL_TRAILER_SIZE;
    bool explicit_ack = p == end;
    if (!explicit_ack) {
        while (p < end) {
            uint32_t id;
            struct kl_msg m;
            memset(&m, 0, sizeof(m));
            if (kl_vlq_decode(&p, end, &id) < 0)
                break;
            const struct kl_msgfmt *f = ks_lookup_id(s, (int32_t)id);
            if (!f || kl_msg_decode_params(f, &p, end, &m) < 0)
                break; /* unknown to us: cannot find the next message's start */
            m.seq = rseq;
            ks_handle_message(s, &m, rseq);
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
        } else if (s->inflight && !s->nak_retransmitted) {
            /* A repeated ack is a nak: the MCU dropped what followed. */
            s->stats.naks++;
            s->nak_retransmitted = true;
            ks_retransmit_all(s);
        }
    }
}

/* What the timers call for: a probe for a missing ack, a retransmission,
 * giving up on a silent MCU, forgetting replies that never came. */
void ks_run_timers(struct kl_session *s, uint64_t now)
{
    /* Every sent block was answered by data but the ack that should follow
     * never came (lost, or the MCU shut down mid-block): an empty block
     * makes the MCU ack everything before it. */
    if (!s->inflight && s->head && s->head->sent) {
        if (!s->probe_at)
            s->probe_at = now + s->rto_us;
        else if (now >= s->probe_at) {
            s->probe_at = 0;
            ks_append_command(s, NULL, 0, 0, NULL, NULL);
            ks_close_building(s);
        }
    } else {
        s->probe_at = 0;
    }
    if (s->retransmit_at && now >= s->retransmit_at && s->inflight) {
        s->rto_us = s->rto_us * 2 > MAX_RTO_US ? MAX_RTO_US : s->rto_us * 2;
        ks_retransmit_all(s);
        ks_arm_retransmit(s, now);
    }
    /* Bytes alone prove nothing: a board that restarted sends stats and
     * naks but never acknowledges our blocks again. */
    if (s->head && now - s->last_progress_us > SILENCE_LIMIT_US)
        ks_set_dead(s, "stopped answering (or restarted)");
}


int kl_send(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args, struct mf_err *err)
{
    if (s->dead)
        return ks_fail_dead(s, err);
    uint8_t buf[KL_PAYLOAD_MAX];
    int n = ks_encode(s, cmd, args, buf, err);
    if (n < 0)
        return -1;
    if (ks_append_command(s, buf, (size_t)n, ks_command_ns(s, cmd, args), NULL, err) < 0)
        return -1;
    if (s->building && s->building->len > KL_PAYLOAD_MAX - 8) {
        ks_close_building(s);
        ks_send_ready(s);
    }
    return 0;
}

int kl_flush(struct kl_session *s, struct mf_err *err)
{
    ks_close_building(s);
    while (s->head && !s->dead)
        ks_pump(s, mf_now_us() + 100000);
    if (s->dead)
        return ks_fail_dead(s, err);
    if (s->shutdown)
        return ks_shutdown_error(s, s->shutdown_reason, err);
    return 0;
}

int kl_send_now(struct kl_session *s, struct mf_err *err)
{
    ks_close_building(s);
    ks_send_ready(s);
    while (s->outlen && !s->dead && (transport_wait(s->t, TRANSPORT_WRITABLE, 1000) & TRANSPORT_WRITABLE))
        ks_write_out(s);
    if (s->dead)
        return ks_fail_dead(s, err);
    transport_drain(s->t);
    return 0;
}

int kl_send_sync(struct kl_session *s, struct mf_err *err)
{
    static const uint8_t sync = KL_SYNC;
    ks_queue_bytes(s, &sync, 1);
    return kl_send_now(s, err);
}
