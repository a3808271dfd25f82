/* The SD-card bootloader model: pick the file, decode it, check that it is
 * firmware for this MCU, program it, rename it; one line of result. */
#include "bootloader.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board/board.h"
#include "bootcard.h"
#include "fat/fat.h"
#include "firmware/convert.h"
#include "firmware/image.h"
#include "firmware/mcu.h"
#include "firmware/vectors.h"
#include "klipper/dict.h"
#include "timing_model.h"

/* Erase and program as a Cortex-M bootloader manages; clocks, card
 * power-up and mount at start. */
#define FLASH_BYTES_PER_S BOOT_FLASH_BYTES_PER_S
#define START_US BOOT_START_US
#define FYSETC_MIN_READ 8        /* its bootloader gives up on a first read shorter than this */

void boot_rules_for(const struct board *b, struct boot_rules *r)
{
    static const enum boot_rename renames[] = {
        [BOARD_RENAME_NONE] = BOOT_NO_RENAME,
        [BOARD_RENAME_REPLACE] = BOOT_RENAME_REPLACE,
        [BOARD_RENAME_DELETE_FIRST] = BOOT_RENAME_DELETE_FIRST,
        [BOARD_RENAME_NO_REPLACE] = BOOT_RENAME_NO_REPLACE,
    };
    *r = (struct boot_rules){
        .family = board_bootloader_name(b->bootloader),
        .pick = board_bl_unique_names(b) ? BOOT_PICK_UNIQUE_BIN : BOOT_PICK_NAMED,
        .rename = renames[board_bl_rename(b)],
        .sd_mode = board_bl_reads_sd_mode(b),
        .min_size = b->bootloader == BOARD_BL_FYSETC ? FYSETC_MIN_READ : 1,
    };
    /* Only a bootloader that replaces the old file renames an empty one. */
    r->rename_empty = r->rename == BOOT_RENAME_REPLACE;
}

/* One run on a mounted card. */
struct boot_ctx {
    struct sim_boot *bl;
    const struct board *b;
    struct sim_flash *flash;
    struct fat_volume *vol;
    struct fat_entry file;
    char path[FAT_NAME_MAX + 2];
    uint8_t *data;
    size_t size;
    uint64_t flash_us;
};

