/* Searching the board database: by MCU type, and by a family name that
 * several definitions share, narrowed by the MCU a board reports. */
#include <stdio.h>
#include <string.h>

#include "board/board.h"
#include "board/search.h"
#include "check.h"

#define FAMILY                                                                   \
    "[board acme-zx2-f407]\nmcu: stm32f407xx\nspi_bus: spi1\ncs_pin: PA4\n"      \
    "[alias acme-zx-2-f407]\nboard: acme-zx2-f407\n"                             \
    "[board acme-zx2-f429]\nmcu: stm32f429xx\nspi_bus: spi1\ncs_pin: PA4\n"      \
    "[board acme-zx3]\nmcu: stm32f407xx\nspi_bus: spi1\ncs_pin: PA4\n"           \
    "[board other]\nmcu: stm32f103xe\nspi_bus: spi1\ncs_pin: PA4\n"

static struct board_db *load(void)
{
    struct mf_err err = { 0 };
    struct board_db *db = board_db_new();
    CHECK_EQ(board_db_add_text(db, FAMILY, "my.cfg", &err), 0);
    CHECK_EQ(board_db_finish(db, &err), 0);
    return db;
}

static void test_by_mcu(void)
{
    struct board_db *db = load();
    const struct board *b[4];
    CHECK_EQ(board_db_by_mcu(db, "STM32F407xx", b, 4), 2);
    CHECK_STR(b[0]->name, "acme-zx2-f407");
    CHECK_STR(b[1]->name, "acme-zx3");
    CHECK_EQ(board_db_by_mcu(db, "stm32f407xx", b, 1), 2); /* counts past cap */
    CHECK_EQ(board_db_by_mcu(db, "rp2040", b, 4), 0);
    board_db_free(db);
}

static void test_family(void)
{
    struct board_db *db = load();
    struct mf_err err = { 0 };
    const struct board *b[4];
    /* Separators and case do not matter; aliases count. */
    CHECK_EQ(board_db_family(db, "ACME_ZX-2", NULL, b, 4), 2);
    CHECK_EQ(board_db_family(db, "zx2", "stm32f429xx", b, 4), 1);
    CHECK_STR(b[0]->name, "acme-zx2-f429");
    CHECK_EQ(board_db_family(db, "zx-2-f407", NULL, b, 4), 1);
    CHECK_EQ(board_db_family(db, "nothing", NULL, b, 4), 0);
    /* Whole words only: a letter or a piece of a word fits nothing. */
    CHECK_EQ(board_db_family(db, "z", NULL, b, 4), 0);
    CHECK_EQ(board_db_family(db, "cme", NULL, b, 4), 0);
    CHECK_EQ(board_db_family(db, "f4", NULL, b, 4), 0);
    CHECK_EQ(board_db_family(db, "zx", NULL, b, 4), 1); /* a word of the alias acme-zx-2-f407 */
    CHECK_STR(b[0]->name, "acme-zx2-f407");
    CHECK_EQ(board_db_family(db, "f429", NULL, b, 4), 1);

    /* An exact name wins without looking at the MCU. */
    const struct board *one = board_db_find_for_mcu(db, "acme-zx3", "stm32f429xx", &err);
    CHECK(one && !strcmp(one->name, "acme-zx3"));
    /* The family narrowed by the reported MCU. */
    one = board_db_find_for_mcu(db, "acme-zx-2", "stm32f407xx", &err);
    CHECK(one && !strcmp(one->name, "acme-zx2-f407"));
    one = board_db_find_for_mcu(db, "zx2", "STM32F429XX", &err);
    CHECK(one && !strcmp(one->name, "acme-zx2-f429"));
    /* Still several: all listed. */
    CHECK(board_db_find_for_mcu(db, "zx2", NULL, &err) == NULL);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK(strstr(err.msg, "acme-zx2-f407 (stm32f407xx), acme-zx2-f429 (stm32f429xx)") != NULL);
    CHECK(board_db_find_for_mcu(db, "acme", "stm32f407xx", &err) == NULL);
    CHECK(strstr(err.msg, "several") && strstr(err.msg, "acme-zx2-f407") && strstr(err.msg, "acme-zx3") &&
          !strstr(err.msg, "f429"));
    /* None of the family has the board's MCU. */
    CHECK(board_db_find_for_mcu(db, "zx2", "stm32h743xx", &err) == NULL);
    CHECK_EQ(err.code, MF_E_MISMATCH);
    CHECK(strstr(err.msg, "(stm32h743xx)") != NULL);
    /* No family at all: the database's own unknown-name message. */
    CHECK(board_db_find_for_mcu(db, "zzz", NULL, &err) == NULL);
    CHECK_EQ(err.code, MF_E_USAGE);
    board_db_free(db);
}

/* The families the built-in table has: "btt-skr-2" and "skr2" are the
 * F407 and F429 builds of the SKR 2. */
static void test_builtin_skr2(void)
{
    struct board_db *db = NULL;
    struct mf_err err = { 0 };
    CHECK_EQ(board_db_load(NULL, 0, &db, &err), 0);
    if (!db)
        return;
    const struct board *b[4];
    CHECK_EQ(board_db_family(db, "skr2", NULL, b, 4), 2);
    const struct board *one = board_db_find_for_mcu(db, "btt-skr-2", "stm32f429xx", &err);
    CHECK(one && !strcmp(one->name, "btt-skr2-f429"));
    one = board_db_find_for_mcu(db, "skr2", "stm32f407xx", &err);
    CHECK(one && !strcmp(one->name, "btt-skr2-f407"));
    board_db_free(db);
}

int main(void)
{
    test_by_mcu();
    test_family();
    test_builtin_skr2();
    return check_report("test_board_search");
}
