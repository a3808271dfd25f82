/* The board's flash memory: the application's bytes (a Katapult writes and
 * reads them block by block), which firmware they hold (its dictionary text,
 * or none for an image that is not Klipper), what an SD-card bootloader
 * remembers there (a unique-name bootloader's last file name) and how often
 * it was programmed.  Kept for the life of the process, and in a file across
 * runs with --flash-state. */
#ifndef SIM_FLASHMEM_H
#define SIM_FLASHMEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define FLASH_NAME_MAX 768

struct sim_flash {
    char *dict;          /* the firmware's dictionary JSON, exactly; NULL: not Klipper */
    size_t dict_len;
    char last_name[FLASH_NAME_MAX]; /* the last file a unique-name bootloader flashed */
    uint64_t flashes;    /* times the bootloader programmed the flash */
    uint32_t image_size; /* of the last image flashed (0: the one the board came with) */
    char image_sha1[41];
    const char *path;    /* --flash-state file, or NULL */
    /* The chip's flash, byte for byte (erased bytes read 0xff). */
    uint8_t *mem;
    uint32_t mem_base, mem_size;
    uint32_t app_base;   /* where the application starts */
    uint32_t ram_top;    /* for the image of the firmware the board came with */
};

/* Where the flash sits and what the board first holds. */
struct flash_layout {
    uint32_t base, size, app_base;
    uint32_t ram_top;    /* the initial stack pointer of the firmware the board came with */
    bool empty;          /* the application area is erased (no firmware at all) */
};

/* Start with the firmware the board came with (dict, len; laid out as a
 * Klipper image at app_base), unless path names an existing state file: then
 * its contents.  MF_E_INPUT for an unreadable or malformed state file. */
int flash_init(struct sim_flash *f, const char *path, const struct flash_layout *layout, const char *dict,
               size_t len, struct mf_err *err);
void flash_free(struct sim_flash *f);

/* Program an image at app_base (the rest of the application area is
 * erased): dict NULL for one without a Klipper dictionary. */
int flash_program(struct sim_flash *f, const char *dict, size_t dict_len, const uint8_t *image, size_t size);

/* The firmware changed in place (written block by block): take dict as its
 * dictionary (NULL: none) and the bytes up to the last programmed one as
 * the image. */
int flash_adopt(struct sim_flash *f, const char *dict, size_t dict_len);
/* Bytes from app_base up to the last one that is not erased. */
uint32_t flash_app_extent(const struct sim_flash *f);

/* Write the state file (if any): 0, or -1 with err set. */
int flash_save(const struct sim_flash *f, struct mf_err *err);

#endif
