/* SD card protocol in SPI mode.
 *
 * Every card operation is sent as few batches as the protocol allows, so a
 * transport such as Klipper's spi_send/spi_transfer can pipeline it: a sector
 * read is one batch (command frame, then enough read windows for Ncr, R1,
 * the expected latency, the token, 512 bytes and the CRC); a written block is
 * one batch whose last window carries the CRC plus a few 0xFF, so the data
 * response and the start of busy come back in the same round trip.  The
 * replies form one stream; only when the card was slower than expected do we
 * clock more.  Each function here is a single attempt: the retry policy and
 * the recovery between attempts are in sd.c. */
#include "sd/sd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sd/sd_crc.h"
#include "util/clock.h"

enum {
    NCR_MAX = 8,            /* R1 arrives within 8 bytes of a command frame */
    NCR_SLACK = 16,         /* extra bytes we give a late card */
    TOKEN_START = 0xFE,
    TOKEN_MULTI = 0xFC,
    TOKEN_STOP = 0xFD,
    TAIL = 8,               /* 0xFF clocked after a block's CRC, same window */
    RESYNC_BYTES = SD_BLOCK + 8,
    LATENCY_MAX_GUESS = 64,
    TOKEN_MAX_BYTES = 1 << 20,
    TOKEN_TIMEOUT_MS = 500,
    BUSY_TIMEOUT_MS = 1000,
    INIT_TIMEOUT_MS = 2000,
    INIT_MAX_POLLS = 2000,
    SD_NO_REPLY = 2,        /* spi_command: the card sent no R1 */
    SD_REFUSED = 3,         /* a data response "write error" */
    WRITE_PAD_MIN = 8,      /* bytes of 0xFF after a written block, at least */
    WRITE_PAD_MAX = 1 << 16,
};

/* R1 bits. */
#define R1_IDLE 0x01
#define R1_ILLEGAL 0x04
#define R1_CRC 0x08
#define R1_ADDRESS 0x20
#define R1_PARAM 0x40
/* Second byte of R2. */
#define R2_LOCKED 0x01
#define R2_WP_VIOLATION 0x20

#define HCS (1u << 30)

static int lost_is_again(int rc, struct mf_err *err)
{
    if (rc == CARDBUS_LOST)
        return sd_again(err, "a reply from the board was lost");
    return rc;
}

/* ---- commands ---- */

static int queue_command(struct sd_card *c, uint8_t cmd, uint32_t arg, size_t resp_len, size_t *at,
                         struct mf_err *err)
{
    uint8_t f[6];
    sd_frame(f, cmd, arg);
    if (spi_io_send(&c->io, f, sizeof(f), err) < 0)
        return -1;
    return spi_io_transfer(&c->io, NULL, NCR_MAX + resp_len, at, err);
}

/* The first byte with bit 7 clear in [from, to) of the stream is R1. */
static bool locate_r1(const struct spi_io *io, size_t from, size_t to, size_t *pos)
{
    if (to > io->rx_len)
        to = io->rx_len;
    for (size_t i = from; i < to; i++)
        if (!(io->rx[i] & 0x80)) {
            *pos = i;
            return true;
        }
    return false;
}

/* One command, after CMD55 in the same batch if app; resp gets resp_len
 * bytes starting with R1.  Returns 0, SD_NO_REPLY, CARDBUS_LOST or -1. */
static int spi_command(struct sd_card *c, bool app, uint8_t cmd, uint32_t arg, uint8_t *resp,
                       size_t resp_len, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    size_t w55 = 0, w, pos;
    spi_io_begin(io);
    spi_io_clear(io);
    if (app && queue_command(c, 55, 0, 1, &w55, err) < 0)
        return -1;
    if (queue_command(c, cmd, arg, resp_len, &w, err) < 0)
        return -1;
    int rc = spi_io_run(io, err);
    if (rc)
        return rc;
    if (app) {
        if (!locate_r1(io, w55, w55 + NCR_MAX + 1, &pos))
            return SD_NO_REPLY;
        if (io->rx[pos] & ~R1_IDLE) {  /* CMD55 itself failed: report that */
            memset(resp, 0xFF, resp_len);
            resp[0] = io->rx[pos];
            return 0;
        }
    }
    size_t end = w + NCR_MAX + resp_len;
    if (!locate_r1(io, w, end, &pos)) {
        if ((rc = spi_io_more(io, NCR_SLACK, err)) != 0)
            return rc;
        if (!locate_r1(io, end, io->rx_len, &pos))
            return SD_NO_REPLY;
    }
    if (pos + resp_len > io->rx_len && (rc = spi_io_more(io, pos + resp_len - io->rx_len, err)) != 0)
        return rc;
    memcpy(resp, io->rx + pos, resp_len);
    return 0;
}

