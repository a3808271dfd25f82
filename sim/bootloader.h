/* The board's SD-card bootloader, run at every boot before the firmware:
 * it looks for the firmware file the board definition names, decodes it,
 * flashes it and renames it, each family in its own way (docs/sim.md,
 * "Bootloaders").  It works on the card through the card model (SPI or SD
 * mode, as the family reads it) and the FAT engine. */
#ifndef SIM_BOOTLOADER_H
#define SIM_BOOTLOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "flashmem.h"
#include "sim/card/sdcard.h"

struct board;

/* Which file the bootloader takes. */
enum boot_pick {
    BOOT_PICK_NAMED,      /* firmware_path, any case, long or short name */
    BOOT_PICK_UNIQUE_BIN, /* the first *.bin not named as the last one flashed */
};

/* What it does with the file after flashing. */
enum boot_rename {
    BOOT_RENAME_REPLACE,       /* rename to current_firmware_path, replacing one there */
    BOOT_RENAME_DELETE_FIRST,  /* delete current_firmware_path, then rename */
    BOOT_RENAME_NO_REPLACE,    /* rename; fails if the target exists */
    BOOT_NO_RENAME,
};

struct boot_rules {
    const char *family;        /* for status and docs */
    enum boot_pick pick;
    enum boot_rename rename;
    bool sd_mode;              /* reads the card in SD mode (an SDIO slot) */
    uint32_t min_size;         /* shorter files are left alone */
    bool rename_empty;         /* an empty file is renamed, nothing flashed */
};

/* The rules of the board's bootloader family (board_bl_* in board.h). */
void boot_rules_for(const struct board *b, struct boot_rules *r);

struct sim_boot {
    struct boot_rules rules;
    uint64_t runs;
    char result[600];   /* what the last run did, one line */
};

/* One boot: look at the card and flash what the rules say into f.
 * Returns true if the flash was programmed (f changed; its state file is
 * saved).  *took_us gets the time a real bootloader would have taken. */
bool boot_run(struct sim_boot *bl, const struct board *b, struct sdcard *card, struct sim_flash *f,
              uint64_t *took_us);

#endif
