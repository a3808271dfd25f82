/* SD card protocol in SD (native bus) mode, on the card bus's sd_command /
 * sd_read_block / sd_write_block, which Klipper provides as sdio_*.
 *
 * Short responses are the 32-bit payload MSB first; long ones the register
 * bytes 0..14 with CRC7 << 1 (no end bit) in byte 15, as an STM32 reports
 * them.  Transfers are single blocks (CMD17/CMD24): the MCU has a one-block
 * buffer.  On a bus that pipelines (cardbus.h: sd_batch) a run of
 * blocks goes as one batch, so the line never waits for the card between
 * them. */
#include "sd/sd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sd/sd_crc.h"
#include "util/clock.h"

enum {
    SDIO_OK = 0,
    SDIO_CMD_TIMEOUT = 3,
    SDIO_CRC_FAIL = 4,
    WAIT_NONE = 0,
    WAIT_SHORT = 1,
    WAIT_LONG = 2,
    IDENT_HZ = 400000,
    INIT_TIMEOUT_MS = 2000,
    INIT_MAX_POLLS = 2000,
    PROGRAM_TIMEOUT_MS = 1000,
    INIT_ATTEMPTS = 3,
    STATE_TRAN = 4,
    STATE_DATA = 5,
    STATE_RCV = 6,
    STATE_PRG = 7,
    POLLS_START = 2,        /* CMD13s after each pipelined write, at first */
    POLLS_MAX = 8,
    BATCH_RUN = 32,         /* sectors per pipelined batch */
};

#define IF_COND_ARG 0x1AAu
/* Busy bit, HCS, S18R and the 3.2-3.3 V window, as Klipper asks. */
#define OP_COND_V2 0xC1100000u
/* Old cards: the voltage window only (an all-zero window is a mere query). */
#define OP_COND_V1 0x00100000u

/* Card status bits. */
#define ST_WP_VIOLATION (1u << 26)
#define ST_READY_FOR_DATA (1u << 8)
#define ST_ILLEGAL_COMMAND (1u << 22)
/* Out of range, address, block length, erase sequence/param, WP violation,
 * lock/unlock failed, CRC, illegal, ECC, CC, error, CSD overwrite, AKE. */
#define ST_ERRORS 0xFDF90008u

static const char *sdio_error_name(int e)
{
    static const char *const names[] = {
        "no error", "a bus error", "a timeout", "no response to the command",
        "a CRC mismatch", "a response to the wrong command", "a wrong block size",
        "a data timeout", "a receive overrun", "a transmit underrun", "no buffer on the MCU",
    };
    return e >= 0 && e < (int)(sizeof(names) / sizeof(names[0])) ? names[e] : "an unknown error";
}

static uint32_t word_of(const uint8_t r[16])
{
    return (uint32_t)r[0] << 24 | (uint32_t)r[1] << 16 | (uint32_t)r[2] << 8 | r[3];
}

/* One command; a lost reply becomes SD_AGAIN. *e gets the sdio error. */
static int command(struct sd_card *c, uint8_t cmd, uint32_t arg, int wait, uint8_t r[16], int *e,
                   struct mf_err *err)
{
    *e = SDIO_OK;
    memset(r, 0, 16);
    int rc = c->bus->ops->sd_command(c->bus, cmd, arg, wait, r, e, err);
    if (rc == CARDBUS_LOST)
        return sd_again(err, "a reply from the board was lost");
    return rc < 0 ? -1 : 0;
}

/* A command that must answer without an sdio error. */
static int command_ok(struct sd_card *c, uint8_t cmd, uint32_t arg, int wait, uint8_t r[16],
                      struct mf_err *err)
{
    int e, rc = command(c, cmd, arg, wait, r, &e, err);
    if (rc)
        return rc;
    if (e != SDIO_OK)
        return sd_again(err, "CMD%u got %s", cmd, sdio_error_name(e));
    return 0;
}

static int set_speed(struct sd_card *c, uint32_t hz, struct mf_err *err)
{
    if (!c->bus->ops->sd_set_speed)
        return 0;
    int rc = c->bus->ops->sd_set_speed(c->bus, hz, err);
    if (rc == CARDBUS_LOST)
        return sd_again(err, "a reply from the board was lost");
    return rc < 0 ? -1 : 0;
}

