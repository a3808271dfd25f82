/* The board database: the built-in table against the facts it transcribes,
 * aliases, lookups, board files overriding it, and every validation error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "board/board.h"
#include "check.h"

extern const char mf_builtin_boards_cfg[];

/* ---- the built-in table, as Klipper's spi_flash board list has it -------- */

struct expect_board {
    const char *name, *mcu, *bus, *cs, *pins; /* pins "miso,mosi,sclk" or NULL */
    const char *fw, *cur;
    int skip, unique;
    enum board_card_access access;
    enum board_conversion conv;
};

#define SPI BOARD_CARD_SPI
#define SDIO BOARD_CARD_SDIO
#define NONE BOARD_CONV_NONE
#define FW "firmware.bin"
#define CUR "FIRMWARE.CUR"
#define SDIO_PINS "PC8,PD2,PC12"

static const struct expect_board expected_boards[] = {
    { "generic-lpc1768", "lpc1768", "ssp1", "P0.6", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "generic-lpc1769", "lpc1769", "ssp1", "P0.6", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "btt-skr-mini", "stm32f103xe", "spi1", "PA4", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "btt-skr-mini-v3", "stm32g0b1xx", "spi1", "PA4", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "btt-skr-mini-v3-b0", "stm32g0b0xx", "spi1", "PA4", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "flyboard-mini", "stm32f103xe", "spi2", "PB12", NULL, FW, "FLY.CUR", 0, 0, SPI, NONE },
    { "mks-robin-e3", "stm32f103xe", "spi2", "PA15", NULL, "Robin_e3.bin", "Robin_e3.cur", 0, 0,
      SPI, BOARD_CONV_MKS_ROBIN },
    { "mks-robin-v12", "stm32f103xe", "swspi", "PC11", SDIO_PINS, "ROBIN_NANO35.BIN",
      "ROBIN_NANO35.BIN", 1, 0, SDIO, BOARD_CONV_MKS_ROBIN },
    { "btt-octopus-f407-v1", "stm32f407xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "btt-octopus-f429-v1", "stm32f429xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "btt-octopus-f446-v1", "stm32f446xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "btt-skr-pro", "stm32f407xx", "swspi", "PA4", "PA6,PB5,PA5", FW, CUR, 0, 0, SPI, NONE },
    { "btt-gtr", "stm32f407xx", "spi1", "PA4", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "fysetc-spider", "stm32f446xx", "spi1", "PA4", NULL, FW, "OLD.BIN", 0, 0, SPI, NONE },
    { "fysetc-s6", "stm32f446xx", "spi1", "PA4", NULL, FW, "OLD.BIN", 0, 0, SPI, NONE },
    { "btt-skr-se-bx", "stm32h743xx", "spi3a", "PA15", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "btt-skr-3-h743", "stm32h743xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "btt-skr-3-h723", "stm32h723xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "creality-v4.2.2", "stm32f103xe", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 1, SDIO, NONE },
    { "monster8", "stm32f407xx", "spi3a", "PC9", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "fly-gemini-v2", "stm32f405xx", "spi1", "PA4", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "fysetc-cheetah", "stm32f401xc", "spi1", "PA4", NULL, FW, "OLD.BIN", 0, 0, SPI, NONE },
    { "btt-octopus-max-ez", "stm32h723xx", "swspi", "PB12", "PE13,PE14,PE12", FW, CUR, 1, 0, SDIO,
      NONE },
    { "btt-skrat", "stm32g0b1xx", "spi1", "PB8", NULL, FW, CUR, 0, 0, SPI, NONE },
    { "chitu-v6", "stm32f103xe", "swspi", "PC11", SDIO_PINS, "update.cbd", CUR, 1, 0, SDIO,
      BOARD_CONV_CHITU },
    { "znp-robin-nano-dw-v2.2", "stm32f401xc", "spi2", "PB12", NULL, "ZNP_ROBIN_NANO.bin",
      "ZNP_ROBIN_NANO.CUR", 0, 0, SPI, NONE },
    { "qidi-x6", "stm32f401xc", "spi2", "PB12", NULL, "X_4.bin", "X_4.CUR", 0, 0, SPI, NONE },
    { "qidi-x7", "stm32f401xc", "spi2", "PB12", NULL, "qd_mcu.bin", "qd_mcu.CUR", 0, 0, SPI, NONE },
    { "btt-skr2-f407", "stm32f407xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
    { "btt-skr2-f429", "stm32f429xx", "swspi", "PC11", SDIO_PINS, FW, CUR, 1, 0, SDIO, NONE },
};

static const char *const expected_aliases[][2] = {
    { "btt-skr-v1.1", "generic-lpc1768" }, { "btt-skr-v1.3", "generic-lpc1768" },
    { "btt-skr-v1.4", "generic-lpc1768" }, { "mks-sgenl-v1", "generic-lpc1768" },
    { "mks-sbase", "generic-lpc1768" }, { "smoothieboard-v1", "generic-lpc1769" },
    { "btt-skr-turbo-v1.4", "generic-lpc1769" }, { "btt-skr-e3-turbo", "generic-lpc1769" },
    { "mks-sgenl-v2", "generic-lpc1769" }, { "btt-skr-mini-v1.1", "btt-skr-mini" },
    { "btt-skr-mini-e3-v1", "btt-skr-mini" }, { "btt-skr-mini-e3-v1.2", "btt-skr-mini" },
    { "btt-skr-mini-e3-v2", "btt-skr-mini" }, { "btt-skr-mini-e3-v3", "btt-skr-mini-v3" },
    { "btt-skr-mini-e3-v3-b0", "btt-skr-mini-v3-b0" }, { "btt-skr-mini-mz", "btt-skr-mini" },
    { "btt-skr-e3-dip", "btt-skr-mini" }, { "btt002-v1", "btt-skr-mini" },
    { "creality-v4.2.7", "creality-v4.2.2" }, { "btt-skr-2-f407", "btt-skr2-f407" },
    { "btt-skr-2-f429", "btt-skr2-f429" }, { "btt-octopus-f407-v1.0", "btt-octopus-f407-v1" },
    { "btt-octopus-f407-v1.1", "btt-octopus-f407-v1" },
    { "btt-octopus-f429-v1.0", "btt-octopus-f429-v1" },
    { "btt-octopus-f429-v1.1", "btt-octopus-f429-v1" },
    { "btt-octopus-f446-v1.0", "btt-octopus-f446-v1" },
    { "btt-octopus-f446-v1.1", "btt-octopus-f446-v1" },
    { "btt-octopus-pro-f429-v1.0", "btt-octopus-f429-v1" },
    { "btt-octopus-pro-f446-v1.0", "btt-octopus-f446-v1" },
    { "btt-octopus-pro-h723-v1.1", "btt-skr-3-h723" }, { "btt-skr-pro-v1.1", "btt-skr-pro" },
    { "btt-skr-pro-v1.2", "btt-skr-pro" }, { "btt-gtr-v1", "btt-gtr" },
    { "mks-robin-e3d", "mks-robin-e3" }, { "fysetc-cheetah-v2", "fysetc-cheetah" },
    { "fysetc-spider-v1", "fysetc-spider" }, { "fysetc-s6-v1.2", "fysetc-s6" },
    { "fysetc-s6-v2", "fysetc-s6" }, { "robin_v3", "monster8" },
    { "btt-skrat-v1.0", "btt-skrat" }, { "qidi-x-smart3", "qidi-x6" },
    { "qidi-x-plus3", "qidi-x6" }, { "qidi-x-max3", "qidi-x6" }, { "qidi-q1-pro", "qidi-x7" },
    { "qidi-plus4", "qidi-x7" }, { "btt-skr-pico", "generic-rp2040" },
    { "raspberry-pi-pico", "generic-rp2040" }, { "raspberry-pi-pico2", "generic-rp2350" },
};

/* Boards without a card, flashed through the boot ROM's BOOTSEL. */
static const char *const bootsel_boards[][2] = {
    { "generic-rp2040", "rp2040" }, { "generic-rp2350", "rp2350" },
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static struct board_db *builtin_only(void)
{
    struct mf_err err = { 0 };
    struct board_db *db = board_db_new();
    CHECK(db != NULL);
    int rc = board_db_add_text(db, mf_builtin_boards_cfg, NULL, &err);
    if (!rc)
        rc = board_db_finish(db, &err);
    if (rc)
        fprintf(stderr, "built-in table: %s\n", err.msg);
    CHECK_EQ(rc, 0);
    return db;
}

static void check_pins(const struct board *b, const char *pins)
{
    char joined[64] = "";
    if (b->spi_pins[0])
        snprintf(joined, sizeof(joined), "%s,%s,%s", b->spi_pins[0], b->spi_pins[1],
                 b->spi_pins[2]);
    CHECK_STR(joined, pins ? pins : "");
}

static void check_board_facts(const struct board_db *db, const struct expect_board *e)
{
    struct mf_err err;
    const struct board *b = board_db_find(db, e->name, &err);
    CHECK(b != NULL);
    if (!b) {
        fprintf(stderr, "missing board %s: %s\n", e->name, err.msg);
        return;
    }
    CHECK_STR(b->name, e->name);
    CHECK_STR(b->mcu, e->mcu);
    CHECK_STR(b->spi_bus, e->bus);
    CHECK_STR(b->cs_pin, e->cs);
    check_pins(b, e->pins);
    CHECK_STR(b->firmware_path, e->fw);
    CHECK_STR(b->current_firmware_path, e->cur);
    CHECK_EQ(b->skip_verify, e->skip);
    CHECK_EQ(b->unique_name, e->unique);
    CHECK_EQ(b->card_access, e->access);
    CHECK_EQ(b->conversion, e->conv);
    CHECK(b->description[0] != '\0');
    CHECK(b->origin.file == NULL);
    CHECK(b->origin.line > 0);
}

static void test_builtin_table(void)
{
    struct board_db *db = builtin_only();
    CHECK_EQ(board_db_count(db), COUNT(expected_boards) + COUNT(bootsel_boards));
    CHECK_EQ(board_db_alias_count(db), COUNT(expected_aliases));
    for (size_t i = 0; i < COUNT(expected_boards); i++)
        check_board_facts(db, &expected_boards[i]);
    /* Only the SKR 2 offers its firmware's SDIO bus. */
    for (size_t i = 0; i < board_db_count(db); i++) {
        const struct board *b = board_db_board(db, i);
        CHECK(!b->sdio_bus || !strcmp(b->sdio_bus, "sdio"));
        CHECK_EQ(b->sdio_bus != NULL, !strncmp(b->name, "btt-skr2-", 9));
        if (i)
            CHECK(strcmp(board_db_board(db, i - 1)->name, b->name) < 0);
    }
    board_db_free(db);
}

static void test_bootsel_boards(void)
{
    struct board_db *db = builtin_only();
    struct mf_err err;
    for (size_t i = 0; i < COUNT(bootsel_boards); i++) {
        const struct board *b = board_db_find(db, bootsel_boards[i][0], &err);
        CHECK(b != NULL);
        if (!b)
            continue;
        CHECK_STR(b->mcu, bootsel_boards[i][1]);
        CHECK(!b->spi_bus && !b->cs_pin && !b->sdio_bus);
        CHECK_EQ(b->napp_addresses, 1);
        CHECK_EQ(b->app_addresses[0], 0x10000000);
        CHECK(!b->has_dfu);
    }
    board_db_free(db);
}

static void test_aliases_resolve(void)
{
    struct board_db *db = builtin_only();
    struct mf_err err;
    size_t listed = 0;
    for (size_t i = 0; i < COUNT(expected_aliases); i++) {
        const struct board *b = board_db_find(db, expected_aliases[i][0], &err);
        CHECK(b != NULL);
        if (!b)
            continue;
        CHECK_STR(b->name, expected_aliases[i][1]);
        const struct board_alias *a = board_db_find_alias(db, expected_aliases[i][0]);
        CHECK(a != NULL && !strcmp(a->board, expected_aliases[i][1]));
        int found = 0;
        for (size_t j = 0; j < b->naliases; j++)
            found += !strcmp(b->aliases[j], expected_aliases[i][0]);
        CHECK_EQ(found, 1);
    }
    for (size_t i = 0; i < board_db_count(db); i++)
        listed += board_db_board(db, i)->naliases;
    CHECK_EQ(listed, COUNT(expected_aliases));
    CHECK(board_db_find_alias(db, "generic-lpc1768") == NULL);
    board_db_free(db);
}

static void test_lookup_ignores_case(void)
{
    struct board_db *db = builtin_only();
    struct mf_err err;
    const struct board *b = board_db_find(db, "BTT-SKR-V1.4", &err);
    CHECK(b && !strcmp(b->name, "generic-lpc1768"));
    b = board_db_find(db, "Btt-Octopus-F446-V1", &err);
    CHECK(b && !strcmp(b->name, "btt-octopus-f446-v1"));
    board_db_free(db);
}

static void test_suggestions(void)
{
    struct board_db *db = builtin_only();
    struct mf_err err = { 0 };
    CHECK(board_db_find(db, "skr-1.3", &err) == NULL);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK(strstr(err.msg, "No board named 'skr-1.3'; nothing was done; did you mean "
                          "btt-skr-v1.3, ") == err.msg);
    CHECK(strstr(err.msg, "btt-skr-v1.4") != NULL);
    CHECK(strstr(err.msg, "Run 'mcuflash boards' for the list.") != NULL);

    const char *near[3];
    size_t n = board_db_suggest(db, "octopus-f446", near, 3);
    CHECK(n >= 1);
    for (size_t i = 0; i < n; i++)
        CHECK(strstr(near[i], "octopus-f446") != NULL);
    n = board_db_suggest(db, "skr14", near, 3);  /* only letters and digits are close */
    CHECK(n >= 1 && !strcmp(near[0], "btt-skr-v1.4"));
    n = board_db_suggest(db, "monstr8", near, 3);
    CHECK(n >= 1 && !strcmp(near[0], "monster8"));

    CHECK(board_db_find(db, "zzzzzz", &err) == NULL);
    CHECK_STR(err.msg, "No board named 'zzzzzz'; nothing was done; run 'mcuflash boards' for "
                       "the list.");
    CHECK_EQ(board_db_suggest(db, "ab", near, 3), 0);
    board_db_free(db);
}

/* ---- board files --------------------------------------------------------- */

static const char *tmp_root(void)
{
    static char dir[4096];
    const char *base = getenv("MF_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/test_board.XXXXXX", base);
    CHECK(mkdtemp(dir) != NULL);
    return dir;
}

static void mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0755);
            *p = '/';
        }
    mkdir(buf, 0755);
}