/* spi_command, again on a lost reply or an R1 that flags a CRC error. */
static int spi_command_retry(struct sd_card *c, bool app, uint8_t cmd, uint32_t arg, uint8_t *resp,
                             size_t resp_len, struct mf_err *err)
{
    int rc = SD_NO_REPLY;
    for (int i = 0; i < 3; i++) {
        rc = spi_command(c, app, cmd, arg, resp, resp_len, err);
        if (rc < 0 && rc != CARDBUS_LOST)
            return -1;
        if (rc == 0 && !(resp[0] & R1_CRC))
            return 0;
    }
    return rc;
}

static int r1_failure(struct sd_card *c, uint8_t cmd, uint32_t arg, uint8_t r1, struct mf_err *err)
{
    if (r1 & (R1_ADDRESS | R1_PARAM))
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s refused address 0x%08X of CMD%u (R1 0x%02X); nothing "
                       "more was changed; the card may be smaller than its filesystem says.",
                       c->bus->name, arg, cmd, r1);
    if (r1 & R1_IDLE)
        return sd_again(err, "the card went back to idle state (R1 0x%02X to CMD%u)", r1, cmd);
    return sd_again(err, "the card answered CMD%u with R1 0x%02X", cmd, r1);
}

/* ---- waiting on the stream ---- */

/* Busy ends at the first 0xFF at or after pos. */
static int wait_not_busy(struct sd_card *c, size_t pos, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    uint64_t deadline = sd_deadline_ms(BUSY_TIMEOUT_MS);
    for (;;) {
        for (; pos < io->rx_len; pos++)
            if (io->rx[pos] == 0xFF)
                return 0;
        if (sd_expired(deadline))
            return sd_again(err, "the card stayed busy for more than %u ms", BUSY_TIMEOUT_MS);
        int rc = lost_is_again(spi_io_more(io, io->chunk, err), err);
        if (rc)
            return rc;
    }
}

static int token_failure(uint8_t tok, struct mf_err *err)
{
    if ((tok & 0xF0) == 0 && (tok & 0x08))
        return mf_fail(err, MF_E_CARD,
                       "The SD card says a sector is out of its range (error token 0x%02X); "
                       "nothing was changed; the filesystem is larger than the card.", tok);
    if ((tok & 0xF0) == 0)
        return sd_again(err, "the card could not read the block (error token 0x%02X)", tok);
    return sd_again(err, "expected a data token, got 0x%02X", tok);
}

/* Parse one data block at *pos: filler, token, len bytes, CRC16.  Clocks
 * more bytes only when the stream ends before the block does. */
static int take_block(struct sd_card *c, size_t *pos, uint8_t *dst, size_t len, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    size_t start = *pos, p = *pos;
    uint64_t deadline = 0;
    int rc;
    for (;;) {
        while (p < io->rx_len && io->rx[p] == 0xFF)
            p++;
        if (p < io->rx_len)
            break;
        if (!deadline)
            deadline = sd_deadline_ms(TOKEN_TIMEOUT_MS);
        else if (sd_expired(deadline) || p - start > TOKEN_MAX_BYTES)
            return sd_again(err, "no data token within %zu bytes", p - start);
        if ((rc = lost_is_again(spi_io_more(io, 1 + len + 2, err), err)) != 0)
            return rc;
    }
    if (io->rx[p] != TOKEN_START)
        return token_failure(io->rx[p], err);
    size_t gap = p - start;
    if (gap > c->latency_guess)
        c->latency_guess = (uint16_t)(gap < LATENCY_MAX_GUESS ? gap : LATENCY_MAX_GUESS);
    p++;
    if (io->rx_len < p + len + 2 &&
        (rc = lost_is_again(spi_io_more(io, p + len + 2 - io->rx_len, err), err)) != 0)
        return rc;
    uint16_t crc = (uint16_t)(io->rx[p + len] << 8 | io->rx[p + len + 1]);
    if (crc != sd_crc16(io->rx + p, len))
        return sd_again(err, "data CRC mismatch (card sent 0x%04X)", crc);
    memcpy(dst, io->rx + p, len);
    *pos = p + len + 2;
    return 0;
}