/* CMD2/CMD9: a long response whose byte 15 is CRC7 << 1. */
static int read_register(struct sd_card *c, uint8_t cmd, uint32_t arg, uint8_t reg[16],
                         struct mf_err *err)
{
    uint8_t r[16];
    int rc = command_ok(c, cmd, arg, WAIT_LONG, r, err);
    if (rc)
        return rc;
    if ((r[15] & 0xFE) != (uint8_t)(sd_crc7(r, 15) << 1))
        return sd_again(err, "the %s register arrived damaged", cmd == 9 ? "CSD" : "CID");
    memcpy(reg, r, 15);
    reg[15] = r[15] | 1;  /* the same form as in SPI mode */
    return 0;
}

/* CMD8: version 2 cards echo the argument, older ones stay silent. */
static int check_interface(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[16];
    int e = SDIO_OK, rc = 0;
    for (int i = 0; i < 3; i++) {
        rc = command(c, 8, IF_COND_ARG, WAIT_SHORT, r, &e, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && (e == SDIO_OK || e == SDIO_CMD_TIMEOUT))
            break;
    }
    if (rc == 0 && e == SDIO_CMD_TIMEOUT) {
        c->info.version = 1;
        return 0;
    }
    if (rc || e != SDIO_OK)
        return rc ? rc : sd_again(err, "CMD8 got %s", sdio_error_name(e));
    if ((r[2] & 0x0F) != 1 || r[3] != (IF_COND_ARG & 0xFF))
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s does not accept 3.3 V (CMD8 echo %02X %02X); nothing "
                       "was changed; use another card.", c->bus->name, r[2], r[3]);
    c->info.version = 2;
    return 0;
}

/* ACMD41 until the card is powered up.  *silent: it never answered CMD55. */
static int leave_idle(struct sd_card *c, bool *silent, struct mf_err *err)
{
    uint32_t arg = c->info.version == 2 ? OP_COND_V2 : OP_COND_V1;
    uint64_t deadline = sd_deadline_ms(INIT_TIMEOUT_MS);
    uint8_t r[16];
    int e;
    *silent = true;
    for (unsigned i = 0;; i++) {
        int rc = command(c, 55, 0, WAIT_SHORT, r, &e, err);
        if (rc < 0)
            return -1;
        if (rc == 0 && e == SDIO_OK) {
            *silent = false;
            rc = command(c, 41, arg, WAIT_SHORT, r, &e, err);
            if (rc < 0)
                return -1;
            /* R3 carries no CRC: the MCU reports a CRC failure. */
            uint32_t ocr = word_of(r);
            if (rc == 0 && (e == SDIO_OK || e == SDIO_CRC_FAIL) && (ocr & (1u << 31))) {
                c->info.sdhc = c->info.version == 2 && (ocr & (1u << 30));
                return 0;
            }
        }
        if (*silent && i >= 2)
            return sd_again(err, "no answer to CMD55");
        if (i >= INIT_MAX_POLLS || sd_expired(deadline))
            return sd_again(err, "ACMD41 never finished");
        if (i >= 4)
            mf_sleep_us(1000);
    }
}

/* R1 of CMD3 (R6): RCA, then status bits 23, 22, 19 packed in 15..13. */
static int publish_address(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[16];
    int rc = command_ok(c, 3, 0, WAIT_SHORT, r, err);
    if (rc)
        return rc;
    c->rca = (uint16_t)(r[0] << 8 | r[1]);
    if ((r[2] & 0xE0) || c->rca == 0)
        return sd_again(err, "CMD3 reported status 0x%02X%02X", r[2], r[3]);
    return 0;
}

/* A short response with a card status free of error bits. */
static int status_command(struct sd_card *c, uint8_t cmd, uint32_t arg, struct mf_err *err)
{
    uint8_t r[16];
    int rc = command_ok(c, cmd, arg, WAIT_SHORT, r, err);
    if (rc)
        return rc;
    if (word_of(r) & ST_ERRORS)
        return sd_again(err, "CMD%u reported status 0x%08X", cmd, word_of(r));
    return 0;
}

