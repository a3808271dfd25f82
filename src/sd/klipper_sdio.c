/* A card bus over Klipper's sdio_* commands: commands with responses, and
 * 512-byte blocks moved through the MCU's data buffer in chunks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/proto.h"
#include "sd/klipper_bus.h"
#include "sd/klipper_config.h"

#define SDIO_OID 0
#define BLOCK 512

struct ksdio {
    struct cardbus bus;
    struct kl_session *s;
    const struct kl_msgfmt *cmd, *cmd_resp, *rd, *rd_resp, *wr, *wr_resp, *rbuf, *rbuf_resp, *wbuf, *speed;
    uint16_t rchunk, wchunk;
};

/* ---- pipelined steps ----
 *
 * Every step is queued before any reply is awaited, so the session keeps the
 * line busy; the MCU runs them in order.  Its one data buffer is reused by
 * every block, so a chunk of it asked again later (the session asks again at
 * the end of the queue) could hold another block: only the chunks of the
 * last step that touches the buffer are asked again when lost; any other
 * lost reply marks its step lost. */

#define FILL_SHARE_MAX 8      /* commands that ride along with one block's buffer writes */
#define SDIO_NO_BUFFER 10    /* "no buffer on the MCU": a read that moved no block */
#define SDIO_UNDERRUN 9      /* a write that moved no block */

/* Replies a step waits for. */
static size_t step_replies(const struct ksdio *k, const struct sd_step *st)
{
    switch (st->kind) {
    case SD_STEP_READ: return 1 + (BLOCK + k->rchunk - 1) / k->rchunk;
    case SD_STEP_FILL: return 0;
    default: return 1;
    }
}

static uint32_t chunk_len(uint32_t off, uint16_t chunk)
{
    return BLOCK - off < chunk ? BLOCK - off : chunk;
}

/* The query a command or write step sends; args gets its arguments. */
static const struct kl_msgfmt *step_query(const struct ksdio *k, const struct sd_step *st, struct kl_arg args[4])
{
    args[0] = KL_U(SDIO_OID);
    args[1] = KL_U(st->cmd);
    args[2] = KL_U(st->arg);
    args[3] = KL_U(st->wait);
    return st->kind == SD_STEP_COMMAND ? k->cmd : k->wr;
}

static struct kl_query *submit_query(struct ksdio *k, const struct sd_step *st, struct mf_err *err)
{
    struct kl_arg args[4];
    const struct kl_msgfmt *f = step_query(k, st, args);
    /* A command's response: none, 4 or 16 bytes as it waits for none, a
     * short or a long one; a write answers with integers. */
    size_t data = st->kind == SD_STEP_COMMAND ? (st->wait == 2 ? 16 : st->wait == 1 ? 4 : 0) : 0;
    return kl_query_submit(k->s, f, args, st->kind == SD_STEP_COMMAND ? k->cmd_resp : k->wr_resp, SDIO_OID, 0, data,
                           err);
}

static bool is_query_step(const struct sd_step *st)
{
    return st->kind == SD_STEP_COMMAND || st->kind == SD_STEP_WRITE;
}

static int send_chunk(struct ksdio *k, const uint8_t *buf, uint32_t off, uint32_t len, struct mf_err *err)
{
    return kl_send(k->s, k->wbuf, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(off), KL_BUF(buf + off, len) }, err);
}

/* Buffer bytes a write of the buffer at off can carry in a block that must
 * still take a query of qsize bytes.  The session closes a block once a
 * command leaves it less than 8 bytes free, so stay under that too. */
static uint32_t room_before_query(const struct ksdio *k, uint32_t off, size_t qsize)
{
    size_t head = kl_msg_size(k->wbuf, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(off), KL_BUF(NULL, 0) });
    size_t limit = KL_PAYLOAD_MAX - qsize < KL_PAYLOAD_MAX - 8 ? KL_PAYLOAD_MAX - qsize : KL_PAYLOAD_MAX - 8;
    return limit > head ? (uint32_t)(limit - head) : 0;
}

/* A FILL and the m command steps right after it (ending at the latest with
 * the WRITE of this buffer).  A block carries one query, so each of those
 * shares a block with one of the last buffer writes, sized to leave it
 * room: a sector with its CMD24 and the CMD13s before it takes about as
 * many blocks as its data alone.  q gets the m queries. */
