/* `mcuflash-sim make-firmware`: a fake klipper.bin for an MCU.  Pseudo-
 * random bytes behind a Cortex-M style vector table linked for the board's
 * application address, with the zlib level 9 dictionary stored verbatim and
 * contiguous inside, as a real build's .rodata carries it (found by
 * scanning for 78 DA and inflating).  Flash and RAM come from the same MCU
 * table mcuflash checks images against. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"
#include "dictgen.h"
#include "firmware/format.h"
#include "firmware/mcu.h"
#include "klipper/dict.h"
#include "faults.h"
#include "katapult.h"
#include "katapult_flash.h"
#include "sim.h"

#define DEFAULT_SIZE 32768u
#define VECTORS 64
#define MAX_SIZE (16u << 20)

struct fw_options {
    const char *mcu, *dict, *version, *out, *dict_out, *board;
    bool have_app_address;
    uint32_t app_address;
    const char *board_files[SIM_BOARD_FILES_MAX];
    size_t nboard_files;
    uint32_t uf2_family;      /* -o FILE.uf2: the family id its blocks carry */
    enum sim_link_kind link;
    uint32_t baud;            /* UART baud, or a CAN build's bus speed */
    uint32_t canbus_frequency; /* --canbus-frequency, 0 if not given */
    bool katapult;             /* --bootloader katapult: link where Katapult starts the application */
    size_t size;
    uint64_t seed;
};

/* Where the application sits when neither a board nor --app-address says:
 * after the bootloader most boards of the MCU's family carry. */
static uint32_t usual_app_address(const struct fw_mcu *m)
{
    static const struct {
        const char *prefix;
        uint32_t offset;
    } usual[] = {
        { "stm32f1", 0x7000 }, { "stm32f4", 0x8000 }, { "stm32g0", 0x2000 }, { "stm32h7", 0x20000 },
        { "lpc176", 0x4000 },
    };
    for (size_t i = 0; i < sizeof(usual) / sizeof(usual[0]); i++)
        if (!strncmp(m->name, usual[i].prefix, strlen(usual[i].prefix)))
            return m->flash_base + usual[i].offset;
    return m->flash_base;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* Random code behind a vector table for base: the stack at the top of RAM,
 * the reset handler right after the table and the last handler at the end
 * of the image, so the table fits base and no other bootloader offset. */
static void fill_image(uint8_t *img, size_t size, const struct fw_mcu *m, uint32_t base, uint64_t seed,
                       const uint8_t *z, size_t zlen, size_t off)
{
    uint64_t rng = seed;
    for (size_t i = 0; i < size; i += 8) {
        uint64_t r = sim_rand(&rng);
        for (size_t k = 0; k < 8 && i + k < size; k++)
            img[i + k] = (uint8_t)(r >> (8 * k));
    }
    /* An RP2040 build without bootloader starts with boot stage 2. */
    uint32_t table = base == m->flash_base ? m->boot_stage_bytes : 0;
    put_le32(img + table, m->ram_end);
    uint32_t code = base + table + VECTORS * 4, span = (uint32_t)size - table - VECTORS * 4 - 2;
    for (unsigned v = 1; v < VECTORS; v++) {
        uint32_t handler = v == 1 ? code : v == 2 ? code + span : code + (uint32_t)(sim_rand(&rng) % span);
        put_le32(img + table + 4 * v, (handler & ~1u) | 1);
    }
    memcpy(img + off, z, zlen);
}

static int write_file(const char *path, const void *data, size_t len, struct mf_err *err)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return mf_fail(err, MF_E_INPUT, "Cannot create %s (%s); nothing was written.", path, strerror(errno));
    int bad = fwrite(data, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad)
        return mf_fail(err, MF_E_INPUT, "Writing %s failed; the file may be incomplete. Check the disk.", path);
    return 0;
}

/* UF2 as Klipper's elf2uf2 writes it: one 256-byte page per block, each
 * flagged with the family id. */
static int write_uf2(const char *path, const uint8_t *img, size_t size, uint32_t base, uint32_t family,
                     struct mf_err *err)
{
    size_t nblocks = (size + 255) / 256;
    uint8_t *out = calloc(nblocks, 512);
    if (!out)
        return mf_fail(err, MF_E_FAIL, "Out of memory for %s; nothing was written.", path);
    for (size_t i = 0; i < nblocks; i++) {
        uint8_t *b = out + 512 * i;
        size_t n = size - 256 * i < 256 ? size - 256 * i : 256;
        put_le32(b, 0x0A324655u);
        put_le32(b + 4, 0x9E5D5157u);
        put_le32(b + 8, 0x00002000u);
        put_le32(b + 12, base + (uint32_t)(256 * i));
        put_le32(b + 16, 256);
        put_le32(b + 20, (uint32_t)i);
        put_le32(b + 24, (uint32_t)nblocks);
        put_le32(b + 28, family);
        memcpy(b + 32, img + 256 * i, n);
        put_le32(b + 508, 0x0AB16F30u);
    }
    int rc = write_file(path, out, nblocks * 512, err);
    free(out);
    return rc;
}