static int init_once(struct sd_card *c, bool *silent, struct mf_err *err)
{
    uint8_t r[16], cid[16], csd[16];
    int rc;
    *silent = false;
    c->rca = 0;
    if ((rc = set_speed(c, IDENT_HZ, err)) != 0 ||
        (rc = command(c, 0, 0, WAIT_NONE, r, &(int){0}, err)) != 0 ||
        (rc = check_interface(c, err)) != 0 || (rc = leave_idle(c, silent, err)) != 0 ||
        (rc = read_register(c, 2, 0, cid, err)) != 0 || (rc = publish_address(c, err)) != 0 ||
        (rc = read_register(c, 9, (uint32_t)c->rca << 16, csd, err)) != 0 ||
        (rc = status_command(c, 7, (uint32_t)c->rca << 16, err)) != 0 ||
        (rc = set_speed(c, SD_MODE_TRANSFER_HZ, err)) != 0 ||
        (rc = status_command(c, 16, SD_BLOCK, err)) != 0)
        return rc;
    return sd_take_registers(c, cid, csd, err) < 0 ? -1 : 0;
}

static int native_init(struct sd_card *c, struct mf_err *err)
{
    bool silent = false;
    for (int attempt = 0; attempt < INIT_ATTEMPTS; attempt++) {
        int rc = init_once(c, &silent, err);
        if (rc <= 0)
            return rc;
    }
    if (silent)
        return sd_fail_no_card(c, err);
    char why[300];
    sd_reason(err, why, sizeof(why));
    return mf_fail(err, MF_E_CARD,
                   "The SD card on %s could not be initialised in SD mode (%s); nothing was "
                   "changed; take the card out and put it back, or power the board off and on, "
                   "then try again.", c->bus->name, why);
}

/* A card status read after writing: *done once the card is back in tran
 * state and ready for data.  Error bits in `expected` are not errors (the
 * card refused a command while it was programming). */
static int written_status(struct sd_card *c, uint32_t st, uint32_t expected, bool *done,
                          struct mf_err *err)
{
    uint32_t state = (st >> 9) & 0x0F;
    *done = false;
    if (st & ST_WP_VIOLATION)
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s refused the write because it is write-protected; "
                       "nothing was written.", c->bus->name);
    if (st & ST_ERRORS & ~expected)
        return sd_again(err, "the card reported status 0x%08X after writing", st);
    if (state == STATE_TRAN && (st & ST_READY_FOR_DATA)) {
        *done = true;
        return 0;
    }
    if (state != STATE_PRG && state != STATE_RCV && state != STATE_TRAN)
        return sd_again(err, "the card is in state %u after writing", state);
    return 0;
}

/* CMD13 until the card is back in tran state and ready for data. */
static int wait_programmed(struct sd_card *c, uint32_t expected, struct mf_err *err)
{
    uint64_t deadline = sd_deadline_ms(PROGRAM_TIMEOUT_MS);
    uint8_t r[16];
    for (;;) {
        int rc = command_ok(c, 13, (uint32_t)c->rca << 16, WAIT_SHORT, r, err);
        if (rc)
            return rc;
        bool done;
        if ((rc = written_status(c, word_of(r), expected, &done, err)) != 0 || done)
            return rc;
        if (sd_expired(deadline))
            return sd_again(err, "the card was still programming after %u ms", PROGRAM_TIMEOUT_MS);
    }
}

/* One block through the MCU's buffer; a write waits until programmed. */
static int block_io(struct sd_card *c, bool write, uint32_t lba, uint8_t *rbuf, const uint8_t *wbuf,
                    struct mf_err *err)
{
    int e = SDIO_OK;
    uint32_t addr = sd_address(c, lba);
    int rc = write ? c->bus->ops->sd_write_block(c->bus, 24, addr, wbuf, &e, err)
                   : c->bus->ops->sd_read_block(c->bus, 17, addr, rbuf, &e, err);
    if (rc == CARDBUS_LOST)
        return sd_again(err, "a reply from the board was lost");
    if (rc < 0)
        return -1;
    if (e != SDIO_OK)
        return sd_again(err, "%s got %s", write ? "writing" : "reading", sdio_error_name(e));
    return write ? wait_programmed(c, 0, err) : 0;
}

/* ---- pipelined runs (buses with batches: Klipper's sdio_*) ---- */

static int lost_reply(struct mf_err *err)
{
    return sd_again(err, "a reply from the board was lost");
}

/* The run's blocks read in one batch: each CMD17 followed by the reads of
 * the MCU's buffer that hold its block.  A block with a lost reply is read
 * again, whole, with the others so read, as long as each batch gets some
 * through; the rest are done. */