/* CMD12: the byte after its frame is a stuff byte, then R1b. */
static int stop_read(struct sd_card *c, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    uint8_t f[6];
    size_t w, pos;
    sd_frame(f, 12, 0);
    spi_io_begin(io);
    spi_io_clear(io);
    if (spi_io_send(io, f, sizeof(f), err) < 0 ||
        spi_io_transfer(io, NULL, 1 + NCR_MAX + 1 + 4, &w, err) < 0)
        return -1;
    int rc = lost_is_again(spi_io_run(io, err), err);
    if (rc)
        return rc;
    /* Its value does not matter, only where busy starts; a card that
     * skips the stuff byte answers at once. */
    if (!locate_r1(io, w + 1, io->rx_len, &pos) && !locate_r1(io, w, w + 1, &pos))
        return sd_again(err, "no answer to CMD12");
    return wait_not_busy(c, pos + 1, err);
}

/* One attempt at cmd (9, 10, 17 or 18) and count blocks of len bytes. */
static int read_blocks(struct sd_card *c, uint8_t cmd, uint32_t arg, uint8_t *dst, size_t len,
                       uint32_t count, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    size_t w, data, pos;
    spi_io_begin(io);
    spi_io_clear(io);
    size_t expect = (size_t)count * (c->latency_guess + 1 + len + 2);
    if (queue_command(c, cmd, arg, 1, &w, err) < 0 ||
        spi_io_transfer(io, NULL, expect, &data, err) < 0)
        return -1;
    int rc = lost_is_again(spi_io_run(io, err), err);
    if (rc)
        return rc;
    if (!locate_r1(io, w, w + NCR_MAX + 1, &pos))
        return sd_again(err, "no answer to CMD%u", cmd);
    if (io->rx[pos] != 0)
        return r1_failure(c, cmd, arg, io->rx[pos], err);
    pos++;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = take_block(c, &pos, dst + i * len, len, err);
    if (cmd == 18) {
        struct mf_err stop_err;
        int stop = stop_read(c, rc ? &stop_err : err);
        if (rc == 0)
            rc = stop;
    }
    return rc;
}

/* ---- writes ---- */

static int fail_write_protected(struct sd_card *c, struct mf_err *err)
{
    return mf_fail(err, MF_E_CARD,
                   "The SD card on %s refused the write because it is write-protected; nothing "
                   "was written.", c->bus->name);
}

/* CMD13 after writing: R2 must be all zero. */
static int check_status(struct sd_card *c, bool refused, struct mf_err *err)
{
    uint8_t r[2];
    int rc = spi_command(c, false, 13, 0, r, sizeof(r), err);
    if (rc == -1)
        return -1;
    if (rc)
        return sd_again(err, "no answer to CMD13 after writing");
    if (r[1] & R2_WP_VIOLATION)
        return fail_write_protected(c, err);
    if (r[1] & R2_LOCKED)
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s is password-locked; nothing was written; unlock it "
                       "in a computer and try again.", c->bus->name);
    if (r[0] || r[1])
        return sd_again(err, "the card reported status 0x%02X%02X after writing", r[0], r[1]);
    if (refused)
        return sd_again(err, "the card refused a data block (write error)");
    return 0;
}

