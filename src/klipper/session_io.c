/* The session's I/O: writing what is queued, reading and taking apart what
 * arrives, and waiting for either or for a timer. */
#include "klipper/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

int ks_fail_dead(struct kl_session *s, struct mf_err *err)
{
    if (err)
        *err = s->dead_err;
    return -1;
}

void ks_set_dead(struct kl_session *s, const char *why)
{
    if (s->dead)
        return;
    s->dead = true;
    mf_fail(&s->dead_err, MF_E_DEVICE, "%s %s; the operation was interrupted; check the cable and power, "
            "then run the command again.", s->what, why);
}


void ks_write_out(struct kl_session *s)
{
    while (s->outlen && !s->dead) {
        ssize_t n = transport_write(s->t, s->outbuf, s->outlen);
        if (n < 0)
            ks_set_dead(s, "stopped accepting data (the device went away)");
        if (n <= 0)
            return;
        memmove(s->outbuf, s->outbuf + n, s->outlen - (size_t)n);
        s->outlen -= (size_t)n;
    }
}

void ks_queue_bytes(struct kl_session *s, const uint8_t *b, size_t n)
{
    if (s->outlen + n > sizeof(s->outbuf))
        ks_write_out(s);
    if (s->outlen + n > sizeof(s->outbuf)) {
        /* The device is not draining; wait for it rather than drop bytes. */
        while (!s->dead && s->outlen + n > sizeof(s->outbuf)) {
            if (!(transport_wait(s->t, TRANSPORT_WRITABLE, 1000) & TRANSPORT_WRITABLE))
                ks_set_dead(s, "stopped accepting data");
            ks_write_out(s);
        }
        if (s->dead)
            return;
    }
    memcpy(s->outbuf + s->outlen, b, n);
    s->outlen += n;
}

uint64_t ks_wire_us(const struct kl_session *s, size_t bytes)
{
    return s->byte_time_ns * bytes / 1000u;
}

static void read_input(struct kl_session *s)
{
    for (;;) {
        ssize_t n = transport_read(s->t, s->inbuf + s->inlen, sizeof(s->inbuf) - s->inlen);
        if (n < 0) {
            ks_set_dead(s, "disconnected");
            return;
        }
        if (n == 0)
            break;
        s->inlen += (size_t)n;
        s->stats.bytes_received += (uint64_t)n;
        size_t pos = 0, len;
        for (;;) {
            enum kl_find_result r = kl_block_find(&s->finder, s->inbuf + pos, s->inlen - pos, &len);
            if (r == KL_FIND_MORE)
                break;
            if (r == KL_FIND_BLOCK)
                ks_handle_block(s, s->inbuf + pos, len);
            else if (r == KL_FIND_ERROR)
                s->stats.bad_blocks++;
            pos += len;
        }
        memmove(s->inbuf, s->inbuf + pos, s->inlen - pos);
        s->inlen -= pos;
        ks_note_partial(s, s->inbuf, s->inlen);
    }
}

/* One round of I/O: wait until input, the retransmit timer or deadline. */
void ks_pump(struct kl_session *s, uint64_t deadline)
{
    ks_close_building(s);
    ks_send_ready(s);
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
        ks_set_dead(s, "went away");
    if (ready & TRANSPORT_READABLE)
        read_input(s);
    if (ready & TRANSPORT_WRITABLE)
        ks_write_out(s);
    ks_run_timers(s, mf_now_us());
    ks_send_ready(s);
}
