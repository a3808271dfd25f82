/* The card in SPI mode: one byte in, one byte out, per clock of 8 bits.
 *
 * MISO comes from a queue of pending bytes (Ncr filler, response, data
 * blocks), then from a busy counter (0x00 while programming), then, in a
 * multi-block read, from the next block; otherwise it floats high (0xFF).
 * MOSI feeds either the command-frame parser or a data block being written.
 * None of this state is reset by chip select, only a partial command frame. */
#include "sdcard_int.h"

#include <string.h>

enum {
    TOKEN_START = 0xFE,
    TOKEN_START_MULTI = 0xFC,
    TOKEN_STOP = 0xFD,
    DATA_ACCEPTED = 0x05,
    DATA_CRC_ERROR = 0x0B,
    DATA_WRITE_ERROR = 0x0D,
    ERROR_TOKEN_OUT_OF_RANGE = 0x08,
    CMD12_BUSY = 2,
};

/* ---- MISO queue ---- */

static void out_reset(struct sdcard *c)
{
    c->out_pos = c->out_len = 0;
}

static void out_put(struct sdcard *c, uint8_t b)
{
    if (c->out_len < c->out_cap)
        c->out[c->out_len++] = b;
}

static void out_fill(struct sdcard *c, uint8_t b, size_t n)
{
    while (n--)
        out_put(c, b);
}

static void out_crc(struct sdcard *c, uint16_t crc)
{
    out_put(c, (uint8_t)(crc >> 8));
    out_put(c, (uint8_t)crc);
}

/* A new response replaces whatever was still pending. */
static void respond_start(struct sdcard *c)
{
    out_reset(c);
    out_fill(c, 0xFF, (size_t)c->cfg.ncr - 1);
}

static uint8_t r1_base(const struct sdcard *c)
{
    return c->initialised ? 0 : R1_IDLE;
}

static void respond_r1(struct sdcard *c, uint8_t r1)
{
    respond_start(c);
    out_put(c, r1);
}

static void queue_block_from(struct sdcard *c, const uint8_t *data, size_t n)
{
    out_fill(c, 0xFF, c->cfg.read_latency);
    out_put(c, TOKEN_START);
    for (size_t i = 0; i < n; i++)
        out_put(c, data[i]);
    out_crc(c, sdc_crc16(data, n));
}

static void queue_sector(struct sdcard *c, uint32_t lba)
{
    out_fill(c, 0xFF, c->cfg.read_latency);
    out_put(c, TOKEN_START);
    uint16_t crc;
    sdc_read_sector(c, lba, c->out + c->out_len, &crc);
    c->out_len += SDC_BLOCK;
    out_crc(c, crc);
}

/* Multi-block read: the next block, or once an error token past the end;
 * either way the card waits for CMD12. */
static void queue_next_multi(struct sdcard *c)
{
    if (c->next_lba >= c->sectors) {
        if (!c->read_past_end) {
            out_fill(c, 0xFF, c->cfg.read_latency);
            out_put(c, ERROR_TOKEN_OUT_OF_RANGE);
            c->read_past_end = true;
        }
        return;
    }
    queue_sector(c, c->next_lba++);
}

/* Programming a block: by bytes clocked, or by time when the card has a clock. */
static void start_busy(struct sdcard *c)
{
    if (c->cfg.clock_ns && c->cfg.write_busy_ns) {
        c->busy = 0;
        c->busy_until_ns = c->cfg.clock_ns(c->cfg.clock_ctx) + c->cfg.write_busy_ns;
    } else {
        c->busy = c->cfg.write_busy;
    }
}

static bool timed_busy(struct sdcard *c)
{
    if (!c->busy_until_ns)
        return false;
    if (c->cfg.clock_ns(c->cfg.clock_ctx) < c->busy_until_ns)
        return true;
    c->busy_until_ns = 0;
    return false;
}