/* (ACMD23 +) CMD24/CMD25 and its R1, in one batch. */
static int start_write(struct sd_card *c, uint32_t lba, uint32_t count, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    bool multi = count > 1;
    size_t w55, w23, w, pos;
    uint32_t arg = sd_address(c, lba);
    spi_io_begin(io);
    spi_io_clear(io);
    /* Pre-erase hint; its answer does not matter. */
    if (multi && (queue_command(c, 55, 0, 1, &w55, err) < 0 ||
                  queue_command(c, 23, count, 1, &w23, err) < 0))
        return -1;
    if (queue_command(c, multi ? 25 : 24, arg, 1, &w, err) < 0)
        return -1;
    int rc = lost_is_again(spi_io_run(io, err), err);
    if (rc)
        return rc;
    if (!locate_r1(io, w, w + NCR_MAX + 1, &pos))
        return sd_again(err, "no answer to CMD%u", multi ? 25 : 24);
    if (io->rx[pos] != 0)
        return r1_failure(c, multi ? 25 : 24, arg, io->rx[pos], err);
    return 0;
}

/* Queue the stop token of CMD25 and TAIL bytes after it; busy starts at
 * *at + 2 (one byte after the token). */
static int queue_stop_token(struct spi_io *io, size_t *at, struct mf_err *err)
{
    uint8_t stop[2 + TAIL];
    memset(stop, 0xFF, sizeof(stop));
    stop[0] = TOKEN_STOP;
    return spi_io_transfer(io, stop, sizeof(stop), at, err);
}

/* ---- writes: a block and its pad per batch ----
 *
 * A card programs each block after its data response and ignores the bus
 * meanwhile; data or a command frame sent then could, once it is done, be
 * taken for a token or a command.  So nothing goes after a block until a
 * byte read back has shown the card done.  Rather than ask for that in a
 * round trip of its own, each block is followed in its batch by
 * c->write_pad bytes of 0xFF, long enough for the card to finish, and two
 * of them come back: one three quarters of the way (if the card is done
 * there, the pad shrinks to that) and the last (if the card is still busy
 * there, it is polled as before and the pad doubles). */

static int resync(struct sd_card *c, struct mf_err *err);

/* Where in the stream a queued block's answers are. */
struct block_marks {
    size_t response;    /* first byte after the CRC (or the stop token) */
    size_t early, late; /* the two pad bytes that come back */
};

/* The pad after a block or the stop token: the time of write_pad bytes,
 * idle but for the two bytes read with the card selected. */
static int queue_pad(struct sd_card *c, struct block_marks *m, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    uint32_t early = c->write_pad * 3 / 4;
    if (spi_io_idle(io, early - 1, err) < 0 || spi_io_transfer(io, NULL, 1, &m->early, err) < 0 ||
        spi_io_idle(io, c->write_pad - early - 1, err) < 0)
        return -1;
    return spi_io_transfer(io, NULL, 1, &m->late, err);
}

/* One data block and its pad.  The last window carries the end of the data,
 * the CRC and TAIL bytes of 0xFF, which bring back the data response. */
static int queue_block(struct sd_card *c, uint8_t token, const uint8_t *data, struct block_marks *m,
                       struct mf_err *err)
{
    struct spi_io *io = &c->io;
    enum { AFTER_CRC = 1 + 1 + SD_BLOCK + 2 };
    uint8_t pkt[AFTER_CRC + TAIL];
    pkt[0] = 0xFF;  /* at least one byte between R1 (or the pad) and the token */
    pkt[1] = token;
    memcpy(pkt + 2, data, SD_BLOCK);
    uint16_t crc = sd_crc16(data, SD_BLOCK);
    pkt[AFTER_CRC - 2] = (uint8_t)(crc >> 8);
    pkt[AFTER_CRC - 1] = (uint8_t)crc;
    memset(pkt + AFTER_CRC, 0xFF, TAIL);
    size_t total = sizeof(pkt), last = total % io->chunk, at;
    if (last < 2 + TAIL)
        last += io->chunk;  /* the read window covers the CRC on */
    if (last > total)
        last = total;
    if (spi_io_send(io, pkt, total - last, err) < 0 || spi_io_transfer(io, pkt + total - last, last, &at, err) < 0)
        return -1;
    m->response = at + AFTER_CRC - (total - last);
    return queue_pad(c, m, err);
}