__attribute__((format(printf, 2, 3))) static void say(struct sim_boot *bl, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bl->result, sizeof(bl->result), fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void say_more(struct sim_boot *bl, const char *fmt, ...)
{
    size_t n = strlen(bl->result);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(bl->result + n, sizeof(bl->result) - n, fmt, ap);
    va_end(ap);
}

/* --- finding the file --- */

static bool ends_with_bin(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && !strcasecmp(name + n - 4, ".bin");
}

static bool wanted(const struct boot_ctx *c, const struct fat_entry *e)
{
    if (e->attr & (FAT_ATTR_DIRECTORY | FAT_ATTR_VOLUME_ID))
        return false;
    if (c->bl->rules.pick == BOOT_PICK_UNIQUE_BIN)
        return ends_with_bin(e->name) && strcasecmp(e->name, c->flash->last_name);
    return !strcasecmp(e->name, c->b->firmware_path) || !strcasecmp(e->short_name, c->b->firmware_path);
}

/* 1 with c->file set, 0 if there is none, -1 on a damaged directory. */
static int pick_file(struct boot_ctx *c, struct mf_err *err)
{
    struct fat_dir *dir;
    if (fat_dir_open(c->vol, "/", &dir, err) < 0)
        return -1;
    int rc;
    do
        rc = fat_dir_next(dir, &c->file, err);
    while (rc == 1 && !wanted(c, &c->file));
    fat_dir_close(dir);
    if (rc == 1)
        snprintf(c->path, sizeof(c->path), "/%s", c->file.name);
    return rc;
}

static int read_file(struct boot_ctx *c, struct mf_err *err)
{
    struct fat_file *f;
    if (fat_open(c->vol, c->path, &f, err) < 0)
        return -1;
    c->size = fat_file_size(f);
    c->data = malloc(c->size ? c->size : 1);
    size_t got = 0;
    ssize_t n = 1;
    while (c->data && got < c->size && (n = fat_read(f, c->data + got, c->size - got, err)) > 0)
        got += (size_t)n;
    fat_close(f);
    if (!c->data)
        return mf_fail(err, MF_E_FAIL, "out of memory");
    return got == c->size ? 0 : n < 0 ? -1 : mf_fail(err, MF_E_FS, "the file ended early");
}

/* --- after flashing --- */

static void rename_file(struct boot_ctx *c)
{
    const char *cur = c->b->current_firmware_path;
    char to[FAT_NAME_MAX + 2];
    snprintf(to, sizeof(to), "/%s", cur);
    struct mf_err err = { 0 };
    struct fat_entry existing;
    enum boot_rename how = c->bl->rules.rename;
    if (how == BOOT_NO_RENAME) {
        say_more(c->bl, "; left as %s", c->file.name);
        return;
    }
    int exists = fat_stat(c->vol, to, &existing, &err);
    if (how == BOOT_RENAME_NO_REPLACE && exists == 1) {
        say_more(c->bl, "; rename failed: %s exists", cur);
        return;
    }
    if (how == BOOT_RENAME_DELETE_FIRST && exists == 1 && fat_delete(c->vol, to, &err) < 0) {
        say_more(c->bl, "; rename failed: %s", err.msg);
        return;
    }
    unsigned flags = how == BOOT_RENAME_REPLACE ? FAT_RENAME_REPLACE : 0;
    if (exists < 0 || fat_rename(c->vol, c->path, to, flags, &err) < 0)
        say_more(c->bl, "; rename failed: %s", err.msg);
    else
        say_more(c->bl, "; renamed to %s", cur);
}

/* --- decoding and checking --- */

static bool decode(struct boot_ctx *c)
{
    enum board_conversion decodes = board_bl_decodes(c->b);
    if (decodes == BOARD_CONV_MKS_ROBIN) {
        fw_robin_xor(c->data, c->size);
    } else if (decodes == BOARD_CONV_CHITU) {
        uint8_t *plain;
        size_t len;
        struct mf_err err = { 0 };
        if (!fw_chitu_has_magic(c->data, c->size)) {
            say(c->bl, "%s is not a Chitu image (no header); not flashed", c->file.name);
            return false;
        }
        if (fw_chitu_decode(c->data, c->size, &plain, &len, &err) < 0) {
            say(c->bl, "checksum failed: %s not flashed", c->file.name);
            return false;
        }
        free(c->data);
        c->data = plain;
        c->size = len;
    }
    return true;
}

struct image_id {
    char *json;          /* NULL: no Klipper dictionary in the image */
    size_t len;
    char mcu[64], version[128];
};

static int image_identity(const uint8_t *data, size_t size, struct image_id *id)
{
    memset(id, 0, sizeof(*id));
    struct fw_dict_info info;
    struct mf_err err = { 0 };
    if (fw_find_dict(data, size, &info, &err) < 0)
        return -1;
    size_t used;
    if (info.status == FW_DICT_FOUND &&
        kl_zlib_inflate(data + info.offset, size - info.offset, &id->json, &id->len, &used) == 0) {
        snprintf(id->mcu, sizeof(id->mcu), "%s", info.mcu ? info.mcu : "");
        snprintf(id->version, sizeof(id->version), "%s", info.version ? info.version : "?");
    }
    fw_dict_info_free(&info);
    return 0;
}

/* The chip starts the application through the vector table at the board's
 * application address: an image linked for another address would crash at
 * its first instruction, so the model refuses it instead of running it. */
static bool linked_for_board(struct boot_ctx *c)
{
    const struct fw_mcu *m = fw_mcu_find(c->b->mcu);
    if (!m || m->arch != FW_ARCH_CORTEX_M || !c->b->napp_addresses)
        return true;
    for (size_t i = 0; i < c->b->napp_addresses; i++)
        if (fw_vectors_fit(m, c->data, c->size, c->b->app_addresses[i]))
            return true;
    struct fw_link link;
    fw_link_infer(m, c->data, c->size, NULL, 0, &link);
    /* Not an application at all: flashed, and the board stays silent. */
    if (link.status == FW_LINK_NO_VECTORS)
        return true;
    char linked[48] = "another address";
    if (link.status == FW_LINK_INFERRED)
        snprintf(linked, sizeof(linked), "0x%08x", (unsigned)link.address);
    say(c->bl, "image linked for %s refused: %s is left on the card (this board starts applications at 0x%08x; "
        "the chip would crash)", linked, c->file.name, (unsigned)c->b->app_addresses[0]);
    return false;
}

/* Program the decoded image if it is for this MCU; true if flashed. */
static bool program(struct boot_ctx *c)
{
    struct image_id id;
    if (image_identity(c->data, c->size, &id) < 0) {
        say(c->bl, "out of memory reading %s; not flashed", c->file.name);
        return false;
    }
    if (id.json && strcasecmp(id.mcu, c->b->mcu)) {
        say(c->bl, "image for MCU %s refused: %s is left on the card (this board has %s)", id.mcu[0] ? id.mcu : "?",
            c->file.name, c->b->mcu);
        free(id.json);
        return false;
    }
    if (!linked_for_board(c)) {
        free(id.json);
        return false;
    }
    bool ok = flash_program(c->flash, id.json, id.len, c->data, c->size) == 0;
    free(id.json);
    if (!ok) {
        say(c->bl, "out of memory flashing %s; not flashed", c->file.name);
        return false;
    }
    c->flash_us = (uint64_t)c->size * 1000000u / FLASH_BYTES_PER_S;
    if (id.json)
        say(c->bl, "flashed %s (%zu bytes, version %s)", c->file.name, c->size, id.version);
    else
        say(c->bl, "flashed %s (%zu bytes, no Klipper dictionary: the board will not answer)", c->file.name,
            c->size);
    if (c->bl->rules.pick == BOOT_PICK_UNIQUE_BIN)
        snprintf(c->flash->last_name, sizeof(c->flash->last_name), "%s", c->file.name);
    return true;
}

/* A file too short to flash: renamed untouched by some families. */
static void too_short(struct boot_ctx *c)
{
    if (c->size == 0 && c->bl->rules.rename_empty) {
        say(c->bl, "%s is empty: nothing flashed", c->file.name);
        rename_file(c);
    } else {
        say(c->bl, "%s is too short (%zu bytes): not flashed, left on the card", c->file.name, c->size);
    }
}

static bool boot_volume(struct boot_ctx *c)
{
    struct mf_err err = { 0 };
    int found = pick_file(c, &err);
    if (found < 0) {
        say(c->bl, "no file: the root folder is unreadable (%s)", err.msg);
        return false;
    }
    if (found == 0) {
        if (c->bl->rules.pick == BOOT_PICK_UNIQUE_BIN)
            say(c->bl, "no file: no .bin in the root other than the last one flashed (%s)",
                c->flash->last_name[0] ? c->flash->last_name : "none yet");
        else
            say(c->bl, "no file: %s is not in the root", c->b->firmware_path);
        return false;
    }
    if (read_file(c, &err) < 0) {
        say(c->bl, "reading %s failed (%s); not flashed", c->file.name, err.msg);
        return false;
    }
    if (c->size < c->bl->rules.min_size) {
        too_short(c);
        return false;
    }
    if (!decode(c) || !program(c))
        return false;
    rename_file(c);
    return true;
}

static bool boot_card(struct sim_boot *bl, const struct board *b, struct bootcard *bc, struct sim_flash *f,
                      uint64_t *flash_us)
{
    struct mf_err err = { 0 };
    struct boot_ctx c = { .bl = bl, .b = b, .flash = f };
    if (fat_mount(&bc->bd, &c.vol, &err) < 0) {
        say(bl, "no FAT volume on the card: %s", err.msg);
        return false;
    }
    bool flashed = boot_volume(&c);
    if (fat_unmount(c.vol, &err) < 0)
        say_more(bl, "; writing the card failed: %s", err.msg);
    free(c.data);
    *flash_us = c.flash_us;
    return flashed;
}

bool boot_run(struct sim_boot *bl, const struct board *b, struct sdcard *card, struct sim_flash *f,
              uint64_t *took_us)
{
    bl->runs++;
    *took_us = START_US;
    if (!card) {
        say(bl, "no card in the socket");
        return false;
    }
    struct bootcard bc;
    struct mf_err err = { 0 };
    if (bootcard_open(&bc, card, bl->rules.sd_mode, &err) < 0) {
        if (bl->rules.sd_mode && sdcard_in_spi_mode(card))
            say(bl, "card not readable in SD mode (card in SPI mode): firmware unchanged; a power cycle "
                    "returns the card to SD mode");
        else
            say(bl, "card not readable: %s", err.msg);
        *took_us += bootcard_time_us(&bc);
        return false;
    }
    uint64_t flash_us = 0;
    bool flashed = boot_card(bl, b, &bc, f, &flash_us);
    *took_us += bootcard_time_us(&bc) + flash_us;
    if (flashed && flash_save(f, &err) < 0)
        say_more(bl, "; %s", err.msg);
    return flashed;
}
