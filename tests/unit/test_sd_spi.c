/* The host's SD code in SPI mode, on the card model through an in-process
 * card bus; every byte written is checked in the image file itself. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cardbus_model.h"
#include "sd/sd.h"

#define SECTORS 8192u  /* 4 MiB: expressible exactly by both CSD versions */

static const char *type_name(enum sdcard_type t)
{
    return t == SDCARD_V1_SDSC ? "v1" : t == SDCARD_V2_SDSC ? "v2" : "sdhc";
}

/* Read [lba, lba+count) through the card and compare with the file. */
static void check_read(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count)
{
    uint8_t *got = malloc((size_t)count * 512), *want = malloc((size_t)count * 512);
    struct mf_err err;
    int rc = sd_read_sectors(sd, lba, count, got, &err);
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  read %u+%u: %s\n", lba, count, err.msg);
    CHECK_EQ(model_rig_file_read(rig, lba, count, want), 0);
    CHECK_MEM(got, want, (size_t)count * 512);
    free(got);
    free(want);
}

/* Write fresh bytes to [lba, lba+count) and find them in the file. */
static void check_write(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count,
                        uint32_t seed)
{
    uint8_t *data = malloc((size_t)count * 512), *file = malloc((size_t)count * 512);
    model_fill(data, (size_t)count * 512, seed);
    struct mf_err err;
    int rc = sd_write_sectors(sd, lba, count, data, &err);
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  write %u+%u: %s\n", lba, count, err.msg);
    CHECK_EQ(model_rig_file_read(rig, lba, count, file), 0);
    CHECK_MEM(file, data, (size_t)count * 512);
    free(data);
    free(file);
}

static struct sd_card *open_card(struct model_rig *rig)
{
    struct sd_card *sd = NULL;
    struct mf_err err;
    if (sd_open(rig->bus, &sd, &err) < 0) {
        fprintf(stderr, "  sd_open: %s\n", err.msg);
        return NULL;
    }
    return sd;
}

static void one_configuration(enum sdcard_type type, uint8_t ncr, uint16_t latency,
                              uint16_t chunk)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.type = type;
    cfg.ncr = ncr;
    cfg.read_latency = latency;
    cfg.write_busy = (uint16_t)(latency * 3);
    cfg.init_polls = ncr;
    cfg.mid = 0x1B;
    memcpy(cfg.oid, "SM", 3);
    memcpy(cfg.pnm, "EB1QT", 6);
    cfg.prv = 0x30;
    cfg.psn = 0xCAFE0000u + ncr;
    cfg.year = 2021;
    cfg.month = 11;
    struct model_rig rig;
    if (model_rig_open(&rig, "sdspi", SECTORS, &cfg, CARDBUS_SPI, chunk) < 0) {
        CHECK(!"rig");
        return;
    }
    struct sd_card *sd = open_card(&rig);
    CHECK(sd != NULL);
    if (!sd) {
        fprintf(stderr, "  (type %s ncr %u latency %u chunk %u)\n", type_name(type), ncr, latency,
                chunk);
        model_rig_close(&rig);
        return;
    }
    const struct sd_card_info *info = sd_card_info(sd);
    CHECK_EQ(info->mode, CARDBUS_SPI);
    CHECK_EQ(info->version, type == SDCARD_V1_SDSC ? 1 : 2);
    CHECK_EQ(info->sdhc, type == SDCARD_SDHC);
    CHECK_EQ(info->csd_structure, type == SDCARD_SDHC ? 1 : 0);
    CHECK_EQ(info->sector_count, SECTORS);
    CHECK_EQ(info->sector_count, sdcard_sector_count(rig.card));
    CHECK_EQ(info->capacity_bytes, (uint64_t)SECTORS * 512);
    CHECK_EQ(info->manufacturer_id, 0x1B);
    CHECK_STR(info->oem, "SM");
    CHECK_STR(info->product, "EB1QT");
    CHECK_EQ(info->revision_major, 3);
    CHECK_EQ(info->serial, 0xCAFE0000u + ncr);
    CHECK_EQ(info->year, 2021);
    CHECK_EQ(info->month, 11);
    CHECK(!info->write_protected);
    CHECK(!sd_card_blockdev(sd)->read_only);
    char line[200];
    sd_describe(info, line, sizeof(line));
    CHECK(strstr(line, "Samsung EB1QT rev 3.0, ") != NULL);
    CHECK(strstr(line, " 4.0 MiB (8192 sectors), made 2021-11") != NULL);

    check_read(&rig, sd, 0, 1);
    check_read(&rig, sd, SECTORS - 1, 1);
    check_read(&rig, sd, 100, 5);
    check_read(&rig, sd, SECTORS - 3, 3);  /* a multi-block read that ends at the last sector */
    check_write(&rig, sd, 7, 1, ncr);
    check_write(&rig, sd, 200, 4, latency);
    check_write(&rig, sd, SECTORS - 2, 2, chunk);
    check_read(&rig, sd, 5, 4);

    const struct cardbus_model_stats *bs = cardbus_model_stats(rig.bus);
    CHECK_EQ(bs->oversize_ops, 0);
    CHECK(chunk == 0 || bs->max_op_len <= chunk);
    CHECK_EQ(sd_card_stats(sd)->retries, 0);
    struct mf_err err;
    CHECK_EQ(sd_close(sd, &err), 0);
    model_rig_close(&rig);
}

