/* Board definitions: which MCU a board has, how its SD card is wired to that
 * MCU, and what its bootloader expects on the card.
 *
 * Definitions come from text files in the style of Klipper's printer.cfg
 * (docs/boards.md): the built-in table compiled into the binary, then
 * /etc/mcuflash/boards.cfg, then the user's file, then any files given on
 * the command line.  A later definition of a name replaces an earlier one
 * as a whole.
 */
#ifndef MF_BOARD_BOARD_H
#define MF_BOARD_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct kl_dict;

/* How the board's bootloader reads the card: SPI mode, or native SD mode
 * (an SDIO slot).  A card left in SPI mode is invisible to an SD-mode
 * bootloader until its power is cut. */
enum board_card_access {
    BOARD_CARD_SPI,
    BOARD_CARD_SDIO,
};

/* Transformation the bootloader needs before it accepts an image. */
enum board_conversion {
    BOARD_CONV_NONE,
    BOARD_CONV_MKS_ROBIN, /* XOR-scrambled, MKS Robin bootloaders */
    BOARD_CONV_CHITU,     /* encrypted .cbd, Chitu bootloaders */
};

/* The family of the board's SD-card bootloader: what it does with the file
 * once it has flashed it.  Ask the board_bl_* functions below rather than
 * comparing families. */
enum board_bootloader {
    BOARD_BL_RENAME,      /* renames the file to current_firmware_path, replacing one there */
    BOARD_BL_LPC176X,     /* deletes current_firmware_path, then renames (Smoothieboard style) */
    BOARD_BL_FYSETC,      /* renames, but fails (and flashes again) if the target exists */
    BOARD_BL_KEEPS_NAME,  /* flashes and leaves the file as it is (MKS Robin Nano) */
    BOARD_BL_UNIQUE_NAME, /* flashes any *.bin not named as the last one flashed (Creality) */
    BOARD_BL_CHITU,       /* decodes update.cbd, flashes it, renames nothing */
};

/* How the bootloader renames the file after flashing. */
enum board_rename {
    BOARD_RENAME_NONE,
    BOARD_RENAME_REPLACE,       /* onto current_firmware_path, replacing it */
    BOARD_RENAME_DELETE_FIRST,  /* delete current_firmware_path, then rename */
    BOARD_RENAME_NO_REPLACE,    /* rename; fails while current_firmware_path exists */
};

/* The interface Katapult is installed on and reached over. */
enum board_katapult {
    BOARD_KATAPULT_UNKNOWN,     /* not known whether the board has Katapult */
    BOARD_KATAPULT_USB,
    BOARD_KATAPULT_UART,
    BOARD_KATAPULT_CAN,
};

/* Application addresses per board: one per variant (bootloader offset). */
#define BOARD_MAX_APP_ADDRESSES 4

/* Where a definition came from: file is NULL for the built-in table. */
struct board_origin {
    char *file;
    int line;
};

#define BOARD_SWSPI "swspi"
#define BOARD_DEFAULT_FIRMWARE_PATH "firmware.bin"
#define BOARD_DEFAULT_CURRENT_PATH "FIRMWARE.CUR"

struct board {
    char *name;
    char *description;          /* "" when the file gives none */
    char *mcu;                  /* as the firmware's MCU constant, e.g. "stm32f407xx" */
    char *spi_bus;              /* hardware bus name, or BOARD_SWSPI; NULL if SDIO only */
    char *spi_pins[3];          /* miso, mosi, sclk for BOARD_SWSPI; else all NULL */
    char *cs_pin;               /* NULL if SDIO only */
    char *sdio_bus;             /* firmware's SDIO bus name; NULL if none */
    enum board_card_access card_access;
    char *firmware_path;        /* file the bootloader looks for */
    char *current_firmware_path; /* what it renames the file to after flashing */
    bool skip_verify;           /* the bootloader needs a power cycle; do not verify */
    enum board_conversion conversion;
    bool unique_name;           /* bootloader skips a file named as the last one flashed */
    enum board_bootloader bootloader;
    /* Where the bootloader starts the application (Klipper's "Bootloader
     * offset"); several where variants of the board differ, none if unknown. */
    uint32_t app_addresses[BOARD_MAX_APP_ADDRESSES];
    size_t napp_addresses;
    enum board_katapult katapult;
    bool has_dfu;               /* the chip offers a USB DFU bootloader with these ids */
    uint16_t dfu_vid, dfu_pid;
    const char **aliases;       /* names that resolve to this board, sorted */
    size_t naliases;
    struct board_origin origin;
};