/* The byte the card drives during this clock; *busy tells if it was busy. */
static uint8_t next_miso(struct sdcard *c, bool *busy)
{
    *busy = false;
    if (c->out_pos == c->out_len && !c->busy && !c->busy_until_ns && c->read_multi) {
        out_reset(c);
        queue_next_multi(c);
    }
    if (c->out_pos < c->out_len) {
        uint8_t b = c->out[c->out_pos++];
        if (c->out_pos == c->out_len)
            out_reset(c);
        return b;
    }
    if (c->busy) {
        c->busy--;
        *busy = true;
        return 0x00;
    }
    if (timed_busy(c)) {
        *busy = true;
        return 0x00;
    }
    return 0xFF;
}

/* ---- writes ---- */

static uint8_t program_block(struct sdcard *c)
{
    if (sdc_take_corrupt_write(c))
        c->blk[c->wr_lba % SDC_BLOCK] ^= 0x01;
    uint16_t crc = (uint16_t)(c->blk[SDC_BLOCK] << 8 | c->blk[SDC_BLOCK + 1]);
    if (c->crc_on && crc != sdc_crc16(c->blk, SDC_BLOCK)) {
        c->stats.crc_errors++;
        c->stats.write_rejects++;
        return DATA_CRC_ERROR;
    }
    if (c->wr_failed)
        return DATA_WRITE_ERROR;
    if (c->wr_lba >= c->sectors) {
        c->r2 |= R2_OUT_OF_RANGE;
        return DATA_WRITE_ERROR;
    }
    uint32_t why = sdc_write_sector(c, c->wr_lba, c->blk);
    if (why == ST_WP_VIOLATION)
        c->r2 |= R2_WP_VIOLATION;
    else if (why)
        c->r2 |= R2_ERROR;
    if (why)
        return DATA_WRITE_ERROR;
    c->wr_lba++;
    return DATA_ACCEPTED;
}

static void data_block_done(struct sdcard *c, bool multi)
{
    uint8_t code = program_block(c);
    out_reset(c);
    out_put(c, (uint8_t)(0xE0 | code));
    if (code == DATA_ACCEPTED)
        start_busy(c);
    else if (multi)
        c->wr_failed = true;
    c->rx = multi ? SPI_RX_TOKEN_MULTI : SPI_RX_CMD;
}

static void stop_multi_write(struct sdcard *c)
{
    out_reset(c);
    out_put(c, 0xFF);  /* one byte before busy starts */
    start_busy(c);
    c->rx = SPI_RX_CMD;
}

/* ---- commands ---- */

static bool frame_crc_ok(const uint8_t f[6])
{
    return (f[5] >> 1) == sdc_crc7(f, 5);
}

static void respond_register(struct sdcard *c, const uint8_t reg[16])
{
    respond_r1(c, 0);
    queue_block_from(c, reg, 16);
}

static void cmd_read(struct sdcard *c, uint32_t arg, bool multi)
{
    uint32_t lba, why = 0;
    if (!sdc_addr_to_lba(c, arg, &lba, &why)) {
        respond_r1(c, why == ST_ADDRESS_ERROR ? R1_ADDRESS : R1_PARAM);
        return;
    }
    respond_r1(c, 0);
    if (multi) {
        c->read_multi = true;
        c->read_past_end = false;
        c->next_lba = lba;
    } else {
        queue_sector(c, lba);
    }
}

static void cmd_write(struct sdcard *c, uint32_t arg, bool multi)
{
    uint32_t lba, why = 0;
    if (!sdc_addr_to_lba(c, arg, &lba, &why)) {
        respond_r1(c, why == ST_ADDRESS_ERROR ? R1_ADDRESS : R1_PARAM);
        return;
    }
    respond_r1(c, 0);
    c->wr_lba = lba;
    c->wr_failed = false;
    c->rx = multi ? SPI_RX_TOKEN_MULTI : SPI_RX_TOKEN_SINGLE;
}

