/* The image check every route makes (method/fwprep): what it writes for
 * each encoding and format, the address a route knows better than the
 * board, and the checks it cannot make, with their notes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "firmware/convert.h"
#include "method/fwprep.h"

extern const char mf_builtin_boards_cfg[];

static char tmpdir[1024];
static struct board_db *db;

static const struct board *board(const char *name)
{
    struct mf_err err = { 0 };
    const struct board *b = board_db_find(db, name, &err);
    CHECK(b != NULL);
    return b;
}

static char *path_of(const char *name)
{
    static char path[8][1200];
    static int next;
    next = (next + 1) % 8;
    snprintf(path[next], sizeof(path[next]), "%s/%s", tmpdir, name);
    return path[next];
}

/* mcuflash-sim make-firmware ARGS -o NAME. */
static void make_fw(const char *name, const char *args)
{
    char cmd[8192];
    snprintf(cmd, sizeof(cmd), "'%s' make-firmware %s -o '%s' >/dev/null", getenv("MCUFLASH_SIM"), args,
             path_of(name));
    int st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static uint8_t *slurp(const char *name, size_t *len)
{
    FILE *f = fopen(path_of(name), "rb");
    uint8_t *buf = malloc(1 << 22);
    *len = f ? fread(buf, 1, 1 << 22, f) : 0;
    if (f)
        fclose(f);
    return buf;
}

static void spill(const char *name, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path_of(name), "wb");
    CHECK(f && fwrite(data, 1, len, f) == len);
    if (f)
        fclose(f);
}

static void expect_ok(const char *file, const struct mf_fw_target *t, struct mf_firmware *fw)
{
    struct mf_err err = { 0 };
    int rc = mf_firmware_check(path_of(file), NULL, t, fw, &err);
    CHECK_EQ(rc, 0);
    if (rc)
        fprintf(stderr, "  %s: %s\n", file, err.msg);
}

/* The card gets a Chitu or Robin file as it is, and the other encoding or
 * a plain image made from the plain bytes. */
