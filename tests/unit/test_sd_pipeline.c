/* SD (native) mode with pipelined batches, as over Klipper's sdio_*: runs of
 * sectors written and read in one batch on the card model, a card slower to
 * program than the CMD13s queued for it, a lost reply at every position,
 * and card faults, on the test bus that pipelines (cardbus_model.c): it runs
 * each step on the model in order and, like a line with many replies in
 * flight, goes on after a lost reply. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cardbus_model.h"
#include "sd_checks.h"
#include "sd/sd.h"

#define SECTORS 4096u
/* Open the card over a pipelined bus to the rig's card; polls: CMD13s
 * queued after each write at first (0: the default). */
static struct sd_card *open_pipelined(struct model_rig *rig, uint8_t polls)
{
    struct sd_card *sd = NULL;
    struct mf_err err;
    cardbus_model_free(rig->bus);
    rig->bus = cardbus_model_new_pipelined(rig->card);
    struct sd_options opt;
    sd_options_init(&opt);
    opt.write_polls = polls;
    if (!rig->bus || sd_open_opts(rig->bus, &opt, &sd, &err) < 0) {
        fprintf(stderr, "  sd_open: %s\n", rig->bus ? err.msg : "no bus");
        return NULL;
    }
    return sd;
}

static const struct cardbus_model_stats *bus_stats(const struct model_rig *rig)
{
    return cardbus_model_stats(rig->bus);
}

/* Runs of every length up to several batches, on cards that program for 0
 * to 6 CMD13s; the CMD13s queued settle on what the card needs. */
static void one_card(enum sdcard_type type, uint16_t busy_polls)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.type = type;
    cfg.sd_busy_polls = busy_polls;
    struct model_rig rig;
    if (model_rig_open(&rig, "sdpipe", SECTORS, &cfg, CARDBUS_SDIO, 0) < 0) {
        CHECK(!"rig");
        return;
    }
    struct sd_card *sd = open_pipelined(&rig, 0);
    if (!sd) {
        CHECK(!"open");
        model_rig_close(&rig);
        return;
    }
    const struct sdcard_stats *cs = sdcard_stats(rig.card);
    uint32_t seed = 100 * busy_polls;
    const uint32_t runs[] = { 1, 2, 5, 16, 17, 40 };
    for (int i = 0; i < 6; i++) {
        CHECK(sd_write_lands(&rig, sd, 50 + 64 * (uint32_t)i, runs[i], seed++));
        CHECK(sd_read_matches(&rig, sd, 50 + 64 * (uint32_t)i, runs[i]));
    }
    CHECK(sd_read_matches(&rig, sd, SECTORS - 16, 16));
    CHECK_EQ(sd_card_stats(sd)->retries, 0);
    /* Settled: a card seen ready after n CMD13s gets n per sector. */
    CHECK_EQ(sd_card_write_polls(sd), busy_polls ? busy_polls + 1u : 1u);

    /* Now each run is one batch, every sector written once. */
    sdcard_reset_stats(rig.card);
    uint64_t batches = bus_stats(&rig)->batches;
    CHECK(sd_write_lands(&rig, sd, 1000, 16, seed++));
    CHECK_EQ(bus_stats(&rig)->batches, batches + 1);
    CHECK_EQ(cs->cmd_count[24], 16);
    CHECK_EQ(cs->cmd_count[13], 16u * sd_card_write_polls(sd));
    CHECK(sd_read_matches(&rig, sd, 1000, 16));
    CHECK_EQ(bus_stats(&rig)->batches, batches + 2);
    CHECK_EQ(cs->cmd_count[17], 16);
    CHECK_EQ(sd_card_stats(sd)->retries, 0);
    struct mf_err err;
    CHECK_EQ(sd_close(sd, &err), 0);
    model_rig_close(&rig);
}

static void test_runs(void)
{
    one_card(SDCARD_SDHC, 0);
    one_card(SDCARD_SDHC, 1);
    one_card(SDCARD_V2_SDSC, 2);
    one_card(SDCARD_V1_SDSC, 6);
}

/* A card still programming when the next CMD24 comes: refused, or taken
 * before a CMD13 saw the one before finished.  Either way the sectors
 * concerned are written again and nothing counts as a failure. */
static void test_card_behind(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.sd_busy_polls = 5;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdbehind", SECTORS, &cfg, CARDBUS_SDIO, 0), 0);
    const struct sdcard_stats *cs = sdcard_stats(rig.card);
    for (uint8_t polls = 1; polls <= 6; polls++) {
        struct sd_card *sd = open_pipelined(&rig, polls);
        if (!sd)
            break;
        sdcard_reset_stats(rig.card);
        CHECK(sd_write_lands(&rig, sd, 200 + 20 * polls, 12, polls));
        CHECK(sd_read_matches(&rig, sd, 200 + 20 * polls, 12));
        if (polls < 6)
            CHECK(cs->cmd_count[24] > 12);  /* some written again */
        else
            CHECK_EQ(cs->cmd_count[24], 12);
        CHECK_EQ(sd_card_write_polls(sd), 6u);
        CHECK_EQ(sd_card_stats(sd)->retries, 0);
        struct mf_err err;
        sd_close(sd, &err);
    }
    model_rig_close(&rig);
}

/* One lost reply at any position of a write or a read run, its command run
 * or not: the sectors it concerns are done again, the others stand, and
 * the data is right.  A lost reply in a step done on its own costs a retry. */