static int queue_fill(struct ksdio *k, const struct sd_step *fill, const struct sd_step *cmds, size_t m,
                      struct kl_query **q, struct mf_err *err)
{
    uint32_t share[FILL_SHARE_MAX] = { 0 }, shared = 0;
    for (size_t j = 0; j < m; j++) {
        struct kl_arg args[4];
        const struct kl_msgfmt *f = step_query(k, &cmds[j], args);
        share[j] = room_before_query(k, BLOCK - 1, kl_msg_size(f, args));
        shared += share[j];
    }
    /* The rest first, spread evenly over as few writes as it needs, so no
     * short one is left to take a block of its own. */
    uint32_t off = 0, rest = shared < BLOCK ? BLOCK - shared : 0;
    uint32_t writes = (rest + k->wchunk - 1) / k->wchunk;
    for (uint32_t i = 0; i < writes; i++) {
        uint32_t len = (rest - off + (writes - i) - 1) / (writes - i);
        if (send_chunk(k, fill->wbuf, off, len, err) < 0)
            return -1;
        off += len;
    }
    for (size_t j = 0; j < m; j++) {
        uint32_t len = BLOCK - off < share[j] ? BLOCK - off : share[j];
        if (len && send_chunk(k, fill->wbuf, off, len, err) < 0)
            return -1;
        off += len;
        if (!(q[j] = submit_query(k, &cmds[j], err)))
            return -1;
    }
    return (int)m;
}

/* Queue one step, or a FILL with the command steps after it; their queries
 * go to *q onwards (NULL where none was queued).  *took: the steps covered,
 * also on failure.  last: no later step touches the buffer.  Returns 0 or -1. */
static int queue_step(struct ksdio *k, const struct sd_step *st, size_t left, bool last, struct kl_query **q,
                      size_t *took, struct mf_err *err)
{
    size_t m = 0;
    *took = 1;
    switch (st->kind) {
    case SD_STEP_COMMAND:
    case SD_STEP_WRITE:
        return (q[0] = submit_query(k, st, err)) ? 0 : -1;
    case SD_STEP_READ:
        q[0] = kl_query_submit(k->s, k->rd, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(st->cmd), KL_U(st->arg) },
                               k->rd_resp, SDIO_OID, 0, 0, err);
        for (uint32_t off = 0, i = 1; off < BLOCK && q[i - 1]; off += k->rchunk, i++)
            q[i] = kl_query_submit(k->s, k->rbuf,
                                   (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(off), KL_U(chunk_len(off, k->rchunk)) },
                                   k->rbuf_resp, SDIO_OID, last ? KL_Q_RETRY : 0, chunk_len(off, k->rchunk), err);
        return q[step_replies(k, st) - 1] ? 0 : -1;
    case SD_STEP_FILL:
        /* Commands, up to and including the write of this buffer: never
         * anything after that write, whose data must all be in first. */
        while (m + 1 < left && m < FILL_SHARE_MAX && is_query_step(&st[m + 1]))
            if (st[++m].kind == SD_STEP_WRITE)
                break;
        *took = 1 + m;
        return queue_fill(k, st, st + 1, m, q, err) < 0 ? -1 : 0;
    }
    return -1;
}

/* The outcome of waiting for one reply: 0 with *m, KL_LOST, or -1. */
static int take(struct ksdio *k, struct kl_query *q, struct kl_msg *m, int *rc, bool *lost, struct mf_err *err)
{
    struct mf_err qerr;
    int r = kl_query_wait(k->s, q, m, &qerr);
    if (r == KL_LOST)
        *lost = true;
    else if (r < 0 && *rc == 0) {
        *err = qerr;
        *rc = -1;
    }
    return r;
}

/* Wait for a step's replies (all of them, whatever happens) and fill in
 * its results; st->lost if any never came. */
static void collect_step(struct ksdio *k, struct sd_step *st, struct kl_query **q, int *rc, struct mf_err *err)
{
    struct kl_msg m;
    size_t nq = step_replies(k, st);
    if (!nq || !q[0])
        return;  /* nothing to wait for, or never queued */
    bool got = take(k, q[0], &m, rc, &st->lost, err) == 0;
    if (got && st->kind == SD_STEP_COMMAND) {
        st->sdio_error = (int)kl_msg_u(&m, "error");
        const struct kl_arg *r = kl_msg_arg(&m, "response");
        if (r)
            memcpy(st->resp, r->data, r->len > 16 ? 16 : r->len);
    } else if (got) {
        st->sdio_error = (int)kl_msg_u(&m, "error");
        uint32_t moved = kl_msg_u(&m, st->kind == SD_STEP_READ ? "read" : "write");
        if (!st->sdio_error && moved != BLOCK)
            st->sdio_error = st->kind == SD_STEP_READ ? SDIO_NO_BUFFER : SDIO_UNDERRUN;
    }
    for (size_t i = 1; i < nq && q[i]; i++) {
        uint32_t off = (uint32_t)(i - 1) * k->rchunk, want = chunk_len(off, k->rchunk);
        if (take(k, q[i], &m, rc, &st->lost, err) < 0 || *rc < 0)
            continue;
        const struct kl_arg *d = kl_msg_arg(&m, "data");
        if (!d || d->len != want)
            *rc = mf_fail(err, MF_E_PROTOCOL, "The board returned a bad SDIO buffer chunk; nothing was changed.");
        else
            memcpy(st->rbuf + off, d->data, want);
    }
}