/* Every card type, Ncr 1..8, several read latencies and window sizes. */
static void test_configurations(void)
{
    const enum sdcard_type types[] = { SDCARD_V1_SDSC, SDCARD_V2_SDSC, SDCARD_SDHC };
    for (int t = 0; t < 3; t++) {
        for (uint8_t ncr = 1; ncr <= 8; ncr++)
            one_configuration(types[t], ncr, 2, 55);
        const uint16_t latencies[] = { 0, 1, 7, 40, 130, 700 };
        for (int l = 0; l < 6; l++)
            one_configuration(types[t], 3, latencies[l], 56);
        const uint16_t chunks[] = { 6, 7, 16, 32, 64, 0 };
        for (int c = 0; c < 6; c++)
            one_configuration(types[t], 8, 9, chunks[c]);
    }
}

/* Klipper's window limit is never exceeded, whatever the operation. */
static void test_window_limit(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.read_latency = 300;
    cfg.write_busy = 900;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdchunk", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    CHECK(sd != NULL);
    if (sd) {
        check_write(&rig, sd, 10, 20, 5);
        check_read(&rig, sd, 0, 40);
        sdcard_set_corrupt_reads(rig.card, 1);
        check_read(&rig, sd, 3, 3);
        struct mf_err err;
        sd_close(sd, &err);
    }
    const struct cardbus_model_stats *bs = cardbus_model_stats(rig.bus);
    CHECK_EQ(bs->oversize_ops, 0);
    CHECK_EQ(bs->max_op_len, 55);
    model_rig_close(&rig);

    /* A bus whose windows cannot hold a command frame is refused. */
    CHECK_EQ(model_rig_open(&rig, "sdchunk", SECTORS, &cfg, CARDBUS_SPI, 5), 0);
    struct mf_err err;
    CHECK_EQ(sd_open(rig.bus, &sd, &err), -1);
    CHECK(strstr(err.msg, "needs 6") != NULL);
    model_rig_close(&rig);
}

/* Runs of sectors use CMD18/CMD25; single sectors and the option use 17/24. */
static void test_multi_block_commands(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdmulti", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    sdcard_reset_stats(rig.card);
    check_read(&rig, sd, 64, 16);
    check_write(&rig, sd, 64, 16, 99);
    const struct sdcard_stats *cs = sdcard_stats(rig.card);
    CHECK_EQ(cs->cmd_count[18], 1);
    CHECK_EQ(cs->cmd_count[17], 0);
    CHECK_EQ(cs->cmd_count[25], 1);
    CHECK_EQ(cs->cmd_count[24], 0);
    CHECK_EQ(cs->acmd_count[23], 1);
    CHECK_EQ(cs->sectors_written, 16);
    CHECK(cs->sectors_read >= 16);
    check_read(&rig, sd, 3, 1);
    CHECK_EQ(cs->cmd_count[17], 1);
    struct mf_err err;
    sd_close(sd, &err);

    struct sd_options opt;
    sd_options_init(&opt);
    opt.multi_block = false;
    CHECK_EQ(sd_open_opts(rig.bus, &opt, &sd, &err), 0);
    sdcard_reset_stats(rig.card);
    check_read(&rig, sd, 64, 8);
    check_write(&rig, sd, 300, 8, 7);
    CHECK_EQ(cs->cmd_count[17], 8);
    CHECK_EQ(cs->cmd_count[24], 8);
    CHECK_EQ(cs->cmd_count[18] + cs->cmd_count[25], 0);
    CHECK_EQ(cs->cmd_count[13], 8);  /* status after every write */
    sd_close(sd, &err);
    model_rig_close(&rig);
}