/* CMD12 during a multi-block read: one stuff byte, then R1b. */
static void cmd_stop(struct sdcard *c, bool was_reading)
{
    if (!was_reading) {
        respond_r1(c, r1_base(c) | R1_ILLEGAL);
        return;
    }
    uint8_t stuff = c->out_pos < c->out_len ? c->out[c->out_pos] : 0xFF;
    out_reset(c);
    out_put(c, stuff);
    out_fill(c, 0xFF, (size_t)c->cfg.ncr - 1);
    out_put(c, 0);
    c->busy = CMD12_BUSY;
}

static void acmd41(struct sdcard *c, uint32_t arg)
{
    bool hcs = arg & (1u << 30);
    /* A high-capacity card never leaves idle for a host that lacks HCS. */
    if (c->cfg.type == SDCARD_SDHC && !hcs) {
        respond_r1(c, R1_IDLE);
        return;
    }
    if (c->acmd41_polls < c->cfg.init_polls) {
        c->acmd41_polls++;
        respond_r1(c, R1_IDLE);
        return;
    }
    c->initialised = true;
    respond_r1(c, 0);
}

static void send_r1_and_word(struct sdcard *c, uint8_t r1, uint32_t w)
{
    respond_r1(c, r1);
    for (int s = 24; s >= 0; s -= 8)
        out_put(c, (uint8_t)(w >> s));
}

static void cmd_if_cond(struct sdcard *c, uint32_t arg)
{
    if (c->cfg.type == SDCARD_V1_SDSC) {
        respond_r1(c, R1_IDLE | R1_ILLEGAL);
        return;
    }
    uint32_t vhs = (arg >> 8) & 0x0F;
    send_r1_and_word(c, r1_base(c), (vhs == 1 ? 1u << 8 : 0) | (arg & 0xFF));
}

static void sd_status(struct sdcard *c)
{
    uint8_t reg[64];
    memset(reg, 0, sizeof(reg));
    respond_start(c);
    out_put(c, 0);
    out_put(c, c->r2);
    c->r2 = 0;
    queue_block_from(c, reg, sizeof(reg));
}

static bool allowed_in_idle(uint8_t cmd, bool app)
{
    if (app && cmd == 41)
        return true;
    return cmd == 0 || cmd == 8 || cmd == 55 || cmd == 58 || cmd == 59;
}

static bool app_command(struct sdcard *c, uint8_t cmd, uint32_t arg)
{
    switch (cmd) {
    case 41: acmd41(c, arg); return true;
    case 23: respond_r1(c, 0); return true;   /* pre-erase count: a hint only */
    case 13: sd_status(c); return true;
    default: return false;
    }
}

static void command(struct sdcard *c, uint8_t cmd, uint32_t arg, bool app)
{
    if (!c->initialised && !allowed_in_idle(cmd, app)) {
        respond_r1(c, R1_IDLE | R1_ILLEGAL);
        return;
    }
    if (app && app_command(c, cmd, arg))
        return;
    switch (cmd) {
    case 0:
        sdc_go_idle(c);
        respond_r1(c, R1_IDLE);
        break;
    case 8: cmd_if_cond(c, arg); break;
    case 9: respond_register(c, c->csd); break;
    case 10: respond_register(c, c->cid); break;
    case 13:
        respond_r1(c, r1_base(c));
        out_put(c, c->r2);
        c->r2 = 0;
        break;
    case 16:
        respond_r1(c, c->cfg.type == SDCARD_SDHC || arg == SDC_BLOCK ? 0 : R1_PARAM);
        break;
    case 17: cmd_read(c, arg, false); break;
    case 18: cmd_read(c, arg, true); break;
    case 24: cmd_write(c, arg, false); break;
    case 25: cmd_write(c, arg, true); break;
    case 55:
        c->app_cmd = true;
        respond_r1(c, r1_base(c));
        break;
    case 58: send_r1_and_word(c, r1_base(c), sdc_ocr(c)); break;
    case 59:
        c->crc_on = arg & 1;
        respond_r1(c, r1_base(c));
        break;
    default: respond_r1(c, r1_base(c) | R1_ILLEGAL); break;
    }
}

