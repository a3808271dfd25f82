/* What a board's SD-card bootloader does, answered from its family, and the
 * other ways into the board (application addresses, Katapult, USB DFU). */
#include "board/board.h"

#include <stdio.h>

static const char *const family_names[] = {
    [BOARD_BL_RENAME] = "rename",
    [BOARD_BL_LPC176X] = "lpc176x",
    [BOARD_BL_FYSETC] = "fysetc",
    [BOARD_BL_KEEPS_NAME] = "keeps-name",
    [BOARD_BL_UNIQUE_NAME] = "unique-name",
    [BOARD_BL_CHITU] = "chitu",
};

const char *board_bootloader_name(enum board_bootloader f)
{
    return (unsigned)f < sizeof(family_names) / sizeof(family_names[0]) ? family_names[f] : "?";
}

enum board_rename board_bl_rename(const struct board *b)
{
    switch (b->bootloader) {
    case BOARD_BL_RENAME: return BOARD_RENAME_REPLACE;
    case BOARD_BL_LPC176X: return BOARD_RENAME_DELETE_FIRST;
    case BOARD_BL_FYSETC: return BOARD_RENAME_NO_REPLACE;
    case BOARD_BL_KEEPS_NAME:
    case BOARD_BL_UNIQUE_NAME:
    case BOARD_BL_CHITU: break;
    }
    return BOARD_RENAME_NONE;
}

bool board_bl_renames(const struct board *b)
{
    return board_bl_rename(b) != BOARD_RENAME_NONE;
}

bool board_bl_unique_names(const struct board *b)
{
    return b->bootloader == BOARD_BL_UNIQUE_NAME;
}

bool board_bl_reads_sd_mode(const struct board *b)
{
    return b->card_access == BOARD_CARD_SDIO;
}

enum board_conversion board_bl_decodes(const struct board *b)
{
    return b->bootloader == BOARD_BL_CHITU ? BOARD_CONV_CHITU : b->conversion;
}

enum board_katapult board_katapult_interface(const struct board *b)
{
    return b->katapult;
}

bool board_dfu_ids(const struct board *b, uint16_t *vid, uint16_t *pid)
{
    if (b->has_dfu) {
        *vid = b->dfu_vid;
        *pid = b->dfu_pid;
    }
    return b->has_dfu;
}

bool board_has_flash_bootloader(const struct board *b)
{
    return b->spi_bus || b->sdio_bus || b->katapult != BOARD_KATAPULT_UNKNOWN;
}

size_t board_app_addresses(const struct board *b, const uint32_t **list)
{
    *list = b->app_addresses;
    return b->napp_addresses;
}

bool board_has_app_address(const struct board *b, uint32_t addr)
{
    for (size_t i = 0; i < b->napp_addresses; i++)
        if (b->app_addresses[i] == addr)
            return true;
    return false;
}

const char *board_app_addresses_text(const struct board *b, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < b->napp_addresses && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s0x%08x", i ? ", " : "", (unsigned)b->app_addresses[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return buf;
}

const char *board_katapult_name(enum board_katapult k)
{
    switch (k) {
    case BOARD_KATAPULT_USB: return "usb";
    case BOARD_KATAPULT_UART: return "uart";
    case BOARD_KATAPULT_CAN: return "can";
    case BOARD_KATAPULT_UNKNOWN: break;
    }
    return NULL;
}
