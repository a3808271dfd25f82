#include "cardbus_model.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct model_bus {
    struct cardbus bus;
    struct sdcard *card;
    struct cardbus_model_stats stats;
    uint64_t lose_at;       /* call number to lose, 0 = none */
    int lose_ran;
    unsigned lose_every;
    uint64_t lose_step_at;  /* batch reply number to lose, 0 = none */
    bool lose_step_ran;
    uint8_t buffer[512];    /* a pipelined bus's one block buffer, as the MCU's */
};

static struct model_bus *model_of(struct cardbus *bus)
{
    return (struct model_bus *)bus;
}

/* Count the call; true if its reply is to be lost.  *ran: ops to run. */
static bool next_call_loses(struct model_bus *m, int *ran)
{
    uint64_t n = ++m->stats.calls;
    *ran = -1;
    if (m->lose_at && n == m->lose_at) {
        m->lose_at = 0;
        *ran = m->lose_ran;
        m->stats.lost++;
        return true;
    }
    if (m->lose_every && n % m->lose_every == 0) {
        m->stats.lost++;
        return true;
    }
    return false;
}

static int model_spi_batch(struct cardbus *bus, const struct spi_op *ops, size_t n,
                           struct mf_err *err)
{
    struct model_bus *m = model_of(bus);
    int ran;
    bool lose = next_call_loses(m, &ran);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].idle)
            continue; /* any length: only its time counts */
        if (ops[i].len > m->stats.max_op_len)
            m->stats.max_op_len = ops[i].len;
        if (bus->max_spi_chunk && ops[i].len > bus->max_spi_chunk) {
            m->stats.oversize_ops++;
            return mf_fail(err, MF_E_PROTOCOL, "spi op of %u bytes exceeds the bus limit of %u",
                           ops[i].len, bus->max_spi_chunk);
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (lose && ran >= 0 && (size_t)ran <= i) {
            if (ops[i].rx)
                memset(ops[i].rx, 0xA5, ops[i].len);
            continue;
        }
        m->stats.ops++;
        if (ops[i].idle) {
            /* Time passes as the bytes are clocked: the model's card counts
             * its busy in bytes, so clock them to it. */
            uint8_t ff[64];
            memset(ff, 0xFF, sizeof(ff));
            for (uint32_t left = ops[i].len; left;) {
                uint16_t k = left < sizeof(ff) ? (uint16_t)left : (uint16_t)sizeof(ff);
                sdcard_spi_window(m->card, ff, NULL, k);
                left -= k;
            }
            continue;
        }
        sdcard_spi_window(m->card, ops[i].tx, ops[i].rx, ops[i].len);
        if (lose && ops[i].rx)
            memset(ops[i].rx, 0xA5, ops[i].len);  /* the reply never arrives */
    }
    return lose ? CARDBUS_LOST : 0;
}

static int model_sd_command(struct cardbus *bus, uint8_t cmd, uint32_t arg, int wait,
                            uint8_t resp[16], int *sdio_error, struct mf_err *err)
{
    struct model_bus *m = model_of(bus);
    int ran;
    bool lose = next_call_loses(m, &ran);
    uint8_t r[16];
    if (!lose || ran != 0)
        *sdio_error = sdcard_sd_command(m->card, cmd, arg, wait, r);
    if (lose)
        return CARDBUS_LOST;
    memcpy(resp, r, 16);
    return 0;
}

static int model_sd_read_block(struct cardbus *bus, uint8_t cmd, uint32_t arg, uint8_t buf[512],
                               int *sdio_error, struct mf_err *err)
{
    struct model_bus *m = model_of(bus);
    int ran;
    bool lose = next_call_loses(m, &ran);
    uint8_t b[512];
    if (!lose || ran != 0)
        *sdio_error = sdcard_sd_read_block(m->card, cmd, arg, b);
    if (lose)
        return CARDBUS_LOST;
    memcpy(buf, b, 512);
    return 0;
}

static int model_sd_write_block(struct cardbus *bus, uint8_t cmd, uint32_t arg,
                                const uint8_t buf[512], int *sdio_error, struct mf_err *err)
{
    struct model_bus *m = model_of(bus);
    int ran;
    bool lose = next_call_loses(m, &ran);
    if (!lose || ran != 0)
        *sdio_error = sdcard_sd_write_block(m->card, cmd, arg, buf);
    return lose ? CARDBUS_LOST : 0;
}

static int model_sd_set_speed(struct cardbus *bus, uint32_t hz, struct mf_err *err)
{
    model_of(bus)->stats.speed_hz = hz;
    return 0;
}

/* --- pipelined SD bus: the steps run in order, and a lost reply does not
 * stop the ones after it, as on a line that keeps them in flight --- */

/* What a lost reply leaves: results that look fine and are not, so only
 * the step's lost flag tells. */
static void scribble(struct sd_step *s)
{
    static const uint8_t tran_ready[4] = { 0x00, 0x00, 0x09, 0x00 };
    s->sdio_error = 0;
    memset(s->resp, 0, sizeof(s->resp));
    memcpy(s->resp, tran_ready, sizeof(tran_ready));
    if (s->kind == SD_STEP_READ)
        memset(s->rbuf, 0x5A, 512);
}