static int batch_read(struct sd_card *c, uint32_t lba, uint32_t count, uint8_t *buf,
                      struct mf_err *err)
{
    struct sd_step *st = calloc(count, sizeof(*st));
    uint32_t *todo = calloc(count, sizeof(*todo)), left = count;
    int rc = st && todo ? 0 : mf_fail(err, MF_E_FAIL, "Out of memory.");
    for (uint32_t i = 0; rc == 0 && i < count; i++)
        todo[i] = i;
    while (rc == 0 && left) {
        for (uint32_t j = 0; j < left; j++)
            st[j] = (struct sd_step){ .kind = SD_STEP_READ, .cmd = 17, .arg = sd_address(c, lba + todo[j]),
                                      .rbuf = buf + (size_t)todo[j] * SD_BLOCK };
        int b = c->bus->ops->sd_batch(c->bus, st, left, err);
        if (b < 0 && b != CARDBUS_LOST) {
            rc = -1;
            break;
        }
        uint32_t again = 0;
        for (uint32_t j = 0; j < left && rc == 0; j++) {
            if (st[j].lost)
                todo[again++] = todo[j];
            else if (st[j].sdio_error != SDIO_OK)
                rc = sd_again(err, "reading got %s", sdio_error_name(st[j].sdio_error));
        }
        if (rc == 0 && again == left)
            rc = lost_reply(err);
        left = again;
    }
    free(st);
    free(todo);
    return rc;
}

static size_t queue_polls(const struct sd_card *c, struct sd_step *st)
{
    for (unsigned i = 0; i < c->polls; i++)
        st[i] = (struct sd_step){ .kind = SD_STEP_COMMAND, .cmd = 13, .arg = (uint32_t)c->rca << 16,
                                  .wait = WAIT_SHORT };
    return c->polls;
}

/* Sectors [from, to) of the run: each one's data goes into the MCU's buffer
 * while the card still programs the one before, then come the CMD13s for
 * that one, then its CMD24; the last one's CMD13s close the batch. */
static size_t build_writes(const struct sd_card *c, uint32_t lba, uint32_t from, uint32_t to,
                           const uint8_t *buf, struct sd_step *st)
{
    size_t n = 0;
    for (uint32_t i = from; i < to; i++) {
        st[n++] = (struct sd_step){ .kind = SD_STEP_FILL, .wbuf = buf + (size_t)i * SD_BLOCK };
        if (i > from)
            n += queue_polls(c, st + n);
        st[n++] = (struct sd_step){ .kind = SD_STEP_WRITE, .cmd = 24, .arg = sd_address(c, lba + i) };
    }
    return n + queue_polls(c, st + n);
}

/* What a write batch showed. */
struct write_walk {
    uint32_t next;        /* first sector not seen programmed cleanly */
    bool ahead;           /* from next on, nothing is known for sure */
    bool lost;            /* ... because a reply was lost (else: the card was slower) */
    bool pending;         /* the last sector may still be programming */
    unsigned needed;      /* most CMD13s a sector needed to be seen ready */
};

/* A sector counts only once a CMD13 saw the card ready after it, before the
 * next CMD24, and no status in between was lost: a CMD24 the card took
 * earlier carries (and the MCU drops) the status that reported the
 * programming, and a lost status may have reported an error. */
static int walk_writes(struct sd_card *c, const struct sd_step *st, size_t n, uint32_t from,
                       struct write_walk *w, struct mf_err *err)
{
    bool open = false;    /* written, not yet seen programmed */
    bool blind = false;   /* a status since the open one's CMD24 was lost */
    unsigned polls = 0;
    *w = (struct write_walk){ .next = from };
    for (size_t i = 0; i < n; i++) {
        w->lost |= st[i].lost;
        if (st[i].kind == SD_STEP_WRITE) {
            if (open || w->ahead || st[i].lost) {
                w->ahead = true;
                continue;
            }
            if (st[i].sdio_error != SDIO_OK)
                return sd_again(err, "writing got %s", sdio_error_name(st[i].sdio_error));
            open = true;
            blind = false;
            polls = 0;
        } else if (st[i].kind == SD_STEP_COMMAND) {
            bool done;
            if (st[i].lost) {
                blind = true;
                continue;
            }
            if (st[i].sdio_error != SDIO_OK)
                return sd_again(err, "CMD13 got %s", sdio_error_name(st[i].sdio_error));
            int rc = written_status(c, word_of(st[i].resp), w->ahead ? ST_ILLEGAL_COMMAND : 0, &done, err);
            if (rc)
                return rc;
            polls++;
            if (done && open && !blind && !w->ahead) {
                open = false;
                w->next++;
                w->needed = polls > w->needed ? polls : w->needed;
            }
        }
    }
    if (open && blind)
        w->ahead = true;
    w->pending = open && !w->ahead;
    return 0;
}

