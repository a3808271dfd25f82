/* mcuflash sdcard [options] DEVICE BOARD: flash through the board's SD card.
 * Takes the options of Klipper's scripts/flash-sdcard.sh with the same
 * meaning and defaults. */
#include <stdio.h>

#include "cli/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash sdcard [-h] [-l] [-c] [-s] [-b BAUD] [-f FIRMWARE] [-d DICT] [--wait[=SECONDS]]\n"
            "                       [--board-file FILE] [--boot-timeout SECONDS] [--json] DEVICE BOARD\n\n"
            "Flash a Klipper board through its SD card, using the firmware running on it:\n"
            "upload, read back, rename, reset, and verify that the new firmware runs.\n\n"
            "  -l, --list               list the known boards\n"
            "  -c, --check              only verify what runs and what is on the card (no upload)\n"
            "  -s, --fast-spi           clock the card at 4 MHz instead of 400 kHz (SPI)\n"
            "  -b, --baud BAUD          serial baud rate for UART boards (default 250000)\n"
            "  -f, --firmware FIRMWARE  the image (default ~/klipper/out/klipper.bin)\n"
            "  -d, --dict DICT          klipper.dict to verify against (default: out/klipper.dict\n"
            "                           beside the default image, when it exists)\n"
            "      --wait[=SECONDS]     if the board needs a power cycle to flash, wait up to\n"
            "                           SECONDS (default 300) for it and verify\n"
            "      --boot-timeout SECONDS  how long the new firmware may take to answer once\n"
            "                           the board restarts (default 30)\n"
            "      --board-file FILE    extra board definitions\n"
            "      --json               one JSON event per line, ending with the result\n"
            "  -h, --help               show this help\n");
}

static const struct cli_flash_shape sdcard_shape = { .sdcard = true, .usage = usage };

int cmd_sdcard(int argc, char **argv)
{
    return cli_flash_front_end(argc, argv, &sdcard_shape);
}