static int run_step(struct model_bus *m, struct sd_step *s)
{
    switch (s->kind) {
    case SD_STEP_COMMAND: return sdcard_sd_command(m->card, s->cmd, s->arg, s->wait, s->resp);
    case SD_STEP_READ: return sdcard_sd_read_block(m->card, s->cmd, s->arg, s->rbuf);
    case SD_STEP_WRITE: return sdcard_sd_write_block(m->card, s->cmd, s->arg, m->buffer);
    case SD_STEP_FILL: memcpy(m->buffer, s->wbuf, sizeof(m->buffer)); return 0;
    }
    return -1;
}

static int model_sd_batch(struct cardbus *bus, struct sd_step *steps, size_t n, struct mf_err *err)
{
    struct model_bus *m = model_of(bus);
    bool lost = false;
    (void)err;
    m->stats.batches++;
    for (size_t i = 0; i < n; i++) {
        struct sd_step *s = &steps[i];
        memset(s->resp, 0, sizeof(s->resp));
        bool lose = s->kind != SD_STEP_FILL && ++m->stats.replies == m->lose_step_at;
        s->lost = lose;
        if (!lose || m->lose_step_ran)
            s->sdio_error = run_step(m, s);
        if (lose) {
            scribble(s);
            lost = true;
            m->stats.lost++;
        }
    }
    return lost ? CARDBUS_LOST : 0;
}

static void model_close(struct cardbus *bus)
{
    free(bus);
}

static const struct cardbus_ops model_ops = {
    .spi_batch = model_spi_batch,
    .sd_command = model_sd_command,
    .sd_read_block = model_sd_read_block,
    .sd_write_block = model_sd_write_block,
    .sd_set_speed = model_sd_set_speed,
    .close = model_close,
};

struct cardbus *cardbus_model_new_pipelined(struct sdcard *card)
{
    /* The same operations, and batches. */
    static struct cardbus_ops model_pipelined_ops;
    model_pipelined_ops = model_ops;
    model_pipelined_ops.sd_batch = model_sd_batch;
    struct cardbus *bus = cardbus_model_new(card, CARDBUS_SDIO, 0);
    if (bus) {
        bus->ops = &model_pipelined_ops;
        snprintf(bus->name, sizeof(bus->name), "model pipelined SDIO bus");
    }
    return bus;
}

struct cardbus *cardbus_model_new(struct sdcard *card, enum cardbus_kind kind, uint16_t max_chunk)
{
    struct model_bus *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->bus.ops = &model_ops;
    m->bus.kind = kind;
    m->bus.max_spi_chunk = max_chunk;
    snprintf(m->bus.name, sizeof(m->bus.name), "%s", kind == CARDBUS_SPI ? "model SPI bus"
                                                                         : "model SDIO bus");
    m->card = card;
    return &m->bus;
}

void cardbus_model_free(struct cardbus *bus)
{
    if (bus)
        bus->ops->close(bus);
}

void cardbus_model_lose(struct cardbus *bus, unsigned k, int ran)
{
    struct model_bus *m = model_of(bus);
    m->lose_at = k ? m->stats.calls + k : 0;
    m->lose_ran = ran;
}

void cardbus_model_lose_step(struct cardbus *bus, unsigned k, bool ran)
{
    struct model_bus *m = model_of(bus);
    m->lose_step_at = k ? m->stats.replies + k : 0;
    m->lose_step_ran = ran;
}

void cardbus_model_lose_every(struct cardbus *bus, unsigned n)
{
    model_of(bus)->lose_every = n;
}

const struct cardbus_model_stats *cardbus_model_stats(const struct cardbus *bus)
{
    return &((const struct model_bus *)bus)->stats;
}

void model_fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

int model_rig_open(struct model_rig *rig, const char *tag, uint32_t sectors,
                   const struct sdcard_config *cfg, enum cardbus_kind kind, uint16_t max_chunk)
{
    static unsigned serial;
    const char *dir = getenv("MF_TMP");
    if (!dir || !*dir)
        dir = "/tmp";
    mkdir(dir, 0777);
    memset(rig, 0, sizeof(*rig));
    snprintf(rig->path, sizeof(rig->path), "%s/%s-%d-%u.img", dir, tag, (int)getpid(), serial++);
    int fd = open(rig->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    uint8_t sector[512];
    for (uint32_t i = 0; i < sectors; i++) {
        model_fill(sector, sizeof(sector), i + 77);
        if (write(fd, sector, sizeof(sector)) != (ssize_t)sizeof(sector)) {
            close(fd);
            return -1;
        }
    }
    close(fd);
    struct mf_err err;
    if (sdcard_open_image(rig->path, cfg, &rig->card, &err) < 0) {
        fprintf(stderr, "model_rig_open: %s\n", err.msg);
        unlink(rig->path);
        return -1;
    }
    rig->bus = cardbus_model_new(rig->card, kind, max_chunk);
    return rig->bus ? 0 : -1;
}

struct cardbus *model_rig_bus(struct model_rig *rig, enum cardbus_kind kind, uint16_t max_chunk)
{
    return cardbus_model_new(rig->card, kind, max_chunk);
}

void model_rig_close(struct model_rig *rig)
{
    cardbus_model_free(rig->bus);
    sdcard_free(rig->card);
    unlink(rig->path);
    memset(rig, 0, sizeof(*rig));
}

int model_rig_file_read(const struct model_rig *rig, uint32_t lba, uint32_t count, uint8_t *buf)
{
    int fd = open(rig->path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t len = (size_t)count * 512;
    ssize_t n = pread(fd, buf, len, (off_t)lba * 512);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}