/* The data response of a block: 0, SD_REFUSED or SD_AGAIN. */
static int data_response(const struct spi_io *io, const struct block_marks *m, struct mf_err *err)
{
    size_t p = m->response;
    while (p < m->response + TAIL && io->rx[p] == 0xFF)
        p++;
    if (p == m->response + TAIL)
        return sd_again(err, "no data response after a written block");
    switch (io->rx[p] & 0x1F) {
    case 0x05: return 0;
    case 0x0B: return sd_again(err, "the card saw a CRC error in a written block");
    case 0x0D: return SD_REFUSED;
    default: return sd_again(err, "garbled data response 0x%02X", io->rx[p]);
    }
}

/* After a block or the stop token: done by the end of the pad, or polled
 * until done; the pad follows what the card needed. */
static int pad_done(struct sd_card *c, const struct block_marks *m, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    if (io->rx[m->late] != 0xFF) {
        c->write_pad = c->write_pad * 2 < WRITE_PAD_MAX ? c->write_pad * 2 : WRITE_PAD_MAX;
        return wait_not_busy(c, m->late, err);
    }
    if (io->rx[m->early] == 0xFF && c->write_pad * 3 / 4 >= WRITE_PAD_MIN)
        c->write_pad = c->write_pad * 3 / 4;
    return 0;
}

/* One block (token: single or multi) in a batch, and what came of it. */
static int write_block(struct sd_card *c, uint8_t token, const uint8_t *data, struct mf_err *err)
{
    struct block_marks m;
    spi_io_begin(&c->io);
    spi_io_clear(&c->io);
    if (queue_block(c, token, data, &m, err) < 0)
        return -1;
    int rc = lost_is_again(spi_io_run(&c->io, err), err);
    rc = rc ? rc : data_response(&c->io, &m, err);
    return rc ? rc : pad_done(c, &m, err);
}

/* The stop token of CMD25 and its pad, then CMD13 (heard only if the card
 * was done by the end of the pad; else asked again). */
static int stop_write(struct sd_card *c, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    struct block_marks m;
    size_t w13, pos;
    spi_io_begin(io);
    spi_io_clear(io);
    int rc = queue_stop_token(io, &m.response, err);
    rc = rc ? rc : queue_pad(c, &m, err);
    rc = rc ? rc : queue_command(c, 13, 0, 2, &w13, err);
    rc = rc ? rc : lost_is_again(spi_io_run(io, err), err);
    if (rc)
        return rc;
    bool heard = io->rx[m.late] == 0xFF;
    if ((rc = pad_done(c, &m, err)) != 0)
        return rc;
    if (!heard || !locate_r1(io, w13, w13 + NCR_MAX + 1, &pos) || pos + 1 >= io->rx_len)
        return check_status(c, false, err);
    uint8_t r[2] = { io->rx[pos], io->rx[pos + 1] };
    if (r[1] & R2_WP_VIOLATION)
        return check_status(c, false, err);  /* ask once more before saying so */
    if (r[0] || r[1])
        return sd_again(err, "the card reported status 0x%02X%02X after writing", r[0], r[1]);
    return 0;
}

static int spi_write(struct sd_card *c, uint32_t lba, uint32_t count, const uint8_t *buf,
                     struct mf_err *err)
{
    bool multi = count > 1;
    if (!c->write_pad)
        c->write_pad = c->io.chunk > WRITE_PAD_MIN ? c->io.chunk : WRITE_PAD_MIN;
    int rc = start_write(c, lba, count, err);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = write_block(c, multi ? TOKEN_MULTI : TOKEN_START, buf + (size_t)i * SD_BLOCK, err);
    if (multi && rc == 0)
        return stop_write(c, err);
    if (rc == SD_REFUSED) {
        /* End the write (the card refuses what follows), then ask why. */
        struct mf_err ignored;
        if (multi && resync(c, &ignored) == -1)
            return mf_fail(err, ignored.code, "%s", ignored.msg);
        return check_status(c, true, err);
    }
    return rc == 0 ? check_status(c, false, err) : rc;
}