static void execute_frame(struct sdcard *c)
{
    const uint8_t *f = c->frame;
    uint8_t cmd = f[0] & 0x3F;
    uint32_t arg = (uint32_t)f[1] << 24 | (uint32_t)f[2] << 16 | (uint32_t)f[3] << 8 | f[4];
    bool app = c->app_cmd;
    c->app_cmd = false;
    if (!c->spi_mode) {
        /* In SD mode the card only hears a valid CMD0 on this wiring, and
         * that switches it to SPI mode for good. */
        if (cmd != 0 || !frame_crc_ok(f))
            return;
        c->spi_mode = true;
    }
    sdc_note_command(c, cmd, app);
    if (c->drop_commands) {
        c->drop_commands--;
        return;
    }
    if ((c->crc_on || cmd == 0 || cmd == 8) && !frame_crc_ok(f)) {
        c->stats.crc_errors++;
        respond_r1(c, r1_base(c) | R1_CRC);
        return;
    }
    bool was_reading = c->read_multi;
    c->read_multi = false;
    c->rx = SPI_RX_CMD;  /* a command abandons a write still waiting for data */
    if (cmd == 12)
        cmd_stop(c, was_reading);
    else
        command(c, cmd, arg, app);
}

static void parse_command_byte(struct sdcard *c, uint8_t b)
{
    if (c->frame_len == 0 && (b & 0xC0) != 0x40)
        return;  /* idle line, or not a start bit */
    c->frame[c->frame_len++] = b;
    if (c->frame_len == sizeof(c->frame)) {
        c->frame_len = 0;
        execute_frame(c);
    }
}

static void receive(struct sdcard *c, uint8_t b)
{
    switch (c->rx) {
    case SPI_RX_DATA:
        c->blk[c->blk_len++] = b;
        if (c->blk_len == sizeof(c->blk))
            data_block_done(c, c->wr_multi);
        return;
    case SPI_RX_TOKEN_SINGLE:
        if (b == TOKEN_START) {
            c->rx = SPI_RX_DATA, c->blk_len = 0, c->wr_multi = false;
            return;
        }
        break;
    case SPI_RX_TOKEN_MULTI:
        if (b == TOKEN_START_MULTI) {
            c->rx = SPI_RX_DATA, c->blk_len = 0, c->wr_multi = true;
            return;
        }
        if (b == TOKEN_STOP) {
            stop_multi_write(c);
            return;
        }
        break;
    case SPI_RX_CMD:
        break;
    }
    parse_command_byte(c, b);
}

/* ---- public ---- */

void sdcard_spi_cs(struct sdcard *card, bool active)
{
    if (active && !card->cs)
        card->stats.cs_windows++;
    if (!active)
        card->frame_len = 0;  /* a frame cut by CS is lost */
    card->cs = active;
}

uint8_t sdcard_spi_byte(struct sdcard *card, uint8_t mosi)
{
    if (!card->cs)
        return 0xFF;
    card->stats.spi_bytes++;
    if (!sdc_alive(card))
        return 0xFF;  /* MISO pulled up */
    bool busy;
    uint8_t miso = next_miso(card, &busy);
    if (!busy)  /* a programming card ignores the bus */
        receive(card, mosi);
    return miso;
}

void sdcard_spi_window(struct sdcard *card, const uint8_t *tx, uint8_t *rx, size_t len)
{
    sdcard_spi_cs(card, true);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = sdcard_spi_byte(card, tx ? tx[i] : 0xFF);
        if (rx)
            rx[i] = b;
    }
    sdcard_spi_cs(card, false);
}
