/* Board definitions: the bootloader family and what it implies, application
 * addresses, Katapult and DFU ids, as the built-in table gives them and as
 * board files write them, with every parse error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"
#include "check.h"

static struct board_db *load_text(const char *text, struct mf_err *err)
{
    struct board_db *db = board_db_new();
    if (board_db_add_text(db, text, "my.cfg", err) < 0 || board_db_finish(db, err) < 0) {
        board_db_free(db);
        return NULL;
    }
    return db;
}

static void expect_error(const char *text, const char *message)
{
    struct mf_err err = { 0 };
    struct board_db *db = load_text(text, &err);
    CHECK(db == NULL);
    CHECK_EQ(err.code, MF_E_INPUT);
    if (!strstr(err.msg, message)) {
        CHECK(!"message");
        fprintf(stderr, "  got:      %s\n  expected: %s\n", err.msg, message);
    }
    board_db_free(db);
}

#define HW "[board b]\nmcu: stm32f407xx\nspi_bus: spi1\ncs_pin: PA4\n"

static const struct board *builtin(struct board_db **db, const char *name)
{
    struct mf_err err = { 0 };
    if (!*db)
        CHECK_EQ(board_db_load(NULL, 0, db, &err), 0);
    const struct board *b = *db ? board_db_find(*db, name, &err) : NULL;
    CHECK(b != NULL);
    return b;
}

/* Offsets from the "make menuconfig" lines of Klipper's config/ files. */
static void test_builtin_addresses(void)
{
    static const struct {
        const char *board;
        uint32_t addr;
    } expect[] = {
        { "btt-skr-mini-e3-v2", 0x08007000 },   /* 28KiB */
        { "mks-robin-e3", 0x08005000 },         /* 20KiB */
        { "btt-skr-mini-e3-v3", 0x08002000 },   /* 8KiB */
        { "btt-octopus-f446-v1.1", 0x08008000 }, /* 32KiB */
        { "monster8", 0x0800c000 },             /* 48KiB */
        { "fysetc-s6-v2", 0x08010000 },         /* 64KiB */
        { "btt-skr-3-h743", 0x08020000 },       /* 128KiB */
        { "chitu-v6", 0x08008800 },             /* Chitu v6 bootloader */
        { "btt-skr-v1.4", 0x00004000 },         /* LPC176x 16KiB */
    };
    struct board_db *db = NULL;
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const struct board *b = builtin(&db, expect[i].board);
        if (b && !board_has_app_address(b, expect[i].addr)) {
            CHECK(!"address");
            fprintf(stderr, "  %s lacks 0x%08x\n", expect[i].board, (unsigned)expect[i].addr);
        }
    }
    const struct board *mini = builtin(&db, "btt-skr-mini");
    if (mini) {
        CHECK_EQ(mini->napp_addresses, 1);
        CHECK(!board_has_app_address(mini, 0x08005000));
    }
    char text[128];
    const struct board *spider = builtin(&db, "fysetc-spider");
    if (spider)
        CHECK_STR(board_app_addresses_text(spider, text, sizeof(text)), "0x08008000");
    const struct board *fly = builtin(&db, "flyboard-mini");
    if (fly)
        CHECK_STR(board_app_addresses_text(fly, text, sizeof(text)), "");
    board_db_free(db);
}

/* What each family does, as the SD route and the virtual board ask it. */
static void test_builtin_families(void)
{
    static const struct {
        const char *board;
        enum board_bootloader family;
        enum board_rename rename;
        bool unique, sd_mode;
        enum board_conversion decodes;
    } expect[] = {
        { "btt-skr-mini", BOARD_BL_RENAME, BOARD_RENAME_REPLACE, false, false, BOARD_CONV_NONE },
        { "btt-skr-v1.3", BOARD_BL_LPC176X, BOARD_RENAME_DELETE_FIRST, false, false, BOARD_CONV_NONE },
        { "fysetc-spider", BOARD_BL_FYSETC, BOARD_RENAME_NO_REPLACE, false, false, BOARD_CONV_NONE },
        { "mks-robin-v12", BOARD_BL_KEEPS_NAME, BOARD_RENAME_NONE, false, true, BOARD_CONV_MKS_ROBIN },
        { "mks-robin-e3", BOARD_BL_RENAME, BOARD_RENAME_REPLACE, false, false, BOARD_CONV_MKS_ROBIN },
        { "creality-v4.2.7", BOARD_BL_UNIQUE_NAME, BOARD_RENAME_NONE, true, true, BOARD_CONV_NONE },
        { "chitu-v6", BOARD_BL_CHITU, BOARD_RENAME_NONE, false, true, BOARD_CONV_CHITU },
        { "btt-octopus-f446-v1", BOARD_BL_RENAME, BOARD_RENAME_REPLACE, false, true, BOARD_CONV_NONE },
    };
    struct board_db *db = NULL;
    for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
        const struct board *b = builtin(&db, expect[i].board);
        if (!b)
            continue;
        CHECK_EQ(b->bootloader, expect[i].family);
        CHECK_EQ(board_bl_rename(b), expect[i].rename);
        CHECK_EQ(board_bl_renames(b), expect[i].rename != BOARD_RENAME_NONE);
        CHECK_EQ(board_bl_unique_names(b), expect[i].unique);
        CHECK_EQ(board_bl_reads_sd_mode(b), expect[i].sd_mode);
        CHECK_EQ(board_bl_decodes(b), expect[i].decodes);
    }
    const struct board *octopus = builtin(&db, "btt-octopus-f446-v1");
    if (octopus) {
        CHECK(octopus->has_dfu);
        CHECK_EQ(octopus->dfu_vid, 0x0483);
        CHECK_EQ(octopus->dfu_pid, 0xdf11);
        CHECK_EQ(octopus->katapult, BOARD_KATAPULT_UNKNOWN);
    }
    const struct board *f103 = builtin(&db, "btt-skr-mini");
    uint16_t vid = 0, pid = 0;
    if (f103)
        CHECK(!board_dfu_ids(f103, &vid, &pid));  /* the F103's ROM bootloader has no USB */
    board_db_free(db);
}

