/* A card bus over Klipper's spi_send / spi_transfer.  Each op is one
 * message, so one chip-select window.  Write-only ops go out unacknowledged;
 * transfers are queries kept in flight together.
 *
 * Above the identification rate, idle ops (the time a card programs a
 * block) go to a second device on the same bus without a chip select,
 * clocked at that rate: a millisecond is 50 bytes on the link instead of
 * 500 at 4 MHz.  Klipper sets a device's rate once, so the rate cannot be
 * lowered for a while on the card's own device. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/proto.h"
#include "sd/klipper_bus.h"
#include "sd/klipper_config.h"

#define SPI_OID 0
#define IDLE_OID 1  /* the device without a chip select, for idle ops */

struct kspi {
    struct cardbus bus;
    struct kl_session *s;
    const struct kl_msgfmt *send, *transfer, *response;
    uint32_t rate, idle_rate;  /* idle_rate 0: idle ops go to the card's device */
    uint8_t ff[KL_PAYLOAD_MAX];
};

/* Let the time of op->len bytes at the card's rate pass. */
static int idle_op(struct kspi *k, const struct spi_op *op, struct mf_err *err)
{
    uint32_t oid = k->idle_rate ? IDLE_OID : SPI_OID;
    uint64_t left = k->idle_rate ? ((uint64_t)op->len * k->idle_rate + k->rate - 1) / k->rate : op->len;
    while (left) {
        uint16_t n = (uint16_t)(left < k->bus.max_spi_chunk ? left : k->bus.max_spi_chunk);
        struct kl_arg args[2] = { KL_U(oid), KL_BUF(k->ff, n) };
        if (kl_send(k->s, k->send, args, err) < 0)
            return -1;
        left -= n;
    }
    return 0;
}

static int kspi_batch(struct cardbus *bus, const struct spi_op *ops, size_t n, struct mf_err *err)
{
    struct kspi *k = (struct kspi *)bus;
    struct kl_query **qs = calloc(n ? n : 1, sizeof(*qs));
    if (!qs)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    int rc = 0;
    size_t i;
    for (i = 0; i < n && rc == 0; i++) {
        if (ops[i].idle) {
            rc = idle_op(k, &ops[i], err);
            continue;
        }
        if (ops[i].len > bus->max_spi_chunk) {
            rc = mf_fail(err, MF_E_FAIL, "Internal error: SPI transfer of %u bytes exceeds %u.", ops[i].len,
                         bus->max_spi_chunk);
            break;
        }
        struct kl_arg args[2] = { KL_U(SPI_OID), KL_BUF(ops[i].tx, ops[i].len) };
        if (!ops[i].rx)
            rc = kl_send(k->s, k->send, args, err);
        else if (!(qs[i] = kl_query_submit(k->s, k->transfer, args, k->response, SPI_OID, 0, ops[i].len, err)))
            rc = -1;
    }
    /* Collect every reply, even after a failure, so none is left behind. */
    bool lost = false;
    for (size_t j = 0; j < i; j++) {
        if (!qs[j])
            continue;
        struct kl_msg m;
        struct mf_err qerr;
        int q = kl_query_wait(k->s, qs[j], &m, &qerr);
        if (rc < 0)
            continue;
        if (q == KL_LOST) {
            lost = true;
            continue;
        }
        if (q < 0) {
            *err = qerr;
            rc = -1;
            continue;
        }
        const struct kl_arg *r = kl_msg_arg(&m, "response");
        if (!r || r->len != ops[j].len) {
            rc = mf_fail(err, MF_E_PROTOCOL, "The board answered an SPI transfer of %u bytes with %u bytes; "
                         "nothing more was written to the card.", ops[j].len, r ? r->len : 0);
            continue;
        }
        memcpy(ops[j].rx, r->data, r->len);
    }
    free(qs);
    if (rc < 0)
        return -1;
    return lost ? CARDBUS_LOST : 0;
}

static void kspi_close(struct cardbus *bus)
{
    free(bus);
}

static const struct cardbus_ops kspi_ops = { .spi_batch = kspi_batch, .close = kspi_close };

/* Data bytes one spi message can carry: 59 content bytes less the id, oid
 * and length byte; the reply must fit too, or the MCU drops it. */
static uint16_t max_chunk(const struct kl_msgfmt *cmd, const struct kl_msgfmt *resp)
{
    size_t idc = kl_vlq_size((uint32_t)cmd->id), idr = kl_vlq_size((uint32_t)resp->id);
    size_t id = idc > idr ? idc : idr;
    return (uint16_t)(KL_PAYLOAD_MAX - id - 2);
}

/* The bus command of device oid at rate, in the variants firmware builds
 * have used. */