static bool uf2_name(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcmp(path + n - 4, ".uf2");
}

static int parse_number(const char *opt, const char *v, uint64_t max, uint64_t *out, struct mf_err *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end || errno || n > max) {
        mf_fail(err, MF_E_USAGE, "%s needs a number up to %llu, not '%s'; nothing was written.", opt,
                (unsigned long long)max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int parse_fw_options(int argc, char **argv, struct fw_options *o, struct mf_err *err)
{
    memset(o, 0, sizeof(*o));
    o->size = DEFAULT_SIZE;
    o->seed = 1;
    o->uf2_family = FW_UF2_FAMILY_RP2040;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return 1;
        if (i + 1 >= argc)
            return mf_fail(err, MF_E_USAGE, "Option %s needs a value (or is unknown); nothing was written.", a);
        const char *v = argv[++i];
        uint64_t n;
        if (!strcmp(a, "--mcu"))
            o->mcu = v;
        else if (!strcmp(a, "--board"))
            o->board = v;
        else if (!strcmp(a, "--board-file")) {
            if (sim_add_board_file(o->board_files, &o->nboard_files, v, err) < 0)
                return -1;
        } else if (!strcmp(a, "--dict")) {
            o->dict = v;
        } else if (!strcmp(a, "--app-address")) {
            if (parse_number(a, v, UINT32_MAX, &n, err) < 0)
                return -1;
            o->have_app_address = true;
            o->app_address = (uint32_t)n;
        } else if (!strcmp(a, "--version-string"))
            o->version = v;
        else if (!strcmp(a, "-o"))
            o->out = v;
        else if (!strcmp(a, "--dict-out"))
            o->dict_out = v;
        else if (!strcmp(a, "--link")) {
            if (sim_parse_link(v, &o->link, &o->baud, err) < 0)
                return -1;
        } else if (!strcmp(a, "--bootloader")) {
            if (strcmp(v, "katapult"))
                return mf_fail(err, MF_E_USAGE, "--bootloader takes 'katapult', not '%s'; nothing was written.", v);
            o->katapult = true;
        } else if (!strcmp(a, "--canbus-frequency")) {
            if (parse_number(a, v, 10000000, &n, err) < 0 || n == 0)
                return n == 0 ? mf_fail(err, MF_E_USAGE, "--canbus-frequency needs a bit rate above 0; nothing "
                                        "was written.") : -1;
            o->canbus_frequency = (uint32_t)n;
        } else if (!strcmp(a, "--size")) {
            if (parse_number(a, v, MAX_SIZE, &n, err) < 0)
                return -1;
            o->size = (size_t)n;
        } else if (!strcmp(a, "--uf2-family")) {
            if (parse_number(a, v, UINT32_MAX, &n, err) < 0)
                return -1;
            o->uf2_family = (uint32_t)n;
        } else if (!strcmp(a, "--seed")) {
            if (parse_number(a, v, UINT64_MAX, &n, err) < 0)
                return -1;
            o->seed = n;
        } else {
            return mf_fail(err, MF_E_USAGE, "Unknown option '%s'; nothing was written. See --help.", a);
        }
    }
    if (!o->out || !!o->mcu + !!o->dict + !!o->board != 1)
        return mf_fail(err, MF_E_USAGE,
                       "make-firmware needs -o FILE and exactly one of --board, --mcu or --dict; nothing was "
                       "written.");
    if (o->nboard_files && !o->board)
        return mf_fail(err, MF_E_USAGE, "--board-file goes with --board; nothing was written.");
    if (o->canbus_frequency && o->link != SIM_LINK_CAN && o->link != SIM_LINK_USBCAN)
        return mf_fail(err, MF_E_USAGE, "--canbus-frequency goes with --link can or usb-can; nothing was written.");
    if (o->canbus_frequency)
        o->baud = o->canbus_frequency;
    if (o->version && sim_check_version(o->version, err) < 0)
        return -1;
    return 0;
}

/* The MCU the image is for: --mcu, the board's, or the dictionary's. */
static const struct fw_mcu *image_mcu(const struct fw_options *o, const char *json, size_t len, struct mf_err *err)
{
    const char *name = o->mcu;
    struct kl_dict *d = NULL;
    if (!name && kl_dict_parse(json, len, &d, err) == 0)
        name = kl_dict_const(d, "MCU");
    const struct fw_mcu *m = fw_mcu_find(name);
    if (!m || m->arch != FW_ARCH_CORTEX_M)
        mf_fail(err, MF_E_USAGE, "make-firmware builds Cortex-M images only, and the MCU %s is not one it knows; "
                "nothing was written.", name ? name : "(not stated in the dictionary)");
    kl_dict_free(d);
    return m && m->arch == FW_ARCH_CORTEX_M ? m : NULL;
}

static int make_firmware(const struct fw_options *o, struct mf_err *err)
{
    char *json = NULL;
    size_t len = 0;
    uint8_t *z = NULL, *img = NULL;
    size_t zlen = 0;
    int rc = -1;
    if (sim_identity_json(o->mcu, o->dict, o->version, o->link, o->baud, &json, &len, err) < 0)
        goto out;
    const struct fw_mcu *m = image_mcu(o, json, len, err);
    if (!m)
        goto out;
    /* Katapult on the virtual board starts the application where its
     * Kconfig does by default; an image made for it flashes unchanged. */
    const struct flash_family *fam = o->katapult ? flash_family_for(m->name) : NULL;
    uint32_t base = o->have_app_address ? o->app_address
                  : fam ? katapult_default_start(fam, m->flash_base) : usual_app_address(m);
    if (!fw_mcu_room(m, base) || base & 0xff) {
        mf_fail(err, MF_E_USAGE, "--app-address 0x%08x is not a 256-byte boundary inside the flash of a %s; "
                "nothing was written.", (unsigned)base, m->name);
        goto out;
    }
    if (sim_zlib_compress(json, len, &z, &zlen) < 0) {
        mf_fail(err, MF_E_FAIL, "Could not compress the dictionary (out of memory); nothing was written.");
        goto out;
    }
    /* The vector table (after an RP2040's boot stage 2) and some code. */
    size_t room = (base == m->flash_base ? m->boot_stage_bytes : 0) + VECTORS * 4 + 256;
    if (o->size < zlen + 2 * room) {
        mf_fail(err, MF_E_USAGE, "--size must be at least %zu bytes to hold the dictionary; nothing was written.",
                zlen + 2 * room);
        goto out;
    }
    img = malloc(o->size);
    if (!img) {
        mf_fail(err, MF_E_FAIL, "Out of memory for a %zu-byte image; nothing was written.", o->size);
        goto out;
    }
    /* Three quarters in, where a build's read-only data tends to sit. */
    size_t off = (room + (o->size - zlen - 2 * room) * 3 / 4) & ~(size_t)3;
    fill_image(img, o->size, m, base, o->seed, z, zlen, off);
    int wrote = uf2_name(o->out) ? write_uf2(o->out, img, o->size, base, o->uf2_family, err)
                                 : write_file(o->out, img, o->size, err);
    if (wrote < 0 || (o->dict_out && write_file(o->dict_out, json, len, err) < 0))
        goto out;
    printf("%s: %zu bytes linked for 0x%08x, dictionary of %zu bytes (zlib) at offset %zu\n", o->out, o->size,
           (unsigned)base, zlen, off);
    rc = 0;
out:
    free(json);
    free(z);
    free(img);
    return rc;
}

/* --board NAME: the board's MCU and, unless --app-address says, its first
 * application address. */
static int board_mcu(struct fw_options *o, struct board_db **db, struct mf_err *err)
{
    const struct board *b;
    if (!o->board)
        return 0;
    if (sim_find_board(o->board, o->board_files, o->nboard_files, db, &b, err) < 0)
        return -1;
    o->mcu = b->mcu;
    if (!o->have_app_address && !o->katapult && b->napp_addresses) {
        o->have_app_address = true;
        o->app_address = b->app_addresses[0];
    }
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash-sim make-firmware (--board NAME | --mcu TYPE | --dict FILE) -o FILE\n"
            "                    [--app-address ADDR] [--board-file FILE]... [--version-string V]\n"
            "                    [--bootloader katapult] [--link usb|uart:BAUD|can|usb-can]\n"
            "                    [--canbus-frequency N] [--size BYTES] [--seed N] [--dict-out FILE]\n"
            "                    [--uf2-family ID]\n"
            "\n"
            "Write a fake klipper.bin (klipper.uf2 when FILE ends in .uf2, its blocks carrying\n"
            "family ID, the RP2040's by default): a vector table linked for ADDR (--app-address), where\n"
            "Katapult starts the application on the virtual board (--bootloader katapult),\n"
            "the board's application address (--board), or the usual one of the MCU's family,\n"
            "and the dictionary a virtual board with the same options reports.\n"
            "See docs/sim.md.\n");
}

int sim_make_firmware_main(int argc, char **argv)
{
    struct fw_options o;
    struct mf_err err = { 0 };
    struct board_db *db = NULL;
    int rc = parse_fw_options(argc, argv, &o, &err);
    if (rc > 0) {
        usage(stdout);
        return 0;
    }
    if (rc < 0 || board_mcu(&o, &db, &err) < 0 || make_firmware(&o, &err) < 0) {
        fprintf(stderr, "mcuflash-sim make-firmware: %s\n", err.msg);
        rc = err.code ? err.code : MF_E_FAIL;
    }
    board_db_free(db);
    return rc;
}
