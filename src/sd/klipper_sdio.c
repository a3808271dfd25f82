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

/* One query whose reply may be lost: lost replies are reported, not retried,
 * because the card command has run. */
static int ask(struct ksdio *k, const struct kl_msgfmt *cmd, const struct kl_arg *args,
               const struct kl_msgfmt *resp, unsigned flags, struct kl_msg *m, struct mf_err *err)
{
    int rc = kl_query(k->s, cmd, args, resp, SDIO_OID, flags, m, err);
    return rc == KL_LOST ? CARDBUS_LOST : rc;
}

static int ksdio_command(struct cardbus *bus, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16],
                         int *sdio_error, struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
    struct kl_msg m;
    int rc = ask(k, k->cmd, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(cmd), KL_U(arg), KL_U(wait) }, k->cmd_resp,
                 0, &m, err);
    if (rc)
        return rc;
    *sdio_error = (int)kl_msg_u(&m, "error");
    const struct kl_arg *r = kl_msg_arg(&m, "response");
    memset(resp, 0, 16);
    if (r)
        memcpy(resp, r->data, r->len > 16 ? 16 : r->len);
    return 0;
}

static int ksdio_read_block(struct cardbus *bus, uint8_t cmd, uint32_t arg, uint8_t buf[BLOCK], int *sdio_error,
                            struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
    struct kl_msg m;
    int rc = ask(k, k->rd, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(cmd), KL_U(arg) }, k->rd_resp, 0, &m, err);
    if (rc)
        return rc;
    *sdio_error = (int)kl_msg_u(&m, "error");
    if (*sdio_error || kl_msg_u(&m, "read") != BLOCK)
        return 0;
    /* Reading the MCU's buffer has no side effect: pipeline and retry freely. */
    struct kl_query *qs[BLOCK];
    size_t nq = 0;
    for (uint32_t off = 0; off < BLOCK && rc == 0; off += k->rchunk) {
        uint32_t len = BLOCK - off < k->rchunk ? BLOCK - off : k->rchunk;
        qs[nq] = kl_query_submit(k->s, k->rbuf, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(off), KL_U(len) },
                                 k->rbuf_resp, SDIO_OID, KL_Q_RETRY, err);
        if (!qs[nq])
            rc = -1;
        else
            nq++;
    }
    uint32_t off = 0;
    for (size_t i = 0; i < nq; i++) {
        struct mf_err qerr;
        if (kl_query_wait(k->s, qs[i], &m, &qerr) < 0) {
            if (rc == 0)
                *err = qerr;
            rc = -1;
            continue;
        }
        const struct kl_arg *d = kl_msg_arg(&m, "data");
        if (rc == 0 && (!d || !d->len || off + d->len > BLOCK))
            rc = mf_fail(err, MF_E_PROTOCOL, "The board returned a bad SDIO buffer chunk; nothing was changed.");
        if (rc == 0) {
            memcpy(buf + off, d->data, d->len);
            off += d->len;
        }
    }
    return rc;
}

static int ksdio_write_block(struct cardbus *bus, uint8_t cmd, uint32_t arg, const uint8_t buf[BLOCK],
                             int *sdio_error, struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
    for (uint32_t off = 0; off < BLOCK; off += k->wchunk) {
        uint32_t len = BLOCK - off < k->wchunk ? BLOCK - off : k->wchunk;
        if (kl_send(k->s, k->wbuf, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(off), KL_BUF(buf + off, len) }, err) < 0)
            return -1;
    }
    struct kl_msg m;
    int rc = ask(k, k->wr, (struct kl_arg[]){ KL_U(SDIO_OID), KL_U(cmd), KL_U(arg) }, k->wr_resp, 0, &m, err);
    if (rc)
        return rc;
    *sdio_error = (int)kl_msg_u(&m, "error");
    if (!*sdio_error && kl_msg_u(&m, "write") != BLOCK)
        *sdio_error = 9; /* nothing written: report as an underrun */
    return 0;
}

static int ksdio_set_speed(struct cardbus *bus, uint32_t hz, struct mf_err *err)
{
    struct ksdio *k = (struct ksdio *)bus;
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
    .close = ksdio_close,
};

static size_t id_size(const struct kl_msgfmt *f)
{
    return kl_vlq_size((uint32_t)f->id);
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
    k->rchunk = (uint16_t)(KL_PAYLOAD_MAX - id_size(k->rbuf_resp) - 2);
    k->wchunk = (uint16_t)(KL_PAYLOAD_MAX - id_size(k->wbuf) - 4);
    if (k->rchunk > 56)
        k->rchunk = 56;
    k->bus.ops = &ksdio_ops;
    k->bus.kind = CARDBUS_SDIO;
    snprintf(k->bus.name, sizeof(k->bus.name), "%s", desc);
    *out = &k->bus;
    return 0;
}
