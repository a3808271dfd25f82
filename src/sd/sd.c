/* Opening a card, the retry policy for sector operations, closing. */
#include "sd/sd_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

void sd_options_init(struct sd_options *opt)
{
    opt->tries = 4;
    opt->multi_block = true;
    opt->max_run = 32;
}

int sd_again(struct mf_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = MF_E_CARD;
    }
    return SD_AGAIN;
}

void sd_reason(const struct mf_err *err, char *buf, size_t size)
{
    size_t n = strnlen(err->msg, size - 1);
    memcpy(buf, err->msg, n);
    buf[n] = '\0';
}

uint64_t sd_deadline_ms(unsigned ms)
{
    return mf_now_us() + (uint64_t)ms * 1000;
}

bool sd_expired(uint64_t deadline)
{
    return mf_now_us() > deadline;
}

uint32_t sd_address(const struct sd_card *c, uint32_t lba)
{
    return c->info.sdhc ? lba : lba * SD_BLOCK;
}

int sd_fail_no_card(struct sd_card *c, struct mf_err *err)
{
    if (c->bus->kind == CARDBUS_SPI)
        return mf_fail(err, MF_E_CARD,
                       "No SD card answers on %s; nothing was changed; check that a card is "
                       "inserted in the socket this bus reaches, then try again.", c->bus->name);
    return mf_fail(err, MF_E_CARD,
                   "No SD card answers on %s in SD mode; nothing was changed; check that a card "
                   "is inserted, and if it was used in SPI mode since the board was powered on "
                   "(a card stays in SPI mode until it loses power), switch the board off and on, "
                   "then try again.", c->bus->name);
}

int sd_take_registers(struct sd_card *c, const uint8_t cid[16], const uint8_t csd[16],
                      struct mf_err *err)
{
    if (sd_decode_registers(cid, csd, &c->info, err) < 0)
        return -1;
    if (c->info.sector_count == 0)
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s reports no capacity; nothing was changed; the card is "
                       "probably faulty.", c->bus->name);
    c->bd.sector_count = c->info.sector_count;
    c->bd.read_only = c->info.write_protected;
    return 0;
}

int sd_reinit(struct sd_card *c, struct mf_err *err)
{
    uint8_t old_cid[16];
    memcpy(old_cid, c->info.cid, sizeof(old_cid));
    c->stats.reinits++;
    if (c->proto->init(c, err) < 0)
        return -1;
    if (memcmp(old_cid, c->info.cid, sizeof(old_cid)))
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s was exchanged for another one during the operation; "
                       "the old card may be partly written; put the original card back and run "
                       "the command again.", c->bus->name);
    return 0;
}

/* ---- sector operations with retries ---- */

/* "sector 7" or "sectors 7-9", for messages. */
static void name_sectors(char *buf, size_t size, uint32_t lba, uint32_t n)
{
    if (n == 1)
        snprintf(buf, size, "sector %u", lba);
    else
        snprintf(buf, size, "sectors %u-%u", lba, lba + n - 1);
}

static int give_up(struct sd_card *c, bool write, uint32_t lba, uint32_t n, struct mf_err *err)
{
    char why[400], which[40];
    sd_reason(err, why, sizeof(why));
    name_sectors(which, sizeof(which), lba, n);
    if (write)
        return mf_fail(err, MF_E_CARD,
                       "Writing %s of the SD card on %s failed %u times (last: %s); the data there "
                       "may be old or partial; check the card and the connection to the board, "
                       "then run the command again.", which, c->bus->name, c->opt.tries, why);
    return mf_fail(err, MF_E_CARD,
                   "Reading %s of the SD card on %s failed %u times (last: %s); nothing was "
                   "changed; check the card and the connection to the board, then try again.",
                   which, c->bus->name, c->opt.tries, why);
}

/* A write whose card could not be brought back: say what may have changed,
 * with what went wrong (the first clause of the recovery's sentence). */
static int interrupted_write(struct sd_card *c, uint32_t lba, uint32_t n, const struct mf_err *why,
                             struct mf_err *err)
{
    char reason[300], which[40];
    sd_reason(why, reason, sizeof(reason));
    reason[strcspn(reason, ";")] = '\0';
    size_t len = strlen(reason);
    if (len && reason[len - 1] == '.')
        reason[len - 1] = '\0';
    name_sectors(which, sizeof(which), lba, n);
    return mf_fail(err, why->code,
                   "Writing %s of the SD card on %s was interrupted (%s); the data there may be "
                   "old or partial; check the card and the connection to the board, then run the "
                   "command again.", which, c->bus->name, reason);
}

/* One run of sectors, as one card operation, tried up to opt.tries times.
 * Returns 0, -1, or SD_AGAIN when every try failed (err: the last reason). */
static int run_once(struct sd_card *c, bool write, uint32_t lba, uint32_t n, uint8_t *rbuf,
                    const uint8_t *wbuf, struct mf_err *err)
{
    for (unsigned attempt = 1;; attempt++) {
        int rc = write ? c->proto->write(c, lba, n, wbuf, err) : c->proto->read(c, lba, n, rbuf, err);
        if (rc <= 0)
            return rc;
        if (attempt >= c->opt.tries)
            return SD_AGAIN;
        c->stats.retries++;
        c->stats.recoveries++;
        struct mf_err rerr;
        mf_err_clear(&rerr);
        if (c->proto->recover(c, &rerr) < 0)
            return write ? interrupted_write(c, lba, n, &rerr, err) : (*err = rerr, -1);
    }
}

