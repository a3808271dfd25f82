/* The board's flash memory, as far as anyone can observe it: which firmware
 * it holds (its dictionary text, or none for an image that is not Klipper),
 * what the bootloader remembers there (a unique-name bootloader's last file
 * name) and how often it was programmed.  Kept for the life of the process,
 * and in a file across runs with --flash-state. */
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
};

/* Start with the firmware the board came with (dict, len), unless path
 * names an existing state file: then its contents.  MF_E_INPUT for an
 * unreadable or malformed state file. */
int flash_init(struct sim_flash *f, const char *path, const char *dict, size_t len, struct mf_err *err);
void flash_free(struct sim_flash *f);

/* Program an image: dict NULL for one without a Klipper dictionary. */
int flash_program(struct sim_flash *f, const char *dict, size_t dict_len, const uint8_t *image, size_t size);

/* Write the state file (if any): 0, or -1 with err set. */
int flash_save(const struct sim_flash *f, struct mf_err *err);

#endif