/* The run in batches.  When the pipeline ran ahead of a card slower to
 * program than expected, or a reply was lost, wait for the card, write the
 * first sector not seen programmed on its own, and go on from there (with
 * one more CMD13 per sector if the card was slow). */
static int batch_write(struct sd_card *c, uint32_t lba, uint32_t count, const uint8_t *buf,
                       struct mf_err *err)
{
    struct sd_step *st = calloc((size_t)count * (2 + POLLS_MAX) + POLLS_MAX, sizeof(*st));
    if (!st)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    int rc = 0;
    for (uint32_t from = 0; rc == 0 && from < count;) {
        size_t n = build_writes(c, lba, from, count, buf, st);
        struct write_walk w;
        int b = c->bus->ops->sd_batch(c->bus, st, n, err);
        if (b < 0 && b != CARDBUS_LOST) {
            rc = -1;
            break;
        }
        if ((rc = walk_writes(c, st, n, from, &w, err)) != 0)
            break;
        if (w.ahead) {
            if (!w.lost && c->polls < POLLS_MAX)
                c->polls++;
            rc = wait_programmed(c, ST_ILLEGAL_COMMAND, err);
            if (rc == 0)
                rc = block_io(c, true, lba + w.next, NULL, buf + (size_t)w.next * SD_BLOCK, err);
            from = w.next + 1;
        } else {
            if (w.needed)
                c->polls = (uint8_t)w.needed;  /* as many as the card needed, no more */
            rc = w.pending ? wait_programmed(c, 0, err) : 0;
            from = count;
        }
    }
    free(st);
    return rc;
}

void sd_native_attach(struct sd_card *c)
{
    c->polls = c->opt.write_polls ? c->opt.write_polls : POLLS_START;
    if (c->polls > POLLS_MAX)
        c->polls = POLLS_MAX;
    if (c->bus->ops->sd_batch)
        c->max_run = BATCH_RUN;
}

unsigned sd_card_write_polls(const struct sd_card *card)
{
    return card->polls;
}

static int native_read(struct sd_card *c, uint32_t lba, uint32_t count, uint8_t *buf,
                       struct mf_err *err)
{
    if (c->bus->ops->sd_batch)
        return batch_read(c, lba, count, buf, err);
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = block_io(c, false, lba + i, buf + (size_t)i * SD_BLOCK, NULL, err);
    return rc;
}

static int native_write(struct sd_card *c, uint32_t lba, uint32_t count, const uint8_t *buf,
                        struct mf_err *err)
{
    if (c->bus->ops->sd_batch)
        return batch_write(c, lba, count, buf, err);
    int rc = 0;
    for (uint32_t i = 0; i < count && rc == 0; i++)
        rc = block_io(c, true, lba + i, NULL, buf + (size_t)i * SD_BLOCK, err);
    return rc;
}

/* Back to tran state: wait out programming, end a stuck transfer, and if
 * the card does not answer sensibly, initialise it again. */
static int native_recover(struct sd_card *c, struct mf_err *err)
{
    uint64_t deadline = sd_deadline_ms(PROGRAM_TIMEOUT_MS);
    uint8_t r[16];
    int e;
    while (!sd_expired(deadline)) {
        int rc = command(c, 13, (uint32_t)c->rca << 16, WAIT_SHORT, r, &e, err);
        if (rc < 0)
            return -1;
        if (rc || e != SDIO_OK)
            break;
        uint32_t state = (word_of(r) >> 9) & 0x0F;
        if (state == STATE_TRAN)
            return 0;
        if (state == STATE_DATA || state == STATE_RCV) {
            if (command(c, 12, 0, WAIT_SHORT, r, &e, err) < 0)
                return -1;
        } else if (state != STATE_PRG) {
            break;
        }
    }
    return sd_reinit(c, err);
}

static int native_deinit(struct sd_card *c, struct mf_err *err)
{
    uint8_t r[16];
    int e;
    return command(c, 0, 0, WAIT_NONE, r, &e, err) < 0 ? -1 : 0;
}

const struct sd_proto sd_native_proto = {
    .init = native_init,
    .read = native_read,
    .write = native_write,
    .recover = native_recover,
    .deinit = native_deinit,
    .max_run = 1,
};