struct board_alias {
    char *name;
    char *board;                /* the target's name as written */
    struct board_origin origin;
};

struct board_db;

#define BOARD_DB_SYSTEM_FILE "/etc/mcuflash/boards.cfg"

/* Load the built-in table, the system file, the user's file (both skipped
 * when absent) and then extra_files[0..n) (which must exist), in that order.
 * On failure *out is NULL and err names the file and line at fault. */
int board_db_load(const char *const *extra_files, size_t n, struct board_db **out,
                  struct mf_err *err);
void board_db_free(struct board_db *db);

/* Look a name up, case-insensitively, resolving aliases.  On failure err
 * says so and suggests the closest names. */
const struct board *board_db_find(const struct board_db *db, const char *name,
                                  struct mf_err *err);
/* The alias called name (case-insensitive), or NULL if name is not an alias. */
const struct board_alias *board_db_find_alias(const struct board_db *db, const char *name);

/* Iteration, sorted by name. */
size_t board_db_count(const struct board_db *db);
const struct board *board_db_board(const struct board_db *db, size_t i);
size_t board_db_alias_count(const struct board_db *db);
const struct board_alias *board_db_alias(const struct board_db *db, size_t i);

/* The steps board_db_load is made of, for tests and tools.  Texts and files
 * added later replace earlier definitions of the same name; finish resolves
 * aliases and must come last. */
struct board_db *board_db_new(void);
int board_db_add_text(struct board_db *db, const char *text, const char *file,
                      struct mf_err *err);  /* file NULL: the built-in table */
int board_db_add_file(struct board_db *db, const char *path, bool must_exist,
                      struct mf_err *err);
int board_db_finish(struct board_db *db, struct mf_err *err);
/* Path of the user's file ($XDG_CONFIG_HOME or ~/.config, then
 * mcuflash/boards.cfg); 0, or -1 if neither variable is set. */
int board_db_user_file(char *buf, size_t cap);

/* The closest names to a misspelt one, best first: up to max pointers into
 * db, returned count. */
size_t board_db_suggest(const struct board_db *db, const char *name, const char **out,
                        size_t max);

/* Check the board against the dictionary of the firmware it runs: MCU type,
 * SPI bus, chip-select and software-SPI pins.  Names everything missing in
 * one message (MF_E_MISMATCH). */
int board_check_mcu(const struct board *b, const struct kl_dict *d, struct mf_err *err);

bool board_is_swspi(const struct board *b);

/* What the board's SD-card bootloader does, from its family and the board's
 * wiring.  The SD route and the virtual board both follow these. */
enum board_rename board_bl_rename(const struct board *b);
/* True if, after flashing, firmware_path is renamed to current_firmware_path
 * (so the rename proves the bootloader ran). */
bool board_bl_renames(const struct board *b);
/* True if every upload needs a name never flashed before (*.bin). */
bool board_bl_unique_names(const struct board *b);
/* True if the bootloader reads the card in SD mode (an SDIO slot). */
bool board_bl_reads_sd_mode(const struct board *b);
/* The vendor encoding the bootloader undoes before flashing. */
enum board_conversion board_bl_decodes(const struct board *b);

/* The routes into the board besides its card. */
enum board_katapult board_katapult_interface(const struct board *b);
/* True, with the USB ids, if the chip offers a USB DFU bootloader. */
bool board_dfu_ids(const struct board *b, uint16_t *vid, uint16_t *pid);
/* True if the board keeps a bootloader of its own at the start of its flash
 * (an SD-card bootloader for its card, or Katapult), which a ROM bootloader
 * writing wherever it is told could overwrite. */
bool board_has_flash_bootloader(const struct board *b);
/* The board's application addresses (*list valid while the database is);
 * their count, 0 if none is known. */
size_t board_app_addresses(const struct board *b, const uint32_t **list);
/* Application addresses: true if addr is one of the board's. */
bool board_has_app_address(const struct board *b, uint32_t addr);
/* "0x08007000" or "0x08008000, 0x08010000"; "" when none is known. */
const char *board_app_addresses_text(const struct board *b, char *buf, size_t cap);

const char *board_bootloader_name(enum board_bootloader f);
const char *board_katapult_name(enum board_katapult k);  /* NULL for UNKNOWN */
const char *board_card_access_name(enum board_card_access a);
const char *board_conversion_name(enum board_conversion c);
/* "built-in" or "FILE:LINE". */
const char *board_origin_text(const struct board_origin *o, char *buf, size_t cap);

#endif