static void write_file(const char *dir, const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    char parent[4400];
    snprintf(parent, sizeof(parent), "%s", path);
    *strrchr(parent, '/') = '\0';
    mkdirs(parent);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static const char user_cfg[] =
    "# my printer\n"
    "[board fysetc-spider]\n"
    "description: my Spider, card moved\n"
    "mcu: stm32f446xx\n"
    "spi_bus: spi2\n"
    "cs_pin: PB12\n"
    "\n"
    "[alias my-printer]\n"
    "board: btt-skr-mini\n"
    "[board btt-skr-v1.4]   # was an alias\n"
    "mcu: lpc1768\n"
    "spi_bus: swspi\n"
    "spi_pins: P0.8, P0.9,\n"
    "    P0.7\n"
    "cs_pin: P0.6\n";

static void test_user_file_overrides(const char *root)
{
    char home[4200], path[4300], extra[4300];
    snprintf(home, sizeof(home), "%s/home", root);
    write_file(home, ".config/mcuflash/boards.cfg", user_cfg, path, sizeof(path));
    setenv("HOME", home, 1);
    unsetenv("XDG_CONFIG_HOME");

    struct board_db *db;
    struct mf_err err = { 0 };
    int rc = board_db_load(NULL, 0, &db, &err);
    CHECK_EQ(rc, 0);
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    const struct board *b = board_db_find(db, "fysetc-spider-v1", &err);
    CHECK(b && !strcmp(b->name, "fysetc-spider"));
    CHECK(b && !strcmp(b->spi_bus, "spi2") && !strcmp(b->cs_pin, "PB12"));
    /* The whole section is replaced: OLD.BIN was the built-in value. */
    CHECK(b && !strcmp(b->current_firmware_path, "FIRMWARE.CUR"));
    CHECK(b && b->origin.file && !strcmp(b->origin.file, path) && b->origin.line == 2);
    char where[4400];
    CHECK_STR(board_origin_text(&b->origin, where, sizeof(where)), strcat(strcpy(extra, path), ":2"));

    b = board_db_find(db, "my-printer", &err);
    CHECK(b && !strcmp(b->name, "btt-skr-mini"));
    b = board_db_find(db, "btt-skr-v1.4", &err);
    CHECK(b && !strcmp(b->name, "btt-skr-v1.4") && board_is_swspi(b));
    CHECK(b && b->spi_pins[2] && !strcmp(b->spi_pins[2], "P0.7") && b->origin.line == 10);
    CHECK(board_db_find_alias(db, "btt-skr-v1.4") == NULL);
    b = board_db_find(db, "generic-lpc1768", &err);
    CHECK(b && b->naliases == 4);
    board_db_free(db);

    /* XDG_CONFIG_HOME wins over ~/.config, and --board-file over both. */
    char xdg[4200];
    snprintf(xdg, sizeof(xdg), "%s/xdg", root);
    write_file(xdg, "mcuflash/boards.cfg", "[board fysetc-spider]\nmcu: stm32f446xx\n"
               "spi_bus: spi3\ncs_pin: PA15\n", path, sizeof(path));
    setenv("XDG_CONFIG_HOME", xdg, 1);
    write_file(root, "extra.cfg", "[board monster8]\nmcu: stm32f407xx\nspi_bus: spi1\n"
               "cs_pin: PA4\nskip_verify: yes\n", extra, sizeof(extra));
    const char *files[] = { extra };
    CHECK_EQ(board_db_load(files, 1, &db, &err), 0);
    b = board_db_find(db, "fysetc-spider", &err);
    CHECK(b && !strcmp(b->spi_bus, "spi3"));
    CHECK(board_db_find(db, "my-printer", &err) == NULL);  /* ~/.config was not read */
    b = board_db_find(db, "robin_v3", &err);
    CHECK(b && !strcmp(b->cs_pin, "PA4") && b->skip_verify && !strcmp(b->origin.file, extra));
    board_db_free(db);
    unsetenv("XDG_CONFIG_HOME");
}

static void test_missing_files(const char *root)
{
    char home[4200], missing[4300];
    snprintf(home, sizeof(home), "%s/empty-home", root);
    mkdirs(home);
    setenv("HOME", home, 1);
    struct board_db *db;
    struct mf_err err = { 0 };
    CHECK_EQ(board_db_load(NULL, 0, &db, &err), 0);  /* no user file: no error */
    struct board_db *system = board_db_new();
    CHECK_EQ(board_db_add_text(system, mf_builtin_boards_cfg, NULL, &err), 0);
    CHECK_EQ(board_db_add_file(system, BOARD_DB_SYSTEM_FILE, false, &err), 0);
    CHECK_EQ(board_db_finish(system, &err), 0);
    CHECK_EQ(board_db_count(db), board_db_count(system));
    board_db_free(system);
    board_db_free(db);

    snprintf(missing, sizeof(missing), "%s/nope.cfg", root);
    const char *files[] = { missing };
    CHECK_EQ(board_db_load(files, 1, &db, &err), -1);
    CHECK(db == NULL);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "does not exist; nothing was done") != NULL);
    CHECK(strstr(err.msg, missing) != NULL);
}