static void test_lost_replies(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.sd_busy_polls = 2;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdpipelost", SECTORS, &cfg, CARDBUS_SDIO, 0), 0);
    struct sd_card *sd = open_pipelined(&rig, 0);
    if (!sd) {
        model_rig_close(&rig);
        return;
    }
    const struct sd_stats *st = sd_card_stats(sd);
    uint32_t seed = 7;
    CHECK(sd_write_lands(&rig, sd, 300, 4, seed++));  /* settle the CMD13s */
    uint64_t before = bus_stats(&rig)->replies;
    CHECK(sd_write_lands(&rig, sd, 300, 4, seed++));
    uint64_t write_replies = bus_stats(&rig)->replies - before;
    before = bus_stats(&rig)->replies;
    CHECK(sd_read_matches(&rig, sd, 300, 4));
    uint64_t read_replies = bus_stats(&rig)->replies - before;
    CHECK(write_replies >= 4 * 2);
    CHECK_EQ(read_replies, 4);

    const struct sdcard_stats *cs = sdcard_stats(rig.card);
    for (uint64_t k = 1; k <= write_replies; k++)
        for (int ran = 0; ran <= 1; ran++) {
            uint64_t retries = st->retries, lost = bus_stats(&rig)->lost, writes = cs->cmd_count[24];
            uint32_t lba = 400 + 8 * (uint32_t)k;
            cardbus_model_lose_step(rig.bus, k, ran);
            CHECK(sd_write_lands(&rig, sd, lba, 4, seed++));
            CHECK_EQ(bus_stats(&rig)->lost, lost + 1);
            CHECK_EQ(st->retries, retries);
            CHECK(cs->cmd_count[24] - writes >= 4u + (unsigned)ran);  /* that one written again */
            CHECK_EQ(sd_card_write_polls(sd), 3u);  /* a loss says nothing about the card's speed */
            cardbus_model_lose_step(rig.bus, k <= read_replies ? k : 0, ran);
            uint64_t reads = cs->cmd_count[17];
            CHECK(sd_read_matches(&rig, sd, lba, 4));
            CHECK_EQ(st->retries, retries);
            CHECK_EQ(cs->cmd_count[17] - reads, 4u + (k <= read_replies && ran));  /* only that one again */
        }
    cardbus_model_lose_step(rig.bus, 0, false);

    /* A run of one: nothing else got through, so it is a retry. */
    uint64_t retries = st->retries;
    cardbus_model_lose_step(rig.bus, 1, true);
    CHECK(sd_read_matches(&rig, sd, 300, 1));
    CHECK_EQ(st->retries, retries + 1);
    cardbus_model_lose_step(rig.bus, 0, false);

    /* Losses in the steps done one at a time: waits for programming and
     * recovery go over the bus itself. */
    struct mf_err err;
    sd_close(sd, &err);
    for (unsigned k = 1; k <= 6; k++)
        for (int ran = -1; ran <= 0; ran++) {
            /* One CMD13 a write: behind the card, so waits one at a time follow. */
            if (!(sd = open_pipelined(&rig, 1)))
                break;
            cardbus_model_lose(rig.bus, k, ran);
            CHECK(sd_write_lands(&rig, sd, 900 + 8 * k, 4, seed++));
            CHECK(sd_read_matches(&rig, sd, 900 + 8 * k, 4));
            cardbus_model_lose(rig.bus, 0, 0);
            sd_close(sd, &err);
        }
    model_rig_close(&rig);
}

/* What the card reports goes through the pipeline: refused data, failed
 * programming and ignored commands are retried; write protection is final. */
static void test_card_faults(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdpipefault", SECTORS, &cfg, CARDBUS_SDIO, 0), 0);
    struct sd_card *sd = open_pipelined(&rig, 0);
    if (!sd) {
        model_rig_close(&rig);
        return;
    }
    const struct sd_stats *st = sd_card_stats(sd);
    sdcard_set_corrupt_writes(rig.card, 1);
    CHECK(sd_write_lands(&rig, sd, 60, 6, 1));
    CHECK_EQ(st->retries, 1);
    sdcard_set_fail_writes(rig.card, 1);
    CHECK(sd_write_lands(&rig, sd, 70, 6, 2));
    CHECK_EQ(st->retries, 2);
    sdcard_set_drop_commands(rig.card, 1);
    CHECK(sd_write_lands(&rig, sd, 80, 6, 3));
    CHECK_EQ(st->retries, 3);
    sdcard_set_corrupt_reads(rig.card, 1);
    CHECK(sd_read_matches(&rig, sd, 60, 16));
    CHECK_EQ(st->retries, 4);

    /* Callers that want no message (the FAT layer sometimes) get the same
     * outcome. */
    uint8_t one[512];
    sdcard_set_corrupt_reads(rig.card, 20);
    CHECK_EQ(sd_read_sectors(sd, 61, 1, one, NULL), -1);
    sdcard_set_corrupt_reads(rig.card, 0);
    CHECK_EQ(sd_read_sectors(sd, 61, 1, one, NULL), 0);

    sdcard_set_write_protect(rig.card, SDCARD_WP_PERMANENT);
    uint8_t data[6 * 512];
    model_fill(data, sizeof(data), 9);
    struct mf_err err;
    CHECK_EQ(sd_write_sectors(sd, 90, 6, data, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "write-protected") != NULL);
    CHECK(strstr(err.msg, "nothing was written") != NULL);
    sd_close(sd, &err);
    model_rig_close(&rig);
}

int main(void)
{
    test_runs();
    test_card_behind();
    test_lost_replies();
    test_card_faults();
    return check_report("test_sd_pipeline");
}