/* A long read through the block device, as the FAT layer does it. */
static void test_blockdev(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.type = SDCARD_V2_SDSC;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdbd", SECTORS, &cfg, CARDBUS_SPI, 56), 0);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    struct blockdev *bd = sd_card_blockdev(sd);
    CHECK_EQ(bd->sector_count, SECTORS);
    uint32_t n = 150;
    uint8_t *data = malloc(n * 512), *back = malloc(n * 512), *file = malloc(n * 512);
    model_fill(data, n * 512, 4242);
    struct mf_err err;
    CHECK_EQ(blockdev_write(bd, 1000, n, data, &err), 0);
    CHECK_EQ(blockdev_read(bd, 1000, n, back, &err), 0);
    CHECK_MEM(back, data, n * 512);
    CHECK_EQ(model_rig_file_read(&rig, 1000, n, file), 0);
    CHECK_MEM(file, data, n * 512);
    CHECK_EQ(bd->sectors_written, n);
    CHECK_EQ(blockdev_read(bd, SECTORS - 1, 2, back, &err), -1);  /* past the end */
    blockdev_close(bd);  /* does nothing: the card owns it */
    CHECK_EQ(sd_close(sd, &err), 0);
    free(data);
    free(back);
    free(file);
    model_rig_close(&rig);
}

static void no_card_case(enum cardbus_kind kind)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.present = false;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdnone", SECTORS, &cfg, kind, 55), 0);
    struct sd_card *sd = NULL;
    struct mf_err err;
    CHECK_EQ(sd_open(rig.bus, &sd, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, kind == CARDBUS_SPI ? "No SD card answers on model SPI bus;"
                                              : "No SD card answers on model SDIO bus in SD mode;"));
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
    CHECK(sd == NULL);

    /* Inserted later, it works. */
    sdcard_set_present(rig.card, true);
    CHECK_EQ(sd_open(rig.bus, &sd, &err), 0);
    if (sd)
        check_read(&rig, sd, 0, 2);
    sd_close(sd, &err);
    model_rig_close(&rig);
}

/* The two cases below hold for both bus kinds. */
static void test_no_card(void)
{
    no_card_case(CARDBUS_SPI);
    no_card_case(CARDBUS_SDIO);
}

static uint64_t file_hash(struct model_rig *rig)
{
    uint8_t *all = malloc((size_t)SECTORS * 512);
    uint64_t h = 1469598103934665603ull;
    if (model_rig_file_read(rig, 0, SECTORS, all) == 0)
        for (size_t i = 0; i < (size_t)SECTORS * 512; i++)
            h = (h ^ all[i]) * 1099511628211ull;
    free(all);
    return h;
}

static void expect_refused(struct sd_card *sd, uint32_t lba, uint32_t count)
{
    uint8_t data[4 * 512];
    model_fill(data, sizeof(data), lba);
    struct mf_err err;
    CHECK_EQ(sd_write_sectors(sd, lba, count, data, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "write-protected") != NULL);
    CHECK(strstr(err.msg, "nothing was written") != NULL);
}