/* ---- validation errors --------------------------------------------------- */

static void expect_error(const char *text, const char *message)
{
    struct board_db *db = board_db_new();
    struct mf_err err = { 0 };
    int rc = board_db_add_text(db, text, "my.cfg", &err);
    if (!rc)
        rc = board_db_finish(db, &err);
    CHECK_EQ(rc, -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    if (!strstr(err.msg, message)) {
        CHECK(!"message");
        fprintf(stderr, "  got:      %s\n  expected: %s\n", err.msg, message);
    }
    CHECK(strstr(err.msg, "nothing was done") != NULL);
    board_db_free(db);
}

#define HW "[board b]\nmcu: stm32f407xx\nspi_bus: spi1\ncs_pin: PA4\n"

static void test_validation_errors(void)
{
    expect_error("[board b]\nmcu: x\ncs: PA4\n", "my.cfg:3: unknown key 'cs' in [board b];");
    expect_error("[board b]\n# no mcu\nspi_bus: spi1\ncs_pin: PA4\n",
                 "my.cfg:1: [board b] has no mcu;");
    expect_error("[board b]\nmcu: x\nspi_bus: swspi\nspi_pins: PC8, PD2\ncs_pin: PC11\n",
                 "my.cfg:1: [board b] uses spi_bus: swspi but gives 2 spi_pins;");
    expect_error("[board b]\nmcu: x\nspi_bus: swspi\ncs_pin: PC11\n",
                 "my.cfg:1: [board b] uses spi_bus: swspi but gives 0 spi_pins;");
    expect_error("[board b]\nmcu: x\nspi_bus: swspi\nspi_pins: A,B,C,D\ncs_pin: PC11\n",
                 "my.cfg:4: spi_pins in [board b] must be three pins");
    expect_error(HW "conversion: robin\n",
                 "my.cfg:5: [board b] asks for conversion 'robin', which is not known;");
    expect_error(HW "[alias a]\nboard: nope\n",
                 "my.cfg:5: [alias a] points to board 'nope', which is not defined;");
    expect_error(HW "[alias a]\nboard: b\n[alias c]\nboard: a\n",
                 "my.cfg:7: [alias c] points to 'a', which is itself an alias;");
    expect_error(HW "\n[board B]\nmcu: y\nspi_bus: spi2\ncs_pin: PB12\n",
                 "my.cfg:6: 'B' is defined a second time in this file (first at line 1);");
    expect_error(HW "[alias b]\nboard: c\n",
                 "my.cfg:5: 'b' is defined a second time in this file (first at line 1);");
    expect_error(HW "cs_pin: PA5\n", "my.cfg:5: [board b] gives cs_pin twice;");
    expect_error(HW "skip_verify: maybe\n", "my.cfg:5: skip_verify in [board b] must be true or "
                 "false, not 'maybe';");
    expect_error(HW "card_access: sd\n", "my.cfg:5: card_access in [board b] must be spi or sdio");
    expect_error(HW "spi_pins: A, B, C\n", "my.cfg:1: [board b] gives spi_pins, which only a "
                 "board with spi_bus: swspi uses;");
    expect_error("[board b]\nmcu: x\nspi_bus: spi1\n", "my.cfg:1: [board b] gives spi_bus "
                 "without cs_pin;");
    expect_error("[board b]\nmcu: x\n", "my.cfg:1: [board b] says neither how the card is wired");
    expect_error("[board b]\nmcu: x y\nspi_bus: spi1\ncs_pin: PA4\n",
                 "my.cfg:2: mcu in [board b] must be one word, not 'x y';");
    expect_error(HW "description:\n", "my.cfg:5: description in [board b] has no value;");
    expect_error("mcu: x\n", "my.cfg:1: 'mcu: x' comes before any section;");
    expect_error("[board b\n", "my.cfg:1: the section header '[board b' lacks its closing ']';");
    expect_error("[board]\n", "my.cfg:1: the section header [board] needs a kind and one name;");
    expect_error("[board a b]\n", "my.cfg:1: the section header [board a b] needs a kind and one");
    expect_error("[board a/b]\n", "my.cfg:1: the name 'a/b' may only hold letters");
    expect_error("[printer x]\n", "my.cfg:1: unknown section kind 'printer';");
    expect_error(HW "just words\n", "my.cfg:5: 'just words' is not a 'key: value' line;");
    expect_error(HW "Mcu: x\n", "my.cfg:5: 'Mcu' is not a key");
    expect_error("  indented: x\n", "my.cfg:1: the indented line 'indented: x' does not continue");
    expect_error("[alias a]\nboard: b\nfoo: c\n", "my.cfg:3: unknown key 'foo' in [alias a];");
    expect_error("[alias a]\n", "my.cfg:1: [alias a] does not say which board it names;");
    expect_error("[alias a]\nboard: b\nboard: c\n", "my.cfg:3: [alias a] gives board twice;");
}

/* Defaults, comments, '=' separators, continuation lines and CRLF endings. */
static void test_format_details(void)
{
    struct board_db *db = board_db_new();
    struct mf_err err = { 0 };
    const char *text = "; a comment\r\n[board Mine]\r\ndescription = one\r\n  two # note\r\n"
                       "mcu= stm32f103xe\r\nsdio_bus: sdio\r\ncard_access: SDIO\r\n"
                       "unique_name: On\r\nfirmware_path: a#b.bin\r\n";
    CHECK_EQ(board_db_add_text(db, text, "f.cfg", &err), 0);
    CHECK_EQ(board_db_finish(db, &err), 0);
    const struct board *b = board_db_find(db, "mine", &err);
    CHECK(b != NULL);
    if (b) {
        CHECK_STR(b->description, "one two");
        CHECK_STR(b->mcu, "stm32f103xe");
        CHECK(b->spi_bus == NULL && b->cs_pin == NULL);
        CHECK_STR(b->sdio_bus, "sdio");
        CHECK_EQ(b->card_access, BOARD_CARD_SDIO);
        CHECK(b->unique_name && !b->skip_verify);
        CHECK_STR(b->firmware_path, "a#b.bin");
        CHECK_STR(b->current_firmware_path, "FIRMWARE.CUR");
        CHECK_EQ(b->conversion, BOARD_CONV_NONE);
        CHECK_EQ(b->naliases, 0);
        CHECK_EQ(b->origin.line, 2);
    }
    board_db_free(db);
}

int main(void)
{
    const char *root = tmp_root();
    test_builtin_table();
    test_bootsel_boards();
    test_aliases_resolve();
    test_lookup_ignores_case();
    test_suggestions();
    test_user_file_overrides(root);
    test_missing_files(root);
    test_validation_errors();
    test_format_details();
    return check_report("test_board");
}
