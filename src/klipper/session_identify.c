/* Connecting: learning the MCU's sequence number, and reading its data
 * dictionary with several identify requests in flight. */
#include "klipper/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

/* Learn the MCU's expected sequence: send an empty block; the ack or nak
 * that comes back carries it. */
#define SYNC_RETRY_US 50000u
#define SYNC_GIVE_UP_US 8500000u

int ks_sync_sequence(struct kl_session *s, struct mf_err *err)
{
    static const uint8_t sync = KL_SYNC;
    /* Ask again often: a board that is still starting answers as soon as it
     * runs, and a connection waits for nothing else. */
    uint64_t give_up = mf_now_us() + SYNC_GIVE_UP_US;
    while (mf_now_us() < give_up && !s->dead) {
        uint8_t frame[KL_MESSAGE_MAX];
        ks_queue_bytes(s, &sync, 1);
        size_t n = kl_block_build(0, NULL, 0, frame);
        ks_queue_bytes(s, frame, n);
        s->stats.blocks_sent++;
        s->stats.bytes_sent += n + 1;
        ks_write_out(s);
        uint64_t until = mf_now_us() + SYNC_RETRY_US;
        while (mf_now_us() < until && !s->dead) {
            uint64_t now = mf_now_us();
            if (!(transport_wait(s->t, TRANSPORT_READABLE, (int)((until - now) / 1000) + 1) & TRANSPORT_READABLE))
                continue;
            ssize_t r = transport_read(s->t, s->inbuf + s->inlen, sizeof(s->inbuf) - s->inlen);
            if (r <= 0) {
                if (r < 0)
                    ks_set_dead(s, "disconnected");
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
        return ks_fail_dead(s, err);
    return mf_fail(err, MF_E_DEVICE, "%s does not answer as a Klipper MCU; nothing was changed; check that the "
                   "board runs Klipper firmware, that this is the right port and baud rate, and that the "
                   "board is powered.", s->what);
}

static struct kl_query *ask_chunk(struct kl_session *s, uint32_t offset, uint32_t count, struct mf_err *err)
{
    return kl_query_submit(s, &s->f_identify, (struct kl_arg[]){ KL_U(offset), KL_U(count) },
                           &s->f_identify_response, -1, KL_Q_RETRY, count, err);
}

int ks_identify(struct kl_session *s, struct mf_err *err)
{
    /* A reply is made only with 64 bytes free (kl_reply_room), whatever it
     * carries.  Until the dictionary tells USB from a UART, replies may fill
     * only a UART's 96-byte transmit buffer, unless the transport knows the
     * link: there a second reply waits until the first has left, so a chunk
     * is as large as a reply block takes (52 bytes, counting the offset as
     * 5); in USB's 192 bytes three of 47 are answered at once, asked in one
     * block (one ack). */
    enum { WINDOW = 8, USB_CHUNK = 47, LONE_CHUNK = 52 };
    const uint32_t chunk = s->tx_buffer >= USB_TX_BUFFER ? USB_CHUNK : LONE_CHUNK;
    size_t cap = 8192, len = 0;
    uint8_t *blob = malloc(cap);
    struct kl_query *q[WINDOW] = { 0 };
    uint32_t off[WINDOW];
    uint32_t next_off = 0;
    bool end = false;
    int rc = 0;
    if (!blob)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    for (int i = 0; i < WINDOW; i++, next_off += chunk) {
        off[i] = next_off;
        if (!(q[i] = ask_chunk(s, next_off, chunk, err))) {
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
        if (data->len < chunk) {
            /* The MCU shortens only the last chunk; later requests come back empty. */
            end = true;
            break;
        }
        off[i] = next_off;
        if (!(q[i] = ask_chunk(s, next_off, chunk, err))) {
            rc = -1;
            break;
        }
        next_off += chunk;
    }
    /* Let the requests past the end be answered, so that no late reply can
     * meet a later session on the same port. */
    for (int i = 0; i < WINDOW; i++) {
        struct mf_err ignored;
        if (rc == 0 && q[i])
            kl_query_wait(s, q[i], NULL, &ignored);
        else
            kl_query_cancel(s, q[i]);
    }
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
