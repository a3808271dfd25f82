/* The Katapult client: one frame out, one reply back, tries and timeouts. */
#include "katapult/client.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "katapult/frame.h"
#include "util/clock.h"

/* Every flash page and sector of the chips Katapult supports starts on a
 * 1 KiB boundary (F0/F1 1-2 KiB pages up to H7 128 KiB sectors). */
#define KP_PAGE_ALIGN 1024u

/* The junk command that primes a double-buffered USB endpoint. */
#define KP_PRIME_COMMAND 0x90

static const struct kp_limits default_limits = {
    .tries = 5, .block_tries = 5,
    .reply_ms = 2000, .block_reply_ms = 5000, .quick_reply_ms = 500, .garbled_quiet_ms = 50,
    .drain_ms = 100, .pause_ms = 100, .busy_ms = 1500,
};

struct kp_client {
    struct transport *t;
    struct kp_limits lim;
    struct kp_stats st;
    struct kp_info info;
    bool connected;
    bool primed;           /* the prime's error reply is still to come */
    uint8_t in[4 * KP_RX_FRAME_MAX];
    size_t inlen;
};

int kp_client_new(struct transport *t, struct kp_client **out, struct mf_err *err)
{
    struct kp_client *c = calloc(1, sizeof(*c));
    if (!c)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    c->t = t;
    c->lim = default_limits;
    *out = c;
    return 0;
}

void kp_client_free(struct kp_client *c)
{
    free(c);
}

struct kp_limits *kp_client_limits(struct kp_client *c)
{
    return &c->lim;
}

void kp_client_info(const struct kp_client *c, struct kp_info *info)
{
    *info = c->info;
}

struct kp_stats kp_client_stats(const struct kp_client *c)
{
    return c->st;
}

/* ---- bytes ------------------------------------------------------------ */

static int ms_until(uint64_t deadline_us)
{
    uint64_t now = mf_now_us();
    return deadline_us > now ? (int)((deadline_us - now + 999) / 1000) : 0;
}

/* -1 if the device went away or took nothing until the deadline. */
static int send_frame(struct kp_client *c, const uint8_t *frame, size_t len, uint64_t deadline_us)
{
    while (len) {
        ssize_t n = transport_write(c->t, frame, len);
        if (n < 0)
            return -1;
        frame += n;
        len -= (size_t)n;
        if (len && !(transport_wait(c->t, TRANSPORT_WRITABLE, ms_until(deadline_us)) & TRANSPORT_WRITABLE))
            return -1;
    }
    c->st.frames_sent++;
    return 0;
}

enum recv_result { RECV_FRAME, RECV_TIMEOUT, RECV_GARBLED, RECV_GONE };

/* The next valid frame (copied to frame, KP_RX_FRAME_MAX bytes).  Input
 * that was no valid frame, followed by garbled_quiet_ms of silence, was
 * the reply, damaged on the way: RECV_GARBLED. */
static enum recv_result recv_frame(struct kp_client *c, uint64_t deadline_us, uint8_t *frame, size_t *flen)
{
    uint64_t bad_before = c->st.bad_bytes;
    for (;;) {
        size_t used;
        enum kp_find_result r;
        while (c->inlen && (r = kp_frame_find(c->in, c->inlen, &used)) != KP_FIND_MORE) {
            if (r == KP_FIND_FRAME) {
                memcpy(frame, c->in, used);
                *flen = used;
                c->st.frames_received++;
            } else {
                c->st.bad_bytes += used;
            }
            memmove(c->in, c->in + used, c->inlen - used);
            c->inlen -= used;
            if (r == KP_FIND_FRAME)
                return RECV_FRAME;
        }
        int wait_ms = ms_until(deadline_us);
        if (wait_ms == 0)
            return RECV_TIMEOUT;
        bool garbled = c->st.bad_bytes != bad_before || c->inlen;
        if (garbled && wait_ms > (int)c->lim.garbled_quiet_ms)
            wait_ms = (int)c->lim.garbled_quiet_ms;
        int ready = transport_wait(c->t, TRANSPORT_READABLE, wait_ms);
        if (ready & TRANSPORT_BROKEN)
            return RECV_GONE;
        if (!(ready & TRANSPORT_READABLE)) {
            if (garbled)
                return RECV_GARBLED;
            continue;
        }
        ssize_t n = transport_read(c->t, c->in + c->inlen, sizeof(c->in) - c->inlen);
        if (n < 0)
            return RECV_GONE;
        c->inlen += (size_t)n;
    }
}

/* Before a retry: a frame the device took only part of (a byte lost on
 * the way) would swallow the start of the next one, costing another try.
 * Bytes that cannot start a frame complete it as a bad frame, which the
 * device drops with one NACK; the drain that follows takes that NACK. */
static void flush_device_input(struct kp_client *c)
{
    static const uint8_t zeros[KP_FRAME_MAX];
    send_frame(c, zeros, sizeof(zeros), mf_now_us() + (uint64_t)c->lim.reply_ms * 1000);
    c->st.frames_sent--; /* not a frame */
}