/* A run that keeps failing as a whole gets one more chance sector by
 * sector: a noisy bus may pass short operations but never a long one. */
static int run_split(struct sd_card *c, bool write, uint32_t lba, uint32_t n, uint8_t *rbuf,
                     const uint8_t *wbuf, struct mf_err *err)
{
    int rc = run_once(c, write, lba, n, rbuf, wbuf, err);
    if (rc != SD_AGAIN || n == 1)
        return rc == SD_AGAIN ? give_up(c, write, lba, n, err) : rc;
    c->stats.split_runs++;
    for (uint32_t i = 0; i < n; i++) {
        size_t off = (size_t)i * SD_BLOCK;
        rc = run_once(c, write, lba + i, 1, rbuf ? rbuf + off : NULL, wbuf ? wbuf + off : NULL, err);
        if (rc == SD_AGAIN)
            return give_up(c, write, lba + i, 1, err);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int run_sectors(struct sd_card *c, bool write, uint32_t lba, uint32_t count, uint8_t *rbuf,
                       const uint8_t *wbuf, struct mf_err *err)
{
    uint32_t most = c->opt.multi_block ? c->opt.max_run : 1;
    if (most > c->max_run)
        most = c->max_run;
    while (count) {
        uint32_t n = count < most ? count : most;
        if (run_split(c, write, lba, n, rbuf, wbuf, err) < 0)
            return -1;
        size_t bytes = (size_t)n * SD_BLOCK;
        if (write) {
            wbuf += bytes;
            c->stats.sectors_written += n;
        } else {
            rbuf += bytes;
            c->stats.sectors_read += n;
        }
        lba += n;
        count -= n;
    }
    return 0;
}

/* Callers may pass no error record (mf_fail allows it); the code below
 * copies and quotes messages, so it always gets one. */
static struct mf_err *err_or_scratch(struct mf_err *err, struct mf_err *scratch)
{
    mf_err_clear(scratch);
    return err ? err : scratch;
}

static int check_range(struct sd_card *c, uint32_t lba, uint32_t count, struct mf_err *err)
{
    if (lba > c->info.sector_count || count > c->info.sector_count - lba)
        return mf_fail(err, MF_E_CARD,
                       "Sectors %u+%u are past the end of the SD card (%u sectors); nothing was "
                       "changed; the filesystem does not match the card, check it on a computer.",
                       lba, count, c->info.sector_count);
    return 0;
}

int sd_read_sectors(struct sd_card *card, uint32_t lba, uint32_t count, uint8_t *buf,
                    struct mf_err *err)
{
    struct mf_err scratch;
    err = err_or_scratch(err, &scratch);
    if (check_range(card, lba, count, err) < 0)
        return -1;
    return run_sectors(card, false, lba, count, buf, NULL, err);
}

int sd_write_sectors(struct sd_card *card, uint32_t lba, uint32_t count, const uint8_t *buf,
                     struct mf_err *err)
{
    struct mf_err scratch;
    err = err_or_scratch(err, &scratch);
    if (card->info.write_protected)
        return mf_fail(err, MF_E_CARD,
                       "The SD card on %s is write-protected (%s); nothing was written.", card->bus->name,
                       card->info.perm_write_protect ? "permanently, by its CSD register"
                                                     : "by its CSD register");
    if (check_range(card, lba, count, err) < 0)
        return -1;
    return run_sectors(card, true, lba, count, NULL, buf, err);
}

/* ---- open / close ---- */

int sd_open(struct cardbus *bus, struct sd_card **out, struct mf_err *err)
{
    struct sd_options opt;
    sd_options_init(&opt);
    return sd_open_opts(bus, &opt, out, err);
}

static void card_free(struct sd_card *c)
{
    spi_io_free(&c->io);
    free(c);
}

int sd_open_opts(struct cardbus *bus, const struct sd_options *opt, struct sd_card **out,
                 struct mf_err *err)
{
    struct mf_err scratch;
    err = err_or_scratch(err, &scratch);
    struct sd_card *c = calloc(1, sizeof(*c));
    if (!c)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    c->bus = bus;
    c->opt = *opt;
    if (c->opt.tries < 1)
        c->opt.tries = 1;
    if (c->opt.max_run < 1)
        c->opt.max_run = 1;
    c->proto = bus->kind == CARDBUS_SPI ? &sd_spi_proto : &sd_native_proto;
    c->max_run = c->proto->max_run;
    if (bus->kind == CARDBUS_SDIO)
        sd_native_attach(c);
    c->info.mode = bus->kind;
    c->latency_guess = 4;
    sd_blockdev_setup(c);
    if (bus->kind == CARDBUS_SPI && spi_io_init(&c->io, bus, err) < 0) {
        card_free(c);
        return -1;
    }
    if (c->proto->init(c, err) < 0) {
        card_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

const struct sd_card_info *sd_card_info(const struct sd_card *card)
{
    return &card->info;
}

const struct sd_stats *sd_card_stats(const struct sd_card *card)
{
    return &card->stats;
}

int sd_close(struct sd_card *card, struct mf_err *err)
{
    struct mf_err scratch;
    if (!card)
        return 0;
    err = err_or_scratch(err, &scratch);
    int rc = card->proto->deinit(card, err);
    card_free(card);
    return rc < 0 ? -1 : 0;
}
