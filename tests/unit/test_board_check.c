/* Checking board definitions against the data dictionary of the firmware a
 * board runs: MCU type, SPI bus and pins, all missing names in one message. */
#include <stdio.h>
#include <string.h>

#include "board/board.h"
#include "check.h"
#include "klipper/dict.h"

extern const char mf_builtin_boards_cfg[];

#define MSGS "\"commands\": {\"identify offset=%u count=%c\": 1}, " \
             "\"responses\": {\"identify_response offset=%u data=%.*s\": 0}, "

/* Like a Klipper build for an STM32F407 with SPI buses spi1 and spi3a. */
static const char f407_dict[] =
    "{" MSGS "\"enumerations\": {\"pin\": {\"PA0\": [0, 16], \"PB0\": [16, 16], \"PC0\": [32, 16],"
    " \"PD0\": [48, 16]}, \"spi_bus\": {\"spi1\": 0, \"spi3a\": 1}},"
    " \"config\": {\"MCU\": \"stm32f407xx\", \"CLOCK_FREQ\": 168000000}, \"version\": \"v0.12.0\"}";

/* Older firmware calls the bus enumeration "bus". */
static const char old_f407_dict[] =
    "{" MSGS "\"enumerations\": {\"pin\": {\"PA0\": [0, 16]}, \"bus\": {\"spi1\": 0}},"
    " \"config\": {\"MCU\": \"stm32f407xx\"}}";

static const char no_mcu_dict[] =
    "{" MSGS "\"enumerations\": {\"pin\": {\"PA0\": [0, 16]}, \"spi_bus\": {\"spi1\": 0}},"
    " \"config\": {}}";

static const char custom_boards[] =
    "[board far-pins]\nmcu: stm32f407xx\nspi_bus: swspi\nspi_pins: PZ2, PZ3, PZ4\ncs_pin: PZ1\n"
    "[board sdio-only]\nmcu: stm32f407xx\nsdio_bus: sdio\n";

static struct board_db *db;

static struct kl_dict *parse(const char *json)
{
    struct kl_dict *d = NULL;
    struct mf_err err = { 0 };
    int rc = kl_dict_parse(json, strlen(json), &d, &err);
    if (rc)
        fprintf(stderr, "dictionary: %s\n", err.msg);
    CHECK_EQ(rc, 0);
    return d;
}

static void expect_ok(const char *board, const struct kl_dict *d)
{
    struct mf_err err = { 0 };
    const struct board *b = board_db_find(db, board, &err);
    CHECK(b != NULL);
    int rc = b && d ? board_check_mcu(b, d, &err) : -1;
    if (rc)
        fprintf(stderr, "%s: %s\n", board, err.msg);
    CHECK_EQ(rc, 0);
}

static void expect_mismatch(const char *board, const struct kl_dict *d, const char *message)
{
    struct mf_err err = { 0 };
    const struct board *b = board_db_find(db, board, &err);
    CHECK(b != NULL);
    CHECK_EQ(b && d ? board_check_mcu(b, d, &err) : 0, -1);
    CHECK_EQ(err.code, MF_E_MISMATCH);
    CHECK_STR(err.msg, message);
}

#define NEXT "; nothing was done; pick the definition for this board (run 'mcuflash boards' " \
             "for the list)"

static void test_checks(void)
{
    struct kl_dict *f407 = parse(f407_dict), *old = parse(old_f407_dict), *nomcu = parse(no_mcu_dict);
    expect_ok("btt-gtr", f407);             /* spi1, PA4 */
    expect_ok("btt-skr-pro", f407);         /* software SPI on PA6, PB5, PA5 */
    expect_ok("btt-octopus-f407-v1.1", f407);
    expect_ok("monster8", f407);            /* spi3a, PC9 */
    expect_ok("sdio-only", f407);           /* nothing on SPI to check */
    expect_ok("BTT-GTR-V1", old);

    expect_mismatch("btt-skr-v1.4", f407,
                    "The board definition generic-lpc1768 uses pin P0.6 and bus ssp1, which the "
                    "firmware on this board does not have, and it is for MCU lpc1768 but the "
                    "firmware runs on stm32f407xx" NEXT ", or build Klipper with those pins and "
                    "buses.");
    expect_mismatch("btt-octopus-max-ez", f407,
                    "The board definition btt-octopus-max-ez uses pin PE13, pin PE14 and pin PE12, "
                    "which the firmware on this board does not have, and it is for MCU "
                    "stm32h723xx but the firmware runs on stm32f407xx" NEXT ", or build Klipper "
                    "with those pins and buses.");
    expect_mismatch("far-pins", f407,
                    "The board definition far-pins uses pin PZ1, pin PZ2, pin PZ3 and pin PZ4, "
                    "which the firmware on this board does not have" NEXT ", or build Klipper "
                    "with those pins and buses.");
    expect_mismatch("fysetc-spider", f407,
                    "The board definition fysetc-spider does not fit this board: it is for MCU "
                    "stm32f446xx but the firmware runs on stm32f407xx" NEXT ".");
    expect_mismatch("monster8", old,
                    "The board definition monster8 uses pin PC9 and bus spi3a, which the firmware "
                    "on this board does not have" NEXT ", or build Klipper with those pins and "
                    "buses.");
    expect_mismatch("btt-gtr", nomcu,
                    "The board definition btt-gtr does not fit this board: the firmware does not "
                    "report its MCU type (it should be stm32f407xx)" NEXT ".");
    kl_dict_free(f407);
    kl_dict_free(old);
    kl_dict_free(nomcu);
}

int main(void)
{
    struct mf_err err = { 0 };
    db = board_db_new();
    CHECK_EQ(board_db_add_text(db, mf_builtin_boards_cfg, NULL, &err), 0);
    CHECK_EQ(board_db_add_text(db, custom_boards, "custom.cfg", &err), 0);
    CHECK_EQ(board_db_finish(db, &err), 0);
    test_checks();
    board_db_free(db);
    return check_report("test_board_check");
}