static void write_protect_case(enum cardbus_kind kind)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.write_protect = SDCARD_WP_TEMPORARY;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdwp", SECTORS, &cfg, kind, 55), 0);
    uint64_t before = file_hash(&rig);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    CHECK(sd_card_info(sd)->write_protected);
    CHECK(sd_card_info(sd)->tmp_write_protect);
    struct blockdev *bd = sd_card_blockdev(sd);
    CHECK(bd->read_only);
    uint8_t data[512];
    struct mf_err err;
    CHECK_EQ(blockdev_write(bd, 5, 1, data, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    expect_refused(sd, 5, 1);
    check_read(&rig, sd, 0, 3);  /* reading still works */
    struct mf_err cerr;
    sd_close(sd, &cerr);

    /* Protection the host did not see in the CSD: the card itself refuses. */
    sdcard_set_write_protect(rig.card, SDCARD_WP_NONE);
    sd = open_card(&rig);
    CHECK(sd != NULL);
    if (sd) {
        sdcard_set_write_protect(rig.card, SDCARD_WP_PERMANENT);
        expect_refused(sd, 9, 1);
        expect_refused(sd, 20, 4);
        CHECK(sdcard_stats(rig.card)->write_rejects >= 2);
        sd_close(sd, &cerr);
    }
    CHECK_EQ(sdcard_stats(rig.card)->sectors_written, 0);
    CHECK(file_hash(&rig) == before);
    model_rig_close(&rig);
}

static void test_write_protect(void)
{
    write_protect_case(CARDBUS_SPI);
    write_protect_case(CARDBUS_SDIO);
}

/* Garbled data in either direction, write errors and ignored commands are
 * retried; the data ends up right. */
static void test_card_faults(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdfault", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    const struct sd_stats *st = sd_card_stats(sd);
    sdcard_set_corrupt_reads(rig.card, 2);
    check_read(&rig, sd, 40, 1);
    CHECK_EQ(st->retries, 2);
    sdcard_set_corrupt_reads(rig.card, 1);
    check_read(&rig, sd, 40, 6);
    CHECK_EQ(st->retries, 3);

    uint64_t crc_before = sdcard_stats(rig.card)->crc_errors;
    sdcard_set_corrupt_writes(rig.card, 2);
    check_write(&rig, sd, 50, 1, 1);
    CHECK_EQ(sdcard_stats(rig.card)->crc_errors, crc_before + 2);
    CHECK_EQ(st->retries, 5);
    sdcard_set_corrupt_writes(rig.card, 1);
    check_write(&rig, sd, 60, 5, 2);
    CHECK_EQ(st->retries, 6);

    sdcard_set_fail_writes(rig.card, 1);
    check_write(&rig, sd, 70, 1, 3);
    sdcard_set_fail_writes(rig.card, 1);
    check_write(&rig, sd, 80, 3, 4);
    CHECK_EQ(st->retries, 8);

    sdcard_set_drop_commands(rig.card, 1);
    check_read(&rig, sd, 90, 2);
    sdcard_set_drop_commands(rig.card, 1);
    check_write(&rig, sd, 90, 1, 5);
    CHECK_EQ(st->retries, 10);

    /* More failures than tries: a clear error naming the sectors. */
    sdcard_set_corrupt_reads(rig.card, 10);
    uint8_t buf[512];
    struct mf_err err;
    CHECK_EQ(sd_read_sectors(sd, 123, 1, buf, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "Reading sector 123 ") != NULL);
    CHECK(strstr(err.msg, "failed 4 times") != NULL);
    CHECK(strstr(err.msg, "CRC") != NULL);
    sdcard_set_corrupt_reads(rig.card, 0);
    sdcard_set_fail_writes(rig.card, 10);
    CHECK_EQ(sd_write_sectors(sd, 123, 1, buf, &err), -1);
    CHECK(strstr(err.msg, "Writing sector 123 ") != NULL);
    sdcard_set_fail_writes(rig.card, 0);
    check_write(&rig, sd, 123, 1, 6);
    sd_close(sd, &err);
    model_rig_close(&rig);
}

/* Losing the reply of any one batch, after any number of its windows ran,
 * costs a retry and nothing else. */
static void test_lost_replies(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.write_busy = 70;
    cfg.read_latency = 20;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdlost", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    const struct cardbus_model_stats *bs = cardbus_model_stats(rig.bus);
    const int ran[] = { -1, 0, 1, 2, 5, 9 };
    uint32_t seed = 1, hits = 0;
    /* A write and a read back take at least three calls: a start, a block
     * with its pad, the read. */
    for (unsigned k = 1; k <= 6; k++)
        for (int r = 0; r < 6; r++) {
            uint32_t lba = 500 + (seed % 64) * 8;
            uint32_t count = 1 + seed % 5;
            uint64_t calls = bs->calls, lost = bs->lost, retries = sd_card_stats(sd)->retries;
            cardbus_model_lose(rig.bus, k, ran[r]);
            check_write(&rig, sd, lba, count, seed++);
            check_read(&rig, sd, lba, count);
            cardbus_model_lose(rig.bus, 0, 0);
            if (bs->calls - calls >= k) {  /* the k-th call came, and was lost */
                hits++;
                CHECK_EQ(bs->lost, lost + 1);
                CHECK_EQ(sd_card_stats(sd)->retries, retries + 1);
            }
        }
    CHECK(hits >= 3 * 6);

    /* A steady loss rate over a long transfer. */
    cardbus_model_lose(rig.bus, 0, 0);
    cardbus_model_lose_every(rig.bus, 97);
    check_write(&rig, sd, 2000, 96, 77);
    check_read(&rig, sd, 2000, 96);
    CHECK_EQ(sd_card_stats(sd)->split_runs, 0);

    /* So many losses that no whole run gets through: sector by sector. */
    cardbus_model_lose_every(rig.bus, 9);
    check_write(&rig, sd, 3000, 40, 78);
    check_read(&rig, sd, 3000, 40);
    CHECK(sd_card_stats(sd)->split_runs >= 2);
    cardbus_model_lose_every(rig.bus, 0);
    struct mf_err err;
    CHECK_EQ(sd_close(sd, &err), 0);
    model_rig_close(&rig);
}

/* A card that loses power mid-write is initialised again on the retry. */
static void test_card_reset_midway(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdreset", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    check_read(&rig, sd, 1, 1);
    sdcard_power_cycle(rig.card);  /* back in SD mode, idle */
    check_write(&rig, sd, 30, 3, 9);
    check_read(&rig, sd, 30, 3);
    CHECK_EQ(sd_card_stats(sd)->reinits, 1);

    /* Power gone for good: the error says the card stopped answering. */
    sdcard_set_power_cut(rig.card, 2);
    uint8_t data[4 * 512];
    model_fill(data, sizeof(data), 5);
    struct mf_err err;
    CHECK_EQ(sd_write_sectors(sd, 40, 4, data, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "Writing sectors 40-43") != NULL);
    CHECK(strstr(err.msg, "No SD card answers") != NULL);
    CHECK(strstr(err.msg, "may be old or partial") != NULL);
    CHECK(strstr(err.msg, "nothing was changed") == NULL);
    uint8_t file[2 * 512];
    CHECK_EQ(model_rig_file_read(&rig, 40, 2, file), 0);
    CHECK_MEM(file, data, sizeof(file));  /* the first two made it */
    sd_close(sd, &err);
    model_rig_close(&rig);
}

/* Closing leaves the card idle in SPI mode with CRC checking off. */
static void test_close(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdclose", SECTORS, &cfg, CARDBUS_SPI, 55), 0);
    struct sd_card *sd = open_card(&rig);
    CHECK(sd != NULL);
    const struct sdcard_stats *cs = sdcard_stats(rig.card);
    CHECK_EQ(cs->cmd_count[59], 1);
    uint64_t cmd0 = cs->cmd_count[0];
    struct mf_err err;
    CHECK_EQ(sd_close(sd, &err), 0);
    CHECK_EQ(cs->cmd_count[0], cmd0 + 1);
    CHECK_EQ(cs->cmd_count[59], 2);
    CHECK(sdcard_in_spi_mode(rig.card));
    model_rig_close(&rig);
}

int main(void)
{
    test_configurations();
    test_window_limit();
    test_multi_block_commands();
    test_blockdev();
    test_no_card();
    test_write_protect();
    test_card_faults();
    test_lost_replies();
    test_card_reset_midway();
    test_close();
    return check_report("test_sd_spi");
}