static int spi_read(struct sd_card *c, uint32_t lba, uint32_t count, uint8_t *buf,
                    struct mf_err *err)
{
    return read_blocks(c, count > 1 ? 18 : 17, sd_address(c, lba), buf, SD_BLOCK, count, err);
}

/* ---- initialisation ---- */

/* Finish whatever the card may be in the middle of: a data block being
 * received (clock it out), a multi-block write (stop token), busy. */
static int resync(struct sd_card *c, struct mf_err *err)
{
    struct spi_io *io = &c->io;
    size_t at;
    spi_io_begin(io);
    spi_io_clear(io);
    if (spi_io_send(io, NULL, RESYNC_BYTES, err) < 0 || queue_stop_token(io, &at, err) < 0)
        return -1;
    int rc = lost_is_again(spi_io_run(io, err), err);
    return rc ? rc : wait_not_busy(c, at + 2, err);
}

/* Clocks for a card just powered up (CS is active here; cards accept it). */
static int wake_up(struct sd_card *c, struct mf_err *err)
{
    spi_io_begin(&c->io);
    spi_io_clear(&c->io);
    if (spi_io_send(&c->io, NULL, 10, err) < 0)
        return -1;
    int rc = spi_io_run(&c->io, err);
    return rc == CARDBUS_LOST ? 0 : rc;
}

static int go_idle(struct sd_card *c, struct mf_err *err)
{
    uint8_t r1 = 0xFF;
    bool answered = false;
    for (int i = 0; i < 8; i++) {
        int rc = spi_command(c, false, 0, 0, &r1, 1, err);
        if (rc == -1)
            return -1;
        if (rc == 0)
            answered = true;
        if (rc == 0 && r1 == R1_IDLE)
            return 0;
        struct mf_err ignored;
        if (resync(c, &ignored) == -1)
            return mf_fail(err, ignored.code, "%s", ignored.msg);
        if (i >= 2)
            mf_sleep_us(10000);
    }
    if (!answered)
        return sd_fail_no_card(c, err);
    return mf_fail(err, MF_E_CARD,
                   "The SD card on %s does not reset (it answers CMD0 with 0x%02X); nothing was "
                   "changed; take the card out and put it back, or power the board off and on, "
                   "then try again.", c->bus->name, r1);
}

static int init_failed(struct sd_card *c, const char *what, int rc, const uint8_t *r,
                       struct mf_err *err)
{
    if (rc == -1)
        return -1;
    char detail[32];
    if (rc == 0)
        snprintf(detail, sizeof(detail), "answered 0x%02X", r[0]);
    else
        snprintf(detail, sizeof(detail), "no answer");
    return mf_fail(err, MF_E_CARD,
                   "The SD card on %s failed to initialise (%s: %s); nothing was changed; take "
                   "the card out and put it back, or power the board off and on, then try "
                   "again.", c->bus->name, what, detail);
}

/* CMD8: version 2 cards echo the pattern, version 1 cards call it illegal. */
static int check_interface(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[5];
    int rc = spi_command_retry(c, false, 8, 0x1AA, r, sizeof(r), err);
    if (rc)
        return init_failed(c, "CMD8", rc, r, err);
    if (r[0] & R1_ILLEGAL) {
        c->info.version = 1;
        return 0;
    }
    if (r[0] != R1_IDLE)
        return init_failed(c, "CMD8", rc, r, err);
    if ((r[3] & 0x0F) != 1 || r[4] != 0xAA)
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s does not accept 3.3 V (CMD8 echo %02X %02X); nothing "
                       "was changed; use another card.", c->bus->name, r[3], r[4]);
    c->info.version = 2;
    return 0;
}