static void test_file_keys(void)
{
    struct mf_err err = { 0 };
    struct board_db *db = load_text(HW "bootloader: fysetc\napplication_address: 0x08008000,0x0800C000\n"
                                       "katapult: CAN\ndfu: 1D50:6015\n", &err);
    CHECK(db != NULL);
    const struct board *b = db ? board_db_find(db, "b", &err) : NULL;
    if (b) {
        CHECK_EQ(b->bootloader, BOARD_BL_FYSETC);
        CHECK_EQ(b->napp_addresses, 2);
        CHECK(board_has_app_address(b, 0x0800c000));
        char text[64];
        CHECK_STR(board_app_addresses_text(b, text, sizeof(text)), "0x08008000, 0x0800c000");
        CHECK_EQ(board_katapult_interface(b), BOARD_KATAPULT_CAN);
        CHECK_STR(board_katapult_name(b->katapult), "can");
        uint16_t vid = 0, pid = 0;
        CHECK(board_dfu_ids(b, &vid, &pid));
        CHECK_EQ(vid, 0x1d50);
        CHECK_EQ(pid, 0x6015);
        const uint32_t *list;
        CHECK_EQ(board_app_addresses(b, &list), 2);
        CHECK_EQ(list[0], 0x08008000);
        CHECK_EQ(list[1], 0x0800c000);
    }
    board_db_free(db);

    /* A file without the key gets the family its other keys describe. */
    db = load_text("[board l]\nmcu: lpc1769\nspi_bus: ssp1\ncs_pin: P0.6\n"
                   "[board c]\nmcu: stm32f103xe\nspi_bus: spi1\ncs_pin: PA4\nunique_name: true\n"
                   "[board k]\nmcu: stm32f103xe\nspi_bus: spi1\ncs_pin: PA4\nfirmware_path: A.BIN\n"
                   "current_firmware_path: a.bin\n", &err);
    CHECK(db != NULL);
    if (db) {
        CHECK_EQ(board_db_find(db, "l", &err)->bootloader, BOARD_BL_LPC176X);
        CHECK_EQ(board_db_find(db, "c", &err)->bootloader, BOARD_BL_UNIQUE_NAME);
        CHECK_EQ(board_db_find(db, "k", &err)->bootloader, BOARD_BL_KEEPS_NAME);
        CHECK_EQ(board_db_find(db, "k", &err)->napp_addresses, 0);
    }
    board_db_free(db);

    /* bootloader: unique-name alone is enough. */
    db = load_text(HW "bootloader: unique-name\n", &err);
    CHECK(db && board_db_find(db, "b", &err)->unique_name);
    board_db_free(db);
}

static void test_errors(void)
{
    expect_error(HW "bootloader: btt\n", "my.cfg:5: [board b] names bootloader 'btt', which is not known");
    expect_error(HW "application_address: 8008000\n", "my.cfg:5: application_address in [board b] must be "
                 "hex addresses such as 0x08008000");
    expect_error(HW "application_address: 0x0800800G\n", "my.cfg:5: application_address in [board b] must be");
    expect_error(HW "application_address: 0x108008000\n", "my.cfg:5: application_address in [board b] must be");
    expect_error(HW "application_address: 0x08008010\n", "my.cfg:5: application_address 0x08008010 in "
                 "[board b] is not on a 256-byte boundary");
    expect_error(HW "application_address: 0x08008000, 0x08008000\n", "gives 0x08008000 twice");
    expect_error(HW "application_address: 0x100, 0x200, 0x300, 0x400, 0x500\n", "gives more than 4 addresses");
    expect_error(HW "application_address:\n", "my.cfg:5: application_address in [board b] has no value");
    expect_error(HW "katapult: spi\n", "my.cfg:5: katapult in [board b] must be usb, uart or can, not 'spi'");
    expect_error(HW "dfu: 0483-df11\n", "my.cfg:5: dfu in [board b] must be the USB ids VID:PID in hex");
    expect_error(HW "dfu: 483:df11\n", "must be the USB ids VID:PID");
    expect_error(HW "dfu: 0483:df1x\n", "must be the USB ids VID:PID");
    expect_error(HW "katapult: usb\nkatapult: can\n", "my.cfg:6: [board b] gives katapult twice");
    expect_error(HW "bootloader: rename\nunique_name: true\n", "my.cfg:1: [board b] says unique_name: true "
                 "but bootloader: rename");
    expect_error(HW "bootloader: chitu\n", "my.cfg:1: [board b] combines bootloader: chitu with conversion: none");
    expect_error(HW "conversion: chitu\nbootloader: rename\n", "combines bootloader: rename with conversion: chitu");
}

int main(void)
{
    test_builtin_addresses();
    test_builtin_families();
    test_file_keys();
    test_errors();
    return check_report("test_board_routes");
}
