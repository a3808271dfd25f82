/* The fastest an SD-card flash could go on the virtual board with
 * --timing realistic: computed from the timing model's own figures
 * (sim/timing_model.h), so it moves whenever the model does.
 *
 * Upload and read back (the file's sectors, written then read):
 *   every sector crosses the link in Klipper blocks of 64 bytes, each
 *   carrying at most 56 data bytes (59 of payload less the message id, oid
 *   and length); SPI sends as many bytes to read a sector as it reads;
 *   the MCU clocks each sector on the card bus (SPI: token, 512 bytes, CRC
 *   and for a write the data response, 8 clocks each; SD mode: the data
 *   command and its block), and after a write the card programs (SPI: the
 *   busy time; SD mode: the CMD13s that see it programming, and the one
 *   that sees it done).  The link carries each direction on its own while
 *   the MCU works, so each phase takes at least the longest of: bytes to
 *   the MCU, bytes from it, the MCU's bus and busy time.
 * Whole flash: that, plus the reset (USB re-enumeration or UART boot), the
 *   bootloader's start, its reading of the file's blocks, and programming.
 * Everything else (FAT sectors, connecting, verifying) is left out, so this
 * is a floor: no host can go below it.
 *
 * Usage: flash_floor usb|uart:BAUD sdio|spi RATE_HZ SIZE_BYTES
 * Prints "UPLOAD_FLOOR_S WHOLE_FLOOR_S". */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/proto.h"
#include "sd/sd.h"
#include "sim/timing_model.h"

#define SECTOR 512u
/* Message id, oid and length byte of spi_send / spi_transfer_response and
 * the sdio buffer messages. */
#define MESSAGE_HEAD 3u
#define SPI_TOKEN_CRC 3u       /* start token, 16-bit CRC */
#define SPI_DATA_RESPONSE 1u   /* after a written block */

struct link {
    double bytes_per_s;
};

/* Bytes on the link for one sector of data in full blocks. */
static double sector_link_bytes(void)
{
    unsigned per_block = KL_PAYLOAD_MAX - MESSAGE_HEAD;
    unsigned blocks = (SECTOR + per_block - 1) / per_block;
    return (double)blocks * KL_MESSAGE_MAX;
}

static double max3(double a, double b, double c)
{
    double m = a > b ? a : b;
    return m > c ? m : c;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: flash_floor usb|uart:BAUD sdio|spi RATE_HZ SIZE_BYTES\n");
        return 2;
    }
    bool usb = !strcmp(argv[1], "usb");
    double baud = !usb && !strncmp(argv[1], "uart:", 5) ? strtod(argv[1] + 5, NULL) : 0;
    bool sdio = !strcmp(argv[2], "sdio");
    double rate = strtod(argv[3], NULL), size = strtod(argv[4], NULL);
    if ((!usb && baud <= 0) || (!sdio && strcmp(argv[2], "spi")) || rate <= 0 || size <= 0) {
        fprintf(stderr, "flash_floor: bad arguments\n");
        return 2;
    }
    double link_rate = usb ? (double)USB_PACKET * USB_PACKETS_PER_FRAME * 1e9 / USB_FRAME_NS
                           : baud / UART_BITS_PER_BYTE;
    double sectors = (double)(((unsigned long)size + SECTOR - 1) / SECTOR);
    double on_link = sectors * sector_link_bytes() / link_rate;

    double bus_write, bus_read;
    if (sdio) {
        bus_write = (SDIO_BLOCK_CLOCKS + (CARD_SD_BUSY_POLLS + 1) * SDIO_SHORT_COMMAND_CLOCKS) / rate;
        bus_read = SDIO_BLOCK_CLOCKS / rate;
    } else {
        bus_write = (SECTOR + SPI_TOKEN_CRC + SPI_DATA_RESPONSE) * 8.0 / rate + CARD_WRITE_BUSY_NS / 1e9;
        bus_read = (SECTOR + SPI_TOKEN_CRC) * 8.0 / rate;
    }
    /* Writing: data to the MCU.  Reading: data from it, and over SPI as
     * many bytes to it. */
    double write_s = max3(on_link, 0, sectors * bus_write);
    double read_s = max3(sdio ? 0 : on_link, on_link, sectors * bus_read);
    double upload = write_s + read_s;

    double reset = (usb ? USB_REENUMERATE_US : UART_BOOT_US) / 1e6 + BOOT_START_US / 1e6;
    double boot_read = sdio ? sectors * SECTOR / (double)BOOT_SD_BYTES_PER_S
                            : sectors * (SECTOR + SPI_TOKEN_CRC) * 8.0 / BOOT_SPI_HZ;
    boot_read += sectors * BOOT_BLOCK_OVERHEAD_US / 1e6;
    double program = size / BOOT_FLASH_BYTES_PER_S;
    printf("%.3f %.3f\n", upload, upload + reset + boot_read + program);
    return 0;
}
