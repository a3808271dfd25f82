/* Queries and their replies.  Responses carry the sequence the MCU
 * expected after the block that produced them, which tells exactly which
 * block they answer; within a block the MCU answers in order, so alike
 * queries (same response, same oid) take their replies in turn.  The
 * explicit ack after them proves that a query without a response lost it,
 * and then the alike ones of its block may hold each other's replies: all
 * of them count as lost. */
#include "klipper/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

static bool alike(const struct kl_query *a, const struct kl_query *b)
{
    return a->resp == b->resp && a->oid == b->oid;
}

/* Queries of block b alike to q, q included. */
static unsigned alike_in_block(const struct outblock *b, const struct kl_query *q)
{
    unsigned n = 0;
    for (const struct kl_query *r = b->queries; r; r = r->next_in_block)
        n += alike(r, q);
    return n;
}

static bool alike_lost(const struct outblock *b, const struct kl_query *q)
{
    for (const struct kl_query *r = b->queries; r; r = r->next_in_block)
        if (alike(r, q) && r->state == Q_LOST)
            return true;
    return false;
}

/* Queries of a block whose processing is complete: those without a reply
 * lost it, and so, in effect, did the alike ones whose replies came. */
void ks_resolve_queries(struct kl_session *s, struct outblock *b)
{
    for (struct kl_query *q = b->queries; q; q = q->next_in_block) {
        if (q->state == Q_SENT) {
            q->state = Q_LOST;
            s->stats.lost_responses++;
        }
    }
    for (struct kl_query *q = b->queries; q; q = q->next_in_block) {
        if (q->state != Q_REPLIED)
            continue;
        q->state = alike_lost(b, q) ? Q_LOST : Q_DONE;
        if (q->state == Q_LOST)
            s->stats.lost_responses++;
    }
    b->queries = NULL;
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
void ks_handle_message(struct kl_session *s, const struct kl_msg *m, uint64_t rseq)
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
    struct outblock *b = ks_find_sent_block(s, rseq - 1);
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
        q->state = alike_in_block(b, q) > 1 ? Q_REPLIED : Q_DONE;
        return;
    }
}

int ks_shutdown_error(struct kl_session *s, const char *reason, struct mf_err *err)
{
    return mf_fail(err, MF_E_PROTOCOL, "The MCU on %s shut down (\"%s\"); the operation stopped there; "
                   "check the wiring and the board definition, then run the command again (the board is reset "
                   "first).", s->what, reason);
}

/* The reply block at its largest: integers at most 5 bytes, each buffer or
 * string its length byte, and reply_data bytes between them. */
size_t kl_reply_size(const struct kl_msgfmt *resp, size_t reply_data)
{
    size_t reply = KL_MESSAGE_MIN + kl_vlq_size((uint32_t)resp->id) + reply_data;
    for (unsigned i = 0; i < resp->nparams; i++) {
        enum kl_ptype t = resp->params[i].type;
        reply += (t == KL_PT_BUFFER || t == KL_PT_STRING || t == KL_PT_PROGMEM) ? 1 : 5;
    }
    return reply > KL_MESSAGE_MAX ? KL_MESSAGE_MAX : reply;
}

size_t kl_reply_room(const struct kl_msgfmt *resp)
{
    /* Klipper's buildcommands.py: integers 5 bytes (16-bit 3, a byte 2),
     * strings and buffers 64; the id as it is encoded here, which for ids
     * 96 to 127 is a byte more than the firmware counts. */
    size_t room = KL_MESSAGE_MIN + kl_vlq_size((uint32_t)resp->id);
    for (unsigned i = 0; i < resp->nparams; i++)
        switch (resp->params[i].type) {
        case KL_PT_U32: case KL_PT_I32: room += 5; break;
        case KL_PT_U16: case KL_PT_I16: room += 3; break;
        case KL_PT_BYTE: room += 2; break;
        default: room += KL_MESSAGE_MAX; break;
        }
    return room > KL_MESSAGE_MAX ? KL_MESSAGE_MAX : room;
}

unsigned kl_session_block_replies_max(const struct kl_session *s)
{
    return s->tx_buffer - 2 * KL_MESSAGE_MIN;
}

bool kl_session_bytes_cost(const struct kl_session *s)
{
    return s->byte_time_ns != 0;
}

struct kl_query *kl_query_submit(struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args,
                                 const struct kl_msgfmt *resp, int oid, unsigned flags, size_t reply_data,
                                 struct mf_err *err)
{
    if (s->dead) {
        ks_fail_dead(s, err);
        return NULL;
    }
    struct kl_query *q = calloc(1, sizeof(*q));
    if (!q) {
        mf_fail(err, MF_E_FAIL, "Out of memory.");
        return NULL;
    }
    int n = ks_encode(s, cmd, args, q->cmd, err);
    if (n < 0) {
        free(q);
        return NULL;
    }
    q->cmd_len = (uint8_t)n;
    q->resp = resp;
    q->oid = oid;
    q->flags = flags;
    q->reply_size = (uint16_t)kl_reply_size(resp, reply_data);
    size_t room = kl_reply_room(resp);
    q->reply_room = (uint16_t)(room > q->reply_size ? room : q->reply_size);
    q->mcu_ns = ks_command_ns(s, cmd, args);
    if (ks_append_command(s, q->cmd, q->cmd_len, q->mcu_ns, q, err) < 0) {
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
            rc = ks_shutdown_error(s, q->shutdown_reason, err);
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
            if (ks_append_command(s, q->cmd, q->cmd_len, q->mcu_ns, q, err) < 0) {
                rc = -1;
                break;
            }
        }
        if (s->dead) {
            rc = ks_fail_dead(s, err);
            break;
        }
        ks_pump(s, mf_now_us() + 100000);
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
             const struct kl_msgfmt *resp, int oid, unsigned flags, size_t reply_data, struct kl_msg *reply,
             struct mf_err *err)
{
    struct kl_query *q = kl_query_submit(s, cmd, args, resp, oid, flags, reply_data, err);
    return q ? kl_query_wait(s, q, reply, err) : -1;
}


bool kl_session_shutdown(const struct kl_session *s, const char **reason)
{
    if (reason)
        *reason = s->shutdown_reason;
    return s->shutdown;
}
