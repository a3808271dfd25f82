/* The host's SD code in SD (native) mode on the card model, and the rule
 * that a card once driven in SPI mode is deaf to SD mode until power-off. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cardbus_model.h"
#include "sd_checks.h"
#include "sd/sd.h"

#define SECTORS 4096u

static void one_type(enum sdcard_type type, uint16_t busy_polls)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.type = type;
    cfg.sd_busy_polls = busy_polls;
    cfg.init_polls = 5;
    cfg.mid = 0x27;
    memcpy(cfg.pnm, "SD16G", 6);
    cfg.psn = 0x0BADF00D;
    cfg.rca = 0x4567;
    struct model_rig rig;
    if (model_rig_open(&rig, "sdnat", SECTORS, &cfg, CARDBUS_SDIO, 0) < 0) {
        CHECK(!"rig");
        return;
    }
    struct sd_card *sd = NULL;
    struct mf_err err;
    CHECK_EQ(sd_open(rig.bus, &sd, &err), 0);
    if (!sd) {
        fprintf(stderr, "  sd_open: %s\n", err.msg);
        model_rig_close(&rig);
        return;
    }
    const struct sd_card_info *info = sd_card_info(sd);
    CHECK_EQ(info->mode, CARDBUS_SDIO);
    CHECK_EQ(info->version, type == SDCARD_V1_SDSC ? 1 : 2);
    CHECK_EQ(info->sdhc, type == SDCARD_SDHC);
    CHECK_EQ(info->sector_count, SECTORS);
    CHECK_EQ(info->manufacturer_id, 0x27);
    CHECK_STR(info->product, "SD16G");
    CHECK_EQ(info->serial, 0x0BADF00D);
    CHECK_EQ(sdcard_sd_state(rig.card), 4);  /* tran */
    CHECK_EQ(cardbus_model_stats(rig.bus)->speed_hz, 1000000);
    CHECK(!sdcard_in_spi_mode(rig.card));

    CHECK(sd_read_matches(&rig, sd, 0, 1));
    CHECK(sd_read_matches(&rig, sd, SECTORS - 4, 4));
    CHECK(sd_write_lands(&rig, sd, 33, 1, 1));
    CHECK(sd_write_lands(&rig, sd, SECTORS - 3, 3, 2));
    CHECK(sd_read_matches(&rig, sd, 30, 8));
    CHECK_EQ(sdcard_stats(rig.card)->sectors_written, 4);
    /* Every write waits for the card to leave prg: busy_polls + 1 CMD13s. */
    CHECK_EQ(sdcard_stats(rig.card)->cmd_count[13], 4u * (busy_polls ? busy_polls + 1u : 1u));
    CHECK_EQ(sd_card_stats(sd)->retries, 0);
    CHECK_EQ(sd_close(sd, &err), 0);
    CHECK_EQ(sdcard_sd_state(rig.card), 0);  /* left idle by CMD0 */
    model_rig_close(&rig);
}

static void test_types(void)
{
    one_type(SDCARD_V1_SDSC, 1);
    one_type(SDCARD_V2_SDSC, 0);
    one_type(SDCARD_SDHC, 1);
    one_type(SDCARD_SDHC, 6);
}

/* After SPI mode the card is silent in SD mode until it is power-cycled; a
 * warm board reset (no power cycle) changes nothing. */
static void test_spi_mode_sticks(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdlock", SECTORS, &cfg, CARDBUS_SDIO, 0), 0);
    struct cardbus *spi = model_rig_bus(&rig, CARDBUS_SPI, 55);
    struct sd_card *sd = NULL;
    struct mf_err err;

    CHECK_EQ(sd_open(rig.bus, &sd, &err), 0);  /* SD mode first: fine */
    CHECK_EQ(sd_close(sd, &err), 0);
    CHECK_EQ(sd_open(spi, &sd, &err), 0);      /* then SPI mode */
    CHECK(sd && sd_write_lands(&rig, sd, 12, 2, 3));
    CHECK_EQ(sd_close(sd, &err), 0);
    CHECK(sdcard_in_spi_mode(rig.card));

    for (int i = 0; i < 2; i++) {
        sd = NULL;
        CHECK_EQ(sd_open(rig.bus, &sd, &err), -1);
        CHECK(sd == NULL);
        CHECK_EQ(err.code, MF_E_CARD);
        CHECK(strstr(err.msg, "No SD card answers on model SDIO bus in SD mode") != NULL);
        CHECK(strstr(err.msg, "SPI mode") != NULL);
        CHECK(strstr(err.msg, "switch the board off and on") != NULL);
        CHECK(sdcard_in_spi_mode(rig.card));
    }

    sdcard_power_cycle(rig.card);
    CHECK(!sdcard_in_spi_mode(rig.card));
    CHECK_EQ(sd_open(rig.bus, &sd, &err), 0);
    CHECK(sd && sd_read_matches(&rig, sd, 10, 4));
    CHECK(sd && sd_write_lands(&rig, sd, 11, 1, 4));
    sd_close(sd, &err);
    cardbus_model_free(spi);
    model_rig_close(&rig);
}

static void test_retries(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.sd_busy_polls = 2;
    struct model_rig rig;
    CHECK_EQ(model_rig_open(&rig, "sdnatretry", SECTORS, &cfg, CARDBUS_SDIO, 0), 0);
    struct sd_card *sd = NULL;
    struct mf_err err;
    CHECK_EQ(sd_open(rig.bus, &sd, &err), 0);
    if (!sd) {
        model_rig_close(&rig);
        return;
    }
    const struct sd_stats *st = sd_card_stats(sd);
    sdcard_set_corrupt_reads(rig.card, 2);      /* data CRC failures */
    CHECK(sd_read_matches(&rig, sd, 70, 1));
    CHECK_EQ(st->retries, 2);
    sdcard_set_corrupt_writes(rig.card, 1);     /* CRC status token says no */
    CHECK(sd_write_lands(&rig, sd, 71, 1, 5));
    CHECK_EQ(st->retries, 3);
    sdcard_set_fail_writes(rig.card, 1);        /* programming error in the status */
    CHECK(sd_write_lands(&rig, sd, 72, 2, 6));
    CHECK_EQ(st->retries, 4);
    sdcard_set_drop_commands(rig.card, 1);
    CHECK(sd_read_matches(&rig, sd, 73, 1));
    CHECK_EQ(st->retries, 5);

    /* Any single lost reply, whether the command ran or not. */
    uint32_t seed = 10;
    for (unsigned k = 1; k <= 8; k++)
        for (int ran = -1; ran <= 0; ran++) {
            cardbus_model_lose(rig.bus, k, ran);
            CHECK(sd_write_lands(&rig, sd, 100 + k, 2, seed++));
            cardbus_model_lose(rig.bus, k, ran);
            CHECK(sd_read_matches(&rig, sd, 100 + k, 2));
        }
    CHECK(st->retries > 20);

    /* A card power-cycled behind our back is initialised again. */
    sdcard_power_cycle(rig.card);
    CHECK(sd_write_lands(&rig, sd, 200, 1, 99));
    CHECK_EQ(st->reinits, 1);
    sd_close(sd, &err);
    model_rig_close(&rig);
}

int main(void)
{
    test_types();
    test_spi_mode_sticks();
    test_retries();
    return check_report("test_sd_native");
}