/* ACMD41 until the card leaves idle state. */
static int leave_idle(struct sd_card *c, struct mf_err *err)
{
    uint32_t arg = c->info.version == 2 ? HCS : 0;
    uint64_t deadline = sd_deadline_ms(INIT_TIMEOUT_MS);
    uint8_t r1 = 0xFF;
    for (unsigned i = 0;; i++) {
        int rc = spi_command(c, true, 41, arg, &r1, 1, err);
        if (rc == -1)
            return -1;
        if (rc == 0 && r1 == 0)
            return 0;
        if (rc == 0 && (r1 & R1_ILLEGAL))
            return mf_fail(err, MF_E_CARD,
                           "The card on %s is not an SD card (it rejects ACMD41; MMC cards are "
                           "not supported); nothing was changed; use an SD card.", c->bus->name);
        if (i >= INIT_MAX_POLLS || sd_expired(deadline))
            return init_failed(c, "ACMD41 never finished", rc, &r1, err);
        if (i >= 4)
            mf_sleep_us(1000);
    }
}

static int read_ocr(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[5];
    c->info.sdhc = false;
    int rc = spi_command_retry(c, false, 58, 0, r, sizeof(r), err);
    if (c->info.version == 1)
        return rc == -1 ? -1 : 0;  /* optional on old cards, and always byte addressed */
    if (rc || r[0] != 0)
        return init_failed(c, "CMD58", rc, r, err);
    c->info.sdhc = (r[1] & 0x40) != 0;
    return 0;
}

static int read_register(struct sd_card *c, uint8_t cmd, uint8_t reg[16], struct mf_err *err)
{
    int rc = SD_AGAIN;
    for (int i = 0; i < 3 && rc == SD_AGAIN; i++) {
        rc = read_blocks(c, cmd, 0, reg, 16, 1, err);
        if (rc == 0 && (reg[15] >> 1) != sd_crc7(reg, 15))
            rc = sd_again(err, "register CRC7 mismatch");
    }
    if (rc == SD_AGAIN) {
        char why[256];
        sd_reason(err, why, sizeof(why));
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s failed to send its %s register (%s); nothing was "
                       "changed; take the card out and put it back, then try again.",
                       c->bus->name, cmd == 9 ? "CSD" : "CID", why);
    }
    return rc;
}

static int spi_init(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[1];
    uint8_t cid[16], csd[16];
    c->crc_on = false;
    if (wake_up(c, err) < 0 || go_idle(c, err) < 0 || check_interface(c, err) < 0)
        return -1;
    int rc = spi_command_retry(c, false, 59, 1, r, 1, err);
    if (rc == -1)
        return -1;
    c->crc_on = rc == 0 && r[0] == R1_IDLE;
    if (leave_idle(c, err) < 0 || read_ocr(c, err) < 0)
        return -1;
    rc = spi_command_retry(c, false, 16, SD_BLOCK, r, 1, err);
    if (rc || r[0] != 0)
        return init_failed(c, "CMD16", rc, r, err);
    if (read_register(c, 10, cid, err) < 0 || read_register(c, 9, csd, err) < 0)
        return -1;
    return sd_take_registers(c, cid, csd, err);
}

/* Back to a known state after a failed attempt: finish any transfer, stop
 * any multi-block read, and if the card then does not answer CMD13 cleanly,
 * initialise it again. */
static int spi_recover(struct sd_card *c, struct mf_err *err)
{
    struct mf_err ignored;
    uint8_t r[2];
    if (resync(c, &ignored) == -1 || stop_read(c, &ignored) == -1)
        return mf_fail(err, ignored.code, "%s", ignored.msg);
    int rc = spi_command(c, false, 13, 0, r, sizeof(r), err);
    if (rc == -1)
        return -1;
    if (rc == 0 && r[0] == 0)
        return 0;
    return sd_reinit(c, err);
}

static int spi_deinit(struct sd_card *c, struct mf_err *err)
{
    uint8_t r1;
    int rc0 = spi_command_retry(c, false, 0, 0, &r1, 1, err);
    int rc59 = spi_command_retry(c, false, 59, 0, &r1, 1, err);
    return rc0 == -1 || rc59 == -1 ? -1 : 0;
}

const struct sd_proto sd_spi_proto = {
    .init = spi_init,
    .read = spi_read,
    .write = spi_write,
    .recover = spi_recover,
    .deinit = spi_deinit,
    .max_run = UINT32_MAX,
};
