/* The dictionaries and firmware images the virtual board generates
 * (`mcuflash-sim make-firmware`), checked against what Klipper's sources
 * declare for each chip and against buildcommands.py's id rules. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "klipper/dict.h"

static char tmpdir[1024], sim[4096];

/* Run make-firmware with these arguments; exit status. */
static int make_firmware(const char *args)
{
    char cmd[16384];
    snprintf(cmd, sizeof(cmd), "'%s' make-firmware %s >'%s/out.txt' 2>&1", sim, args, tmpdir);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 22);
    *len = fread(buf, 1, (1 << 22) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

/* Generate and parse the dictionary for these options. */
static struct kl_dict *dictionary(const char *args, char **text, size_t *len)
{
    char full[4096];
    snprintf(full, sizeof(full), "%s -o '%s/fw.bin' --dict-out '%s/klipper.dict'", args, tmpdir, tmpdir);
    CHECK_EQ(make_firmware(full), 0);
    *text = slurp("klipper.dict", len);
    CHECK(*text != NULL);
    struct kl_dict *d = NULL;
    struct mf_err err;
    if (*text)
        CHECK_EQ(kl_dict_parse(*text, *len, &d, &err), 0);
    return d;
}

/* The wire (encoded) id of a dictionary id, as buildcommands.py numbers them. */
static int encoded(int32_t id)
{
    return id >= 0 ? id : id >= -32 ? id + 128 : id + 0x4000;
}

static int32_t value(const struct kl_dict *d, const char *e, const char *name)
{
    int32_t v = -1000;
    const struct kl_enum *en = kl_dict_enum(d, e);
    if (!en || kl_enum_value(en, name, &v) < 0)
        return -1000;
    return v;
}

/* Ids: identify_response 0, identify 1, commands 2..N, then responses. */
static void check_ids(const struct kl_dict *d)
{
    CHECK(kl_dict_response_exact(d, "identify_response offset=%u data=%.*s") &&
          kl_dict_response_exact(d, "identify_response offset=%u data=%.*s")->id == 0);
    CHECK(kl_dict_command_exact(d, "identify offset=%u count=%c") &&
          kl_dict_command_exact(d, "identify offset=%u count=%c")->id == 1);
    size_t n = d->ncommands, total = n + d->nresponses - 1; /* highest id */
    CHECK(n >= 80 && n <= 110);
    char *seen = calloc(total + 1, 1);
    for (size_t i = 0; i < n; i++) {
        int e = encoded(d->commands[i].id);
        CHECK(e >= 1 && (size_t)e <= n);
        if (e >= 1 && (size_t)e <= n)
            seen[e]++;
    }
    for (size_t i = 0; i < d->nresponses; i++) {
        int e = encoded(d->responses[i].id);
        CHECK(e == 0 || (e > (int)n && (size_t)e <= total));
        if (e >= 0 && (size_t)e <= total)
            seen[e]++;
    }
    for (size_t e = 0; e <= total; e++)
        CHECK_EQ(seen[e], 1);
    free(seen);
}

static void check_static_strings(const struct kl_dict *d)
{
    const struct kl_enum *e = kl_dict_enum(d, "static_string_id");
    CHECK(e != NULL);
    if (!e)
        return;
    char *seen = calloc(e->n + 2, 1);
    for (size_t i = 0; i < e->n; i++) {
        int32_t v = e->entries[i].value;
        CHECK(v >= 2 && (size_t)v < e->n + 2);
        if (v >= 2 && (size_t)v < e->n + 2)
            seen[v]++;
    }
    for (size_t v = 2; v < e->n + 2; v++)
        CHECK_EQ(seen[v], 1);
    free(seen);
    const char *needed[] = { "Command request", "Invalid command", "Command parser error", "Can't assign oid",
                             "Invalid oid type", "oids already allocated", "Already finalized",
                             "Shutdown cleared when not shutdown", "Invalid spi config", NULL };
    for (int i = 0; needed[i]; i++)
        CHECK(value(d, "static_string_id", needed[i]) >= 2);
}

struct chip {
    const char *mcu;
    int64_t clock;
    const char *last_port, *absent_port; /* pin ranges */
    bool sdio;
    const char *bus;     /* a bus name and its number */
    int bus_value;
    const char *absent_bus;
};

static void check_chip(const struct chip *c)
{
    char args[256], *text = NULL;
    size_t len = 0;
    snprintf(args, sizeof(args), "--mcu %s", c->mcu);
    struct kl_dict *d = dictionary(args, &text, &len);
    if (!d) {
        free(text);
        return;
    }
    /* Serialised like json.dumps(separators=(',', ':'), sort_keys=True). */
    CHECK(!strncmp(text, "{\"app\":\"Klipper\",\"build_versions\":\"", 35));
    CHECK(text[len - 1] == '}');
    CHECK(strstr(text, "\"license\":\"GNU GPLv3\",\"responses\":{") != NULL);
    CHECK_STR(kl_dict_const(d, "MCU"), c->mcu);
    int64_t v = 0;
    CHECK(kl_dict_const_int(d, "CLOCK_FREQ", &v) && v == c->clock);
    CHECK(kl_dict_const_int(d, "STATS_SUMSQ_BASE", &v) && v == 256);
    CHECK(kl_dict_const(d, "SERIAL_BAUD") == NULL && kl_dict_const(d, "RECEIVE_WINDOW") == NULL);
    CHECK(kl_dict_const(d, "RESERVE_PINS_USB") != NULL);
    CHECK(d->version && !strncmp(d->version, "v0.", 3));
    check_ids(d);
    check_static_strings(d);
    CHECK(value(d, "pin", c->last_port) >= 0);
    CHECK_EQ(value(d, "pin", c->absent_port), -1000);
    CHECK_EQ(value(d, "spi_bus", c->bus), c->bus_value);
    if (c->absent_bus)
        CHECK_EQ(value(d, "spi_bus", c->absent_bus), -1000);
    CHECK_EQ(kl_dict_command(d, "sdio_send_command") != NULL, c->sdio);
    CHECK_EQ(value(d, "sdio_bus", "sdio"), c->sdio ? 0 : -1000);
    CHECK(kl_dict_command_exact(d, "spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u"));
    CHECK(kl_dict_command_exact(d, "config_spi oid=%c pin=%u cs_active_high=%c"));
    CHECK(kl_dict_command_exact(d, "reset") != NULL);
    /* The firmware image carries exactly zlib.compress(text, 9). */
    size_t fwlen = 0;
    char *fw = slurp("fw.bin", &fwlen);
    uLongf zlen = compressBound((uLong)len);
    uint8_t *z = malloc(zlen);
    CHECK_EQ(compress2(z, &zlen, (const Bytef *)text, (uLong)len, 9), Z_OK);
    CHECK(fw && fwlen == 32768 && memmem(fw, fwlen, z, zlen) != NULL);
    free(z);
    free(fw);
    kl_dict_free(d);
    free(text);
}

static void test_chips(void)
{
    static const struct chip chips[] = {
        { "stm32f103xe", 72000000, "PG15", "PH0", false, "spi3", 3, "spi4" },
        { "stm32f401xc", 84000000, "PH15", "PF0", true, "spi4", 7, "spi6_PG12_PG14_PG13" },
        { "stm32f405xx", 168000000, "PI15", "PJ0", true, "spi2b", 6, "spi4" },
        { "stm32f407xx", 168000000, "PI15", "PJ0", true, "spi2b", 6, "spi4" },
        { "stm32f429xx", 168000000, "PI15", "PJ0", true, "spi6_PG12_PG14_PG13", 8, "spi5" },
        { "stm32f446xx", 180000000, "PH15", "PI0", true, "spi4", 7, "spi6_PG12_PG14_PG13" },
        { "stm32g0b0xx", 64000000, "PF15", "PG0", false, "spi3", 6, "spi3a" },
        { "stm32g0b1xx", 64000000, "PF15", "PG0", false, "spi3", 6, "spi3a" },
        { "stm32h723xx", 520000000, "PH15", "PI0", false, "spi5a", 7, "spi1_PA6_PA7_PA5" },
        { "stm32h743xx", 400000000, "PI15", "PJ0", false, "spi2b", 9, NULL },
        { "lpc1768", 100000000, "P4.31", "P5.0", false, "ssp1", 1, "spi1" },
        { "lpc1769", 120000000, "P0.0", "PA0", false, "ssp0", 0, NULL },
    };
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
        check_chip(&chips[i]);
}

static void test_ids_need_two_bytes_or_are_negative(void)
{
    char *text = NULL;
    size_t len = 0;
    struct kl_dict *d = dictionary("--mcu stm32f407xx", &text, &len);
    if (!d)
        return;
    bool negative = false;
    for (size_t i = 0; i < d->nresponses; i++)
        negative |= d->responses[i].id < 0;
    CHECK(negative);
    /* The SPI commands a flasher uses keep one-byte ids. */
    CHECK(kl_dict_command(d, "spi_transfer")->id < 96);
    CHECK(kl_dict_command(d, "spi_send")->id < 96);
    kl_dict_free(d);
    free(text);
}

static void test_link_and_version(void)
{
    char *text = NULL;
    size_t len = 0;
    struct kl_dict *d = dictionary("--mcu lpc1768 --link uart:250000 --version-string v0.12.0-1-g123", &text, &len);
    if (!d)
        return;
    int64_t v = 0;
    CHECK(kl_dict_const_int(d, "SERIAL_BAUD", &v) && v == 250000);
    CHECK(kl_dict_const_int(d, "RECEIVE_WINDOW", &v) && v == 192);
    CHECK_STR(kl_dict_const(d, "RESERVE_PINS_serial"), "P0.3,P0.2");
    CHECK_STR(d->version, "v0.12.0-1-g123");
    CHECK(!strstr(text, "\n"));
    kl_dict_free(d);
    free(text);
}

static void test_images(void)
{
    char args[2048];
    snprintf(args, sizeof(args), "--mcu stm32f446xx --seed 5 --size 20000 -o '%s/a.bin'", tmpdir);
    CHECK_EQ(make_firmware(args), 0);
    snprintf(args, sizeof(args), "--mcu stm32f446xx --seed 5 --size 20000 -o '%s/b.bin'", tmpdir);
    CHECK_EQ(make_firmware(args), 0);
    snprintf(args, sizeof(args), "--mcu stm32f446xx --seed 6 --size 20000 -o '%s/c.bin'", tmpdir);
    CHECK_EQ(make_firmware(args), 0);
    size_t la = 0, lb = 0, lc = 0;
    char *a = slurp("a.bin", &la), *b = slurp("b.bin", &lb), *c = slurp("c.bin", &lc);
    CHECK(a && b && c && la == 20000 && lb == 20000 && lc == 20000);
    if (a && b && c) {
        CHECK(!memcmp(a, b, la));
        CHECK(memcmp(a, c, la) != 0);
        /* A Cortex-M vector table: initial SP in RAM, a thumb reset vector in flash. */
        uint32_t sp, reset;
        memcpy(&sp, a, 4);
        memcpy(&reset, a + 4, 4);
        CHECK((sp & 0xff000000u) == 0x20000000u);
        CHECK((reset & 0xff000001u) == 0x08000001u);
    }
    free(a);
    free(b);
    free(c);
    /* Errors: unknown MCU, image too small, missing output. */
    snprintf(args, sizeof(args), "--mcu stm32f999 -o '%s/x.bin'", tmpdir);
    CHECK_EQ(make_firmware(args), 2);
    snprintf(args, sizeof(args), "--mcu stm32f446xx --size 1000 -o '%s/x.bin'", tmpdir);
    CHECK_EQ(make_firmware(args), 2);
    CHECK_EQ(make_firmware("--mcu stm32f446xx"), 2);
}

int main(void)
{
    const char *env = getenv("MCUFLASH_SIM"), *t = getenv("MF_TMP");
    if (env && *env) {
        snprintf(sim, sizeof(sim), "%s", env);
    } else {
        ssize_t n = readlink("/proc/self/exe", sim, sizeof(sim) - 32);
        sim[n > 0 ? n : 0] = '\0';
        snprintf(sim + strlen(dirname(sim)), 32, "/../mcuflash-sim");
    }
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_sim_dict.%d", t && *t ? t : "/tmp", (int)getpid());
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    test_chips();
    test_ids_need_two_bytes_or_are_negative();
    test_link_and_version();
    test_images();
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_report("test_sim_dict");
}