static int set_bus(struct kcfg *c, const struct klipper_spi_config *cfg, int oid, uint32_t rate,
                   struct mf_err *err)
{
    char text[2][200];
    if (!strcmp(cfg->bus, "swspi")) {
        int64_t freq = 0;
        kl_dict_const_int(kl_session_dict(c->s), "CLOCK_FREQ", &freq);
        snprintf(text[0], sizeof(text[0]),
                 "spi_set_sw_bus oid=%d miso_pin=%s mosi_pin=%s sclk_pin=%s mode=0 pulse_ticks=%llu", oid,
                 cfg->sw_pins[0], cfg->sw_pins[1], cfg->sw_pins[2],
                 (unsigned long long)(freq > 0 ? (uint64_t)freq / rate : 0));
        snprintf(text[1], sizeof(text[1]),
                 "spi_set_software_bus oid=%d miso_pin=%s mosi_pin=%s sclk_pin=%s mode=0 rate=%u", oid,
                 cfg->sw_pins[0], cfg->sw_pins[1], cfg->sw_pins[2], rate);
    } else {
        snprintf(text[0], sizeof(text[0]), "spi_set_bus oid=%d spi_bus=%s mode=0 rate=%u", oid, cfg->bus, rate);
        snprintf(text[1], sizeof(text[1]), "spi_set_bus oid=%d bus=%s mode=0 rate=%u", oid, cfg->bus, rate);
    }
    const char *alts[] = { text[0], text[1] };
    return kcfg_send(c, alts, 2, err);
}

int klipper_spi_open(struct kl_session *s, const struct klipper_spi_config *cfg, struct cardbus **out,
                     struct mf_err *err)
{
    bool sw = !strcmp(cfg->bus, "swspi");
    char desc[96], text[2][200];
    if (sw)
        snprintf(desc, sizeof(desc), "software SPI (MISO %s, MOSI %s, SCLK %s, CS %s)", cfg->sw_pins[0],
                 cfg->sw_pins[1], cfg->sw_pins[2], cfg->cs_pin);
    else
        snprintf(desc, sizeof(desc), "hardware SPI %s (CS %s)", cfg->bus, cfg->cs_pin);
    struct kspi *k = calloc(1, sizeof(*k));
    if (!k)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    k->s = s;
    k->rate = cfg->rate;
    memset(k->ff, 0xFF, sizeof(k->ff));
    k->send = kl_session_command(s, "spi_send", err);
    k->transfer = k->send ? kl_session_command(s, "spi_transfer", err) : NULL;
    k->response = k->transfer ? kl_session_response(s, "spi_transfer_response", err) : NULL;
    /* Builds without config_spi_without_cs clock idle time on the card's device. */
    if (cfg->rate > KLIPPER_SD_SPI_RATE && kl_dict_command(kl_session_dict(s), "config_spi_without_cs"))
        k->idle_rate = KLIPPER_SD_SPI_RATE;
    struct kcfg c;
    kcfg_init(&c, s, desc);
    int rc = k->response ? 0 : -1;
    if (rc == 0) {
        const char *alloc = k->idle_rate ? "allocate_oids count=2" : "allocate_oids count=1";
        rc = kcfg_send(&c, &alloc, 1, err);
    }
    if (rc == 0) {
        snprintf(text[0], sizeof(text[0]), "config_spi oid=%d pin=%s cs_active_high=0", SPI_OID, cfg->cs_pin);
        snprintf(text[1], sizeof(text[1]), "config_spi oid=%d pin=%s", SPI_OID, cfg->cs_pin);
        const char *alts[] = { text[0], text[1] };
        rc = kcfg_send(&c, alts, 2, err);
    }
    rc = rc ? rc : set_bus(&c, cfg, SPI_OID, cfg->rate, err);
    if (rc == 0 && k->idle_rate) {
        snprintf(text[0], sizeof(text[0]), "config_spi_without_cs oid=%d", IDLE_OID);
        const char *alt = text[0];
        rc = kcfg_send(&c, &alt, 1, err);
        rc = rc ? rc : set_bus(&c, cfg, IDLE_OID, k->idle_rate, err);
    }
    if (rc == 0)
        rc = kcfg_finish(&c, err);
    if (rc < 0) {
        free(k);
        return -1;
    }
    /* Each byte takes 8 clocks on the bus, and the MCU does nothing else
     * (at least: idle ops' bytes take longer). */
    uint32_t byte_ns = (uint32_t)(8000000000ull / cfg->rate);
    kl_session_command_time(s, k->send, 0, byte_ns);
    kl_session_command_time(s, k->transfer, 0, byte_ns);
    k->bus.ops = &kspi_ops;
    k->bus.kind = CARDBUS_SPI;
    k->bus.max_spi_chunk = max_chunk(k->transfer, k->response);
    snprintf(k->bus.name, sizeof(k->bus.name), "%s", desc);
    *out = &k->bus;
    return 0;
}