static int ksdio_batch(struct cardbus *bus, struct sd_step *steps, size_t n, struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        steps[i].sdio_error = 0;
        steps[i].lost = false;
        memset(steps[i].resp, 0, sizeof(steps[i].resp));
        total += step_replies(k, &steps[i]);
    }
    struct kl_query **qs = calloc(total ? total : 1, sizeof(*qs));
    if (!qs)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    size_t last_buffer = n;  /* the last step that reads or fills the buffer */
    for (size_t i = 0; i < n; i++)
        if (steps[i].kind == SD_STEP_READ || steps[i].kind == SD_STEP_FILL)
            last_buffer = i;
    int rc = 0;
    size_t queued = 0, at = 0;
    while (queued < n && rc == 0) {
        size_t took;
        rc = queue_step(k, &steps[queued], n - queued, queued == last_buffer, qs + at, &took, err);
        for (size_t upto = queued + took; queued < upto; queued++)
            at += step_replies(k, &steps[queued]);
    }
    /* Collect every reply, even after a failure, so none is left behind. */
    bool lost = false;
    at = 0;
    for (size_t i = 0; i < queued; i++) {
        collect_step(k, &steps[i], qs + at, &rc, err);
        at += step_replies(k, &steps[i]);
        lost |= steps[i].lost;
    }
    free(qs);
    if (rc < 0)
        return -1;
    return lost ? CARDBUS_LOST : 0;
}

/* ---- the card bus, one operation at a time ---- */

static int ksdio_command(struct cardbus *bus, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16],
                         int *sdio_error, struct mf_err *err)
{
    struct sd_step st = { .kind = SD_STEP_COMMAND, .cmd = cmd, .arg = arg, .wait = (uint8_t)wait };
    int rc = ksdio_batch(bus, &st, 1, err);
    *sdio_error = st.sdio_error;
    memcpy(resp, st.resp, 16);
    return rc;
}

static int ksdio_read_block(struct cardbus *bus, uint8_t cmd, uint32_t arg, uint8_t buf[BLOCK], int *sdio_error,
                            struct mf_err *err)
{
    struct sd_step st = { .kind = SD_STEP_READ, .cmd = cmd, .arg = arg, .rbuf = buf };
    int rc = ksdio_batch(bus, &st, 1, err);
    *sdio_error = st.sdio_error;
    return rc;
}

static int ksdio_write_block(struct cardbus *bus, uint8_t cmd, uint32_t arg, const uint8_t buf[BLOCK],
                             int *sdio_error, struct mf_err *err)
{
    struct sd_step st[2] = { { .kind = SD_STEP_FILL, .wbuf = buf }, { .kind = SD_STEP_WRITE, .cmd = cmd, .arg = arg } };
    int rc = ksdio_batch(bus, st, 2, err);
    *sdio_error = st[1].sdio_error;
    return rc;
}

/* The SD bus clocks the MCU spends at least: a command and its short
 * response, 48 bits each; a data block adds 512 bytes on 4 lines. */
#define SDIO_COMMAND_CLOCKS (48u + 48u)
#define SDIO_DATA_CLOCKS (SDIO_COMMAND_CLOCKS + BLOCK * 8u / 4u)

static void note_speed(struct ksdio *k, uint32_t hz)
{
    uint64_t clock_ns = 1000000000u / hz;
    kl_session_command_time(k->s, k->cmd, (uint32_t)(SDIO_COMMAND_CLOCKS * clock_ns), 0);
    kl_session_command_time(k->s, k->rd, (uint32_t)(SDIO_DATA_CLOCKS * clock_ns), 0);
    kl_session_command_time(k->s, k->wr, (uint32_t)(SDIO_DATA_CLOCKS * clock_ns), 0);
}

static int ksdio_set_speed(struct cardbus *bus, uint32_t hz, struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
    if (hz)
        note_speed(k, hz);
    if (kl_send(k->s, k->speed, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(hz) }, err) < 0)
        return -1;
    return kl_flush(k->s, err);
}

static void ksdio_close(struct cardbus *bus)
{
    free(bus);
}