/* After a failed try: whatever is still on its way belongs to it. */
static void drain_input(struct kp_client *c)
{
    uint64_t until = mf_now_us() + (uint64_t)c->lim.drain_ms * 1000;
    c->inlen = 0;
    while (ms_until(until) > 0) {
        uint8_t junk[256];
        int ready = transport_wait(c->t, TRANSPORT_READABLE, ms_until(until));
        if (ready & TRANSPORT_BROKEN)
            break;
        if ((ready & TRANSPORT_READABLE) && transport_read(c->t, junk, sizeof(junk)) < 0)
            break;
    }
    transport_discard_input(c->t);
    mf_sleep_us((uint64_t)c->lim.pause_ms * 1000);
}

/* ---- one command ------------------------------------------------------ */

struct request {
    uint8_t cmd;
    const char *name;        /* for messages, e.g. "SEND_BLOCK" */
    bool has_addr;           /* the ACK must echo this address */
    uint32_t addr;
    size_t reply_len;        /* exact ACK payload length after the echo; 0: any */
    unsigned tries, reply_ms;
};

static void describe_request(const struct request *rq, char *buf, size_t cap)
{
    if (rq->has_addr)
        snprintf(buf, cap, "%s for address 0x%08x", rq->name, rq->addr);
    else
        snprintf(buf, cap, "%s", rq->name);
}

/* Returns true if the frame answers rq; else says what it was in why. */
static bool reply_fits(struct kp_client *c, const struct request *rq, const uint8_t *f, size_t flen,
                       char *why, size_t cap)
{
    uint8_t code = f[2];
    size_t plen = flen - KP_FRAME_OVERHEAD;
    if (code == KP_NACK) {
        c->st.nacks++;
        snprintf(why, cap, "a NACK (the device could not read the frame)");
        return false;
    }
    if (code == KP_ERROR) {
        c->st.errors++;
        snprintf(why, cap, "an error reply (the device refused the command)");
        return false;
    }
    if (code == KP_BUSY) {
        c->st.busy++;
        snprintf(why, cap, "a busy reply");
        return false;
    }
    if (code != KP_ACK || plen < 4) {
        c->st.mismatches++;
        snprintf(why, cap, "an unknown reply 0x%02x", code);
        return false;
    }
    uint32_t echoed = kp_get_le32(f + 4);
    if (echoed != rq->cmd) {
        c->st.mismatches++;
        snprintf(why, cap, "an acknowledgement of command 0x%02x", echoed);
        return false;
    }
    if (rq->has_addr && (plen < 8 || kp_get_le32(f + 8) != rq->addr)) {
        c->st.mismatches++;
        if (plen < 8)
            snprintf(why, cap, "an acknowledgement without an address");
        else
            snprintf(why, cap, "an acknowledgement of address 0x%08x", kp_get_le32(f + 8));
        return false;
    }
    if (rq->reply_len && plen - 4 != rq->reply_len) {
        c->st.mismatches++;
        snprintf(why, cap, "a reply of %zu bytes instead of %zu", plen - 4, rq->reply_len);
        return false;
    }
    return true;
}

/* Send rq's frame until it is acknowledged; the ACK payload after the
 * echoed command goes to reply (KP_RX_FRAME_MAX bytes), its length to
 * *reply_len. */
static int exchange(struct kp_client *c, const struct request *rq, const uint8_t *payload, size_t plen,
                    uint8_t *reply, size_t *reply_len, struct mf_err *err)
{
    uint8_t out[KP_FRAME_MAX], f[KP_RX_FRAME_MAX];
    size_t olen = kp_frame_build(rq->cmd, payload, plen, out), flen;
    char what[96], why[96] = "no reply";
    bool answered = false;
    describe_request(rq, what, sizeof(what));
    for (unsigned try = 0; try < rq->tries; try++) {
        if (try) {
            c->st.retries++;
            flush_device_input(c);
            drain_input(c);
        }
        uint64_t deadline = mf_now_us() + (uint64_t)rq->reply_ms * 1000;
        if (send_frame(c, out, olen, deadline) < 0)
            return mf_fail(err, MF_E_DEVICE, "Katapult on %s stopped accepting data while sending %s.",
                           c->t->name, what);
        for (;;) {
            enum recv_result r = recv_frame(c, deadline, f, &flen);
            if (r == RECV_GONE)
                return mf_fail(err, MF_E_DEVICE, "Katapult on %s went away while waiting for the reply to %s.",
                               c->t->name, what);
            if (r == RECV_TIMEOUT) {
                c->st.timeouts++;
                snprintf(why, sizeof(why), "no reply within %u ms", rq->reply_ms);
                break;
            }
            if (r == RECV_GARBLED) {
                answered = true;
                snprintf(why, sizeof(why), "an unreadable reply");
                break;
            }
            if (c->primed && f[2] == KP_ERROR) {
                c->primed = false; /* the prime's own answer */
                continue;
            }
            answered = true;
            if (reply_fits(c, rq, f, flen, why, sizeof(why))) {
                *reply_len = flen - KP_FRAME_OVERHEAD - 4;
                memcpy(reply, f + 8, *reply_len);
                return 0;
            }
            if (f[2] == KP_BUSY)
                mf_sleep_us((uint64_t)c->lim.busy_ms * 1000);
            break;
        }
    }
    if (!answered)
        return mf_fail(err, MF_E_DEVICE, "Katapult on %s did not answer %s (%u tries, %u ms each).", c->t->name,
                       what, rq->tries, rq->reply_ms);
    return mf_fail(err, MF_E_PROTOCOL, "Katapult on %s did not accept %s after %u tries; the last answer was %s.",
                   c->t->name, what, rq->tries, why);
}