static void test_encodings(void)
{
    make_fw("chitu.bin", "--board chitu-v6");
    size_t len, clen;
    uint8_t *plain = slurp("chitu.bin", &len), *cbd;
    CHECK_EQ(fw_chitu_encode(plain, len, &cbd, &clen, NULL), 0);
    spill("update.cbd", cbd, clen);
    struct mf_fw_target t = { .board = board("chitu-v6"), .accepts = MF_ACCEPT_CARD };
    struct mf_firmware fw;
    expect_ok("update.cbd", &t, &fw);
    CHECK_EQ(fw.encoding, FW_ENC_CHITU);
    CHECK_EQ(fw.link.address, 0x08008800);
    CHECK_EQ(fw.card.size, clen);
    if (fw.card.size == clen)
        CHECK_MEM(fw.card.data, cbd, clen);
    mf_firmware_free(&fw);
    /* The plain file is encoded for the card; a USB route gets plain bytes. */
    expect_ok("chitu.bin", &t, &fw);
    CHECK(fw_chitu_has_magic(fw.card.data, fw.card.size));
    mf_firmware_free(&fw);
    t.accepts = 0;
    expect_ok("update.cbd", &t, &fw);
    CHECK_EQ(fw.card.size, len);
    if (fw.card.size == len)
        CHECK_MEM(fw.card.data, plain, len);
    mf_firmware_free(&fw);
    free(cbd);
    free(plain);

    make_fw("robin.bin", "--board mks-robin-e3");
    plain = slurp("robin.bin", &len);
    uint8_t *enc = malloc(len);
    memcpy(enc, plain, len);
    fw_robin_xor(enc, len);
    spill("Robin_e3.bin", enc, len);
    t = (struct mf_fw_target){ .board = board("mks-robin-e3"), .accepts = MF_ACCEPT_CARD };
    expect_ok("Robin_e3.bin", &t, &fw);
    CHECK_EQ(fw.encoding, FW_ENC_ROBIN);
    CHECK_EQ(fw.card.size, len);
    if (fw.card.size == len)
        CHECK_MEM(fw.card.data, enc, len);  /* not encoded twice */
    CHECK_STR(fw.version, "v0.13.0-123-gabcdef12-sim");
    mf_firmware_free(&fw);
    /* A route that writes plain images gets the decoded bytes. */
    t.accepts = 0;
    expect_ok("Robin_e3.bin", &t, &fw);
    if (fw.card.size == len)
        CHECK_MEM(fw.card.data, plain, len);
    mf_firmware_free(&fw);
    free(enc);
    free(plain);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A UF2 of NAME.bin placed at base. */
static void make_uf2(const char *bin, uint32_t base, const char *out)
{
    size_t len;
    uint8_t *data = slurp(bin, &len);
    size_t nblocks = (len + 255) / 256;
    uint8_t *f = calloc(nblocks, 512);
    for (size_t i = 0; i < nblocks; i++) {
        uint8_t *b = f + 512 * i;
        size_t n = len - 256 * i < 256 ? len - 256 * i : 256;
        put32(b, 0x0A324655), put32(b + 4, 0x9E5D5157), put32(b + 12, base + 256 * (uint32_t)i);
        put32(b + 16, 256), put32(b + 20, (uint32_t)i), put32(b + 24, (uint32_t)nblocks);
        memcpy(b + 32, data + 256 * i, n);
        put32(b + 508, 0x0AB16F30);
    }
    spill(out, f, nblocks * 512);
    free(f);
    free(data);
}

static void test_uf2_routes(void)
{
    make_fw("mini.bin", "--board btt-skr-mini");
    make_uf2("mini.bin", 0x08007000, "mini.uf2");
    size_t ulen, blen;
    uint8_t *uf2 = slurp("mini.uf2", &ulen), *bin = slurp("mini.bin", &blen);
    struct mf_fw_target t = { .board = board("btt-skr-mini"), .accepts = MF_ACCEPT_UF2 };
    struct mf_firmware fw;
    expect_ok("mini.uf2", &t, &fw);
    CHECK_EQ(fw.format, FW_FORMAT_UF2);
    CHECK_EQ(fw.link.status, FW_LINK_KNOWN);
    CHECK_EQ(fw.card.size, ulen);  /* taken as it is */
    mf_firmware_free(&fw);
    t.accepts = MF_ACCEPT_CARD;
    expect_ok("mini.uf2", &t, &fw);
    CHECK_EQ(fw.card.size, blen);  /* converted */
    if (fw.card.size == blen)
        CHECK_MEM(fw.card.data, bin, blen);
    mf_firmware_free(&fw);
    /* Placed at 0x08008000 by the UF2, refused for the 28KiB board. */
    make_uf2("mini.bin", 0x08008000, "moved.uf2");
    struct mf_err err = { 0 };
    CHECK_EQ(mf_firmware_check(path_of("moved.uf2"), NULL, &t, &fw, &err), -1);
    CHECK_EQ(err.code, MF_E_MISMATCH);
    CHECK(strstr(err.msg, "moved.uf2 places its data at 0x08008000, where its stm32f103xe vector table does not "
                          "fit (reset handler 0x08007101), and the bootloader of board btt-skr-mini starts the "
                          "application at 0x08007000; nothing was changed;") != NULL);
    mf_firmware_free(&fw);
    free(uf2);
    free(bin);
}

/* Katapult and DfuSe know the start address themselves. */
static void test_route_address(void)
{
    struct mf_fw_target t = { .mcu = "stm32f103xe", .have_app_address = true, .app_address = 0x08008000 };
    struct mf_firmware fw;
    struct mf_err err = { 0 };
    CHECK_EQ(mf_firmware_check(path_of("mini.bin"), NULL, &t, &fw, &err), -1);
    char want[1024];
    snprintf(want, sizeof(want), "%s was linked for 0x08007000 (\"28KiB bootloader\"), but the board's bootloader "
             "starts the application at 0x08008000; nothing was changed; run 'make menuconfig' in ~/klipper, set "
             "\"Bootloader offset\" to \"32KiB bootloader\", rebuild and try again.", path_of("mini.bin"));
    CHECK_STR(err.msg, want);
    mf_firmware_free(&fw);
    t.app_address = 0x08007000;
    expect_ok("mini.bin", &t, &fw);
    CHECK_EQ(fw.link.address, 0x08007000);
    CHECK_STR(fw.note, "");
    mf_firmware_free(&fw);
    t.mcu = "stm32f407xx";
    CHECK_EQ(mf_firmware_check(path_of("mini.bin"), NULL, &t, &fw, &err), -1);
    CHECK(strstr(err.msg, "was built for a stm32f103xe, but the board's bootloader reports a stm32f407xx") != NULL);
    mf_firmware_free(&fw);
}

/* A board with two variants: either offset passes, another is refused
 * naming both. */
static void test_variants(void)
{
    make_fw("s6.bin", "--board fysetc-s6-v2");
    make_fw("spider.bin", "--board fysetc-spider");
    make_fw("f446-48k.bin", "--board fysetc-spider --app-address 0x0800c000");
    struct mf_fw_target t = { .board = board("two-variants"), .accepts = MF_ACCEPT_CARD };
    struct mf_firmware fw;
    expect_ok("s6.bin", &t, &fw);
    CHECK_EQ(fw.link.address, 0x08010000);
    mf_firmware_free(&fw);
    expect_ok("spider.bin", &t, &fw);
    CHECK_EQ(fw.link.address, 0x08008000);
    mf_firmware_free(&fw);
    struct mf_err err = { 0 };
    CHECK_EQ(mf_firmware_check(path_of("f446-48k.bin"), NULL, &t, &fw, &err), -1);
    CHECK(strstr(err.msg, "was linked for 0x0800c000 (\"48KiB bootloader\"), but the bootloader of board "
                          "two-variants starts the application at 0x08008000 or 0x08010000; nothing was changed; "
                          "run 'make menuconfig' in ~/klipper, set \"Bootloader offset\" to \"32KiB bootloader\" or "
                          "\"64KiB bootloader\" (the one of your board's variant)") != NULL);
    mf_firmware_free(&fw);
}

/* Checks that cannot be made say so. */
static void test_notes(void)
{
    struct mf_err err = { 0 };
    struct mf_fw_target t = { .board = board("nowhere"), .accepts = MF_ACCEPT_CARD };
    struct mf_firmware fw;
    expect_ok("mini.bin", &t, &fw);
    CHECK_STR(fw.note, "nowhere gives no application address, so the bootloader offset was not checked.");
    mf_firmware_free(&fw);

    /* An AVR build: bytes carrying a dictionary that names the atmega2560. */
    char args[1400];
    snprintf(args, sizeof(args), "--mcu stm32f103xe --dict-out '%s'", path_of("f103.dict"));
    make_fw("f103.bin", args);
    size_t jlen;
    char *f103 = (char *)slurp("f103.dict", &jlen), json[1 << 16] = "";
    f103[jlen] = '\0';
    char *at = strstr(f103, "stm32f103xe");
    CHECK(at != NULL);
    if (at)
        snprintf(json, sizeof(json), "%.*satmega2560%s", (int)(at - f103), f103, at + strlen("stm32f103xe"));
    free(f103);
    uLongf zlen = compressBound(strlen(json));
    uint8_t img[16384], z[16384];
    CHECK_EQ(compress2(z, &zlen, (const uint8_t *)json, strlen(json), 9), Z_OK);
    for (size_t i = 0; i < sizeof(img); i++)
        img[i] = (uint8_t)(i * 13 + 1);
    memcpy(img + 100, z, zlen);
    spill("avr.bin", img, sizeof(img));
    t.board = board("avr");
    expect_ok("avr.bin", &t, &fw);
    CHECK_STR(fw.note, "Images for the atmega2560 have no vector table to read the link address from, so the "
                       "bootloader offset was not checked.");
    mf_firmware_free(&fw);
    /* Too big for its 256 KiB all the same. */
    uint8_t *big = calloc(1, 300000);
    memcpy(big + 1000, z, zlen);
    spill("avr-big.bin", big, 300000);
    free(big);
    CHECK_EQ(mf_firmware_check(path_of("avr-big.bin"), NULL, &t, &fw, &err), -1);
    CHECK(strstr(err.msg, "is 300000 bytes, but the atmega2560 has only 262144 bytes of flash from 0x00000000") != NULL);
    mf_firmware_free(&fw);
}

static void test_card_room(void)
{
    struct mf_fw_target t = { .board = board("btt-skr-mini"), .accepts = MF_ACCEPT_CARD };
    struct mf_firmware fw;
    expect_ok("mini.bin", &t, &fw);
    struct mf_err err = { 0 };
    CHECK_EQ(mf_firmware_check_room(&fw, 32768, "the card", &err), 0);
    CHECK_EQ(mf_firmware_check_room(&fw, 32767, "the card", &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK_STR(err.msg, "firmware.bin needs 32768 bytes but the card has only 32767 free; nothing was written; "
                       "delete files from the card or use a larger one.");
    mf_firmware_free(&fw);
}

int main(void)
{
    const char *base = getenv("MF_TMP");
    snprintf(tmpdir, sizeof(tmpdir), "%s/fwprep.%d", base ? base : "/tmp", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0 || !getenv("MCUFLASH_SIM"))
        return 1;
    struct mf_err err = { 0 };
    db = board_db_new();
    CHECK_EQ(board_db_add_text(db, mf_builtin_boards_cfg, NULL, &err), 0);
    CHECK_EQ(board_db_add_text(db, "[board nowhere]\nmcu: stm32f103xe\nspi_bus: spi1\ncs_pin: PA4\n"
                                   "[board avr]\nmcu: atmega2560\nspi_bus: spi\ncs_pin: PB0\n"
                                   "[board two-variants]\nmcu: stm32f446xx\nspi_bus: spi1\ncs_pin: PA4\n"
                                   "application_address: 0x08008000, 0x08010000\n", "t.cfg", &err), 0);
    CHECK_EQ(board_db_finish(db, &err), 0);
    test_encodings();
    test_uf2_routes();
    test_route_address();
    test_variants();
    test_card_room();
    test_notes();
    board_db_free(db);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK_EQ(system(cmd), 0);
    return check_report("test_method_fwprep");
}