static const struct cardbus_ops ksdio_ops = {
    .sd_command = ksdio_command,
    .sd_read_block = ksdio_read_block,
    .sd_write_block = ksdio_write_block,
    .sd_set_speed = ksdio_set_speed,
    .sd_batch = ksdio_batch,
    .close = ksdio_close,
};

static size_t id_size(const struct kl_msgfmt *f)
{
    return kl_vlq_size((uint32_t)f->id);
}

/* The chunks a block is read back in, the largest a reply carries at
 * most.  Where every byte costs link time (a UART), the largest.  On USB
 * the replies to one request block come back together, and the MCU's
 * transmit buffer bounds them: chunks of a size that lets the most of them
 * share a block, so that a block takes the fewest request blocks. */
static uint16_t read_chunk(const struct ksdio *k, uint16_t largest)
{
    if (largest > 56)
        largest = 56;
    if (kl_session_bytes_cost(k->s))
        return largest;
    unsigned room = kl_session_block_replies_max(k->s), best = largest, best_blocks = UINT32_MAX;
    /* The last reply of a block needs its room on top of the others. */
    unsigned need = (unsigned)kl_reply_room(k->rbuf_resp);
    for (unsigned n = (BLOCK + largest - 1) / largest; n <= BLOCK / 16; n++) {
        unsigned chunk = (BLOCK + n - 1) / n;
        unsigned size = (unsigned)kl_reply_size(k->rbuf_resp, chunk);
        unsigned per = room >= need ? 1 + (room - need) / size : 0;
        unsigned blocks = per ? (n + per - 1) / per : UINT32_MAX;
        if (blocks < best_blocks) {
            best_blocks = blocks;
            best = chunk;
        }
    }
    return (uint16_t)best;
}

int klipper_sdio_open(struct kl_session *s, const char *sdio_bus, struct cardbus **out, struct mf_err *err)
{
    char desc[96];
    snprintf(desc, sizeof(desc), "SDIO bus %s", sdio_bus);
    struct ksdio *k = calloc(1, sizeof(*k));
    if (!k)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    k->s = s;
    static const char *const cmds[] = { "sdio_send_command", "sdio_read_data", "sdio_write_data",
                                        "sdio_read_data_buffer", "sdio_write_data_buffer", "sdio_set_speed" };
    const struct kl_msgfmt **cslots[] = { &k->cmd, &k->rd, &k->wr, &k->rbuf, &k->wbuf, &k->speed };
    static const char *const resps[] = { "sdio_send_command_response", "sdio_read_data_response",
                                         "sdio_write_data_response", "sdio_read_data_buffer_response" };
    const struct kl_msgfmt **rslots[] = { &k->cmd_resp, &k->rd_resp, &k->wr_resp, &k->rbuf_resp };
    int rc = 0;
    for (size_t i = 0; i < 6 && rc == 0; i++)
        if (!(*cslots[i] = kl_session_command(s, cmds[i], err)))
            rc = -1;
    for (size_t i = 0; i < 4 && rc == 0; i++)
        if (!(*rslots[i] = kl_session_response(s, resps[i], err)))
            rc = -1;
    struct kcfg c;
    kcfg_init(&c, s, desc);
    char text[2][160];
    if (rc == 0) {
        const char *alloc = "allocate_oids count=1";
        rc = kcfg_send(&c, &alloc, 1, err);
    }
    if (rc == 0) {
        snprintf(text[0], sizeof(text[0]), "config_sdio oid=%d blocksize=%d", SDIO_OID, BLOCK);
        const char *alt = text[0];
        rc = kcfg_send(&c, &alt, 1, err);
    }
    if (rc == 0) {
        snprintf(text[0], sizeof(text[0]), "sdio_set_bus oid=%d sdio_bus=%s", SDIO_OID, sdio_bus);
        snprintf(text[1], sizeof(text[1]), "sdio_set_bus oid=%d bus=%s", SDIO_OID, sdio_bus);
        const char *alts[] = { text[0], text[1] };
        rc = kcfg_send(&c, alts, 2, err);
    }
    if (rc == 0)
        rc = kcfg_finish(&c, err);
    if (rc < 0) {
        free(k);
        return -1;
    }
    /* Reply: id, oid, len byte; write: id, oid, offset (2 bytes past 95), len byte. */
    k->rchunk = read_chunk(k, (uint16_t)(KL_PAYLOAD_MAX - id_size(k->rbuf_resp) - 2));
    k->wchunk = (uint16_t)(KL_PAYLOAD_MAX - id_size(k->wbuf) - 4);
    k->bus.ops = &ksdio_ops;
    k->bus.kind = CARDBUS_SDIO;
    snprintf(k->bus.name, sizeof(k->bus.name), "%s", desc);
    *out = &k->bus;
    return 0;
}