static struct request simple_request(const struct kp_client *c, uint8_t cmd, const char *name)
{
    return (struct request){ .cmd = cmd, .name = name, .tries = c->lim.tries, .reply_ms = c->lim.reply_ms };
}

static int need_connect(const struct kp_client *c, const char *what, struct mf_err *err)
{
    if (c->connected)
        return 0;
    return mf_fail(err, MF_E_USAGE, "%s before CONNECT on %s: the block size is not known yet.", what, c->t->name);
}

/* ---- commands --------------------------------------------------------- */

int kp_prime(struct kp_client *c, struct mf_err *err)
{
    uint8_t out[KP_FRAME_MAX];
    size_t n = kp_frame_build(KP_PRIME_COMMAND, NULL, 0, out);
    if (send_frame(c, out, n, mf_now_us() + (uint64_t)c->lim.reply_ms * 1000) < 0)
        return mf_fail(err, MF_E_DEVICE, "Katapult on %s stopped accepting data.", c->t->name);
    c->primed = true;
    return 0;
}

int kp_connect(struct kp_client *c, struct kp_info *info, struct mf_err *err)
{
    struct request rq = simple_request(c, KP_CONNECT, "CONNECT");
    uint8_t reply[KP_RX_FRAME_MAX];
    size_t len;
    if (exchange(c, &rq, NULL, 0, reply, &len, err) < 0 || kp_parse_connect(reply, len, &c->info, err) < 0)
        return -1;
    c->connected = true;
    if (info)
        *info = c->info;
    return 0;
}

int kp_send_block(struct kp_client *c, uint32_t addr, const uint8_t *block, struct mf_err *err)
{
    if (need_connect(c, "SEND_BLOCK", err) < 0)
        return -1;
    /* Only the first block of a page may wait for the page's erase. */
    unsigned wait_ms = addr % KP_PAGE_ALIGN ? c->lim.quick_reply_ms : c->lim.block_reply_ms;
    struct request rq = { .cmd = KP_SEND_BLOCK, .name = "SEND_BLOCK", .has_addr = true, .addr = addr,
                          .reply_len = 4, .tries = c->lim.block_tries, .reply_ms = wait_ms };
    uint8_t payload[KP_PAYLOAD_MAX], reply[KP_RX_FRAME_MAX];
    size_t len;
    kp_put_le32(payload, addr);
    memcpy(payload + 4, block, c->info.block_size);
    return exchange(c, &rq, payload, 4 + c->info.block_size, reply, &len, err);
}

/* A command without payload whose ACK carries reply_len bytes, of which
 * the first keep_len are copied to out. */
static int plain_command(struct kp_client *c, uint8_t cmd, const char *name, size_t reply_len, void *out,
                         size_t keep_len, struct mf_err *err)
{
    struct request rq = simple_request(c, cmd, name);
    rq.reply_len = reply_len;
    uint8_t reply[KP_RX_FRAME_MAX];
    size_t len;
    if (exchange(c, &rq, NULL, 0, reply, &len, err) < 0)
        return -1;
    if (out)
        memcpy(out, reply, keep_len);
    return 0;
}

int kp_send_eof(struct kp_client *c, uint32_t *pages, struct mf_err *err)
{
    uint8_t count[4];
    if (plain_command(c, KP_SEND_EOF, "SEND_EOF", 4, count, 4, err) < 0)
        return -1;
    if (pages)
        *pages = kp_get_le32(count);
    return 0;
}

int kp_request_block(struct kp_client *c, uint32_t addr, uint8_t *block, struct mf_err *err)
{
    if (need_connect(c, "REQUEST_BLOCK", err) < 0)
        return -1;
    struct request rq = simple_request(c, KP_REQUEST_BLOCK, "REQUEST_BLOCK");
    rq.reply_ms = c->lim.quick_reply_ms;
    rq.has_addr = true;
    rq.addr = addr;
    rq.reply_len = 4 + c->info.block_size;
    uint8_t payload[4], reply[KP_RX_FRAME_MAX];
    size_t len;
    kp_put_le32(payload, addr);
    if (exchange(c, &rq, payload, sizeof(payload), reply, &len, err) < 0)
        return -1;
    memcpy(block, reply + 4, c->info.block_size);
    return 0;
}

int kp_complete(struct kp_client *c, struct mf_err *err)
{
    return plain_command(c, KP_COMPLETE, "COMPLETE", 0, NULL, 0, err);
}

int kp_get_canbus_id(struct kp_client *c, uint8_t uuid[6], struct mf_err *err)
{
    return plain_command(c, KP_GET_CANBUS_ID, "GET_CANBUS_ID", 8, uuid, 6, err);
}
