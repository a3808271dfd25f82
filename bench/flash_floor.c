/* The fastest an SD-card flash could go on the virtual board with
 * --timing realistic: computed from the timing model's own figures
 * (sim/timing_model.h), so it moves whenever the model does.
 *
 * Upload and read back (the file's sectors, written then read):
 *   every sector crosses the link in Klipper blocks of at most 64 bytes,
 *   each carrying at most 56 data bytes (59 of payload less the message
 *   id, oid and length), so 10 blocks; the MCU answers every block it
 *   receives with an ack of 5 bytes, and every query with a reply block;
 *   SPI sends as many bytes to read a sector as it reads, SD mode sends a
 *   few short requests (2 blocks) and gets a short reply for each data
 *   command and CMD13.  A UART moves bytes at the baud rate, each direction
 *   on its own; USB moves packets of up to 64 bytes, five per 1 ms frame,
 *   several blocks sharing one.
 *   The MCU clocks each sector on the card bus (SPI: token, 512 bytes,
 *   CRC and for a write the data response, 8 clocks each; SD mode: the
 *   data command and its block), and after a write the card programs (SPI:
 *   the busy time; SD mode: the CMD13s that see it programming and the one
 *   that sees it done).  The link moves bytes while the MCU works, so each
 *   phase takes at least the longest of: the link to the MCU, the link
 *   from it, the MCU's bus and busy time.
 * Whole flash: that, plus the reset (USB re-enumeration or UART boot), the
 *   bootloader's start, its reading of the file's blocks, and programming.
 * Everything else (FAT sectors, connecting, verifying) is left out, so this
 * is a floor: no host can go below it.
 *
 * The bound of the upload for a host that loses nothing, on USB: Klipper's
 * firmware drops a reply that does not fit its 192-byte transmit buffer.
 * A host that never lets that happen learns that replies have left the
 * buffer only when they arrive, at the end of a frame; a request it sends
 * then reaches the MCU at the end of that frame and is answered at the end
 * of the next.  So at most 192 bytes of replies (and acks) come back per
 * two frames, however fast the link: each phase takes at least its bytes
 * from the MCU at that rate.  And a card in SPI mode must be sent nothing while it programs a block,
 * which the host learns only by reading from it: each written sector is a
 * request the host sends once the last one was answered, which reaches the
 * MCU a frame later at the earliest, so it costs a frame more than its
 * floor.  On a UART bytes arrive as they leave, and the bound is the
 * floor.
 *
 * Usage: flash_floor usb|uart:BAUD sdio|spi RATE_HZ SIZE_BYTES
 * Prints "UPLOAD_FLOOR_S WHOLE_FLOOR_S UPLOAD_BOUND_S". */
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

#define ACK 5u                  /* an empty block */
#define TX_BUFFER 192.0         /* usb_cdc.c's transmit_buf */
#define SHORT_REPLY 16u         /* an SD-mode command's reply block, at least */
#define REQUEST_BLOCKS 2u       /* SD mode: the short requests to read a sector */
#define SD_WRITE_REPLIES (2u + CARD_SD_BUSY_POLLS) /* the data command, the CMD13s */

/* Blocks that carry one sector's data. */
static unsigned data_blocks(void)
{
    unsigned per_block = KL_PAYLOAD_MAX - MESSAGE_HEAD;
    return (SECTOR + per_block - 1) / per_block;
}

/* A sector's traffic one way: blocks of data-carrying size, short blocks
 * and acks. */
struct leg {
    unsigned full, short_replies, acks;
};

/* Bytes a leg carries. */
static double leg_bytes(const struct leg *l)
{
    return (double)l->full * KL_MESSAGE_MAX + l->short_replies * SHORT_REPLY + l->acks * ACK;
}

/* The transmit-buffer bound of a leg from the MCU (see above). */
static double buffer_s(const struct leg *from_mcu, bool usb)
{
    if (!usb)
        return 0;
    return leg_bytes(from_mcu) / TX_BUFFER * 2.0 * USB_FRAME_NS / 1e9;
}

/* Link time of a leg: a UART moves bytes at the baud rate, USB full
 * packets at five a frame. */
static double leg_s(const struct leg *l, bool usb, double baud)
{
    if (usb)
        return leg_bytes(l) / USB_PACKET / (USB_PACKETS_PER_FRAME * 1e9 / USB_FRAME_NS);
    return leg_bytes(l) * UART_BITS_PER_BYTE / baud;
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
    double sectors = (double)(((unsigned long)size + SECTOR - 1) / SECTOR);
    unsigned d = data_blocks();
    /* Writing: the data to the MCU, acks (and SD mode's replies) back.
     * Reading: the data back with an ack per request block; SPI sends as
     * many bytes as it reads, SD mode a few short requests. */
    struct leg write_out = { d, 0, 0 }, write_in = { 0, sdio ? SD_WRITE_REPLIES : 0, d };
    struct leg read_out = { sdio ? 0 : d, sdio ? REQUEST_BLOCKS : 0, 0 };
    struct leg read_in = { d, sdio ? 1 : 0, sdio ? REQUEST_BLOCKS : d };

    double bus_write, bus_read;
    if (sdio) {
        bus_write = (SDIO_BLOCK_CLOCKS + (CARD_SD_BUSY_POLLS + 1) * SDIO_SHORT_COMMAND_CLOCKS) / rate;
        bus_read = SDIO_BLOCK_CLOCKS / rate;
    } else {
        bus_write = (SECTOR + SPI_TOKEN_CRC + SPI_DATA_RESPONSE) * 8.0 / rate + CARD_WRITE_BUSY_NS / 1e9;
        bus_read = (SECTOR + SPI_TOKEN_CRC) * 8.0 / rate;
    }
    double write_s = max3(leg_s(&write_out, usb, baud), leg_s(&write_in, usb, baud), bus_write);
    double read_s = max3(leg_s(&read_out, usb, baud), leg_s(&read_in, usb, baud), bus_read);
    double upload = sectors * (write_s + read_s);
    double busy_check = usb && !sdio ? USB_FRAME_NS / 1e9 : 0;
    double bound = sectors * (max3(write_s + busy_check, buffer_s(&write_in, usb), 0) +
                              max3(read_s, buffer_s(&read_in, usb), 0));

    double reset = (usb ? USB_REENUMERATE_US : UART_BOOT_US) / 1e6 + BOOT_START_US / 1e6;
    double boot_read = sdio ? sectors * SECTOR / (double)BOOT_SD_BYTES_PER_S
                            : sectors * (SECTOR + SPI_TOKEN_CRC) * 8.0 / BOOT_SPI_HZ;
    boot_read += sectors * BOOT_BLOCK_OVERHEAD_US / 1e6;
    double program = size / BOOT_FLASH_BYTES_PER_S;
    printf("%.3f %.3f %.3f\n", upload, upload + reset + boot_read + program, bound);
    return 0;
}
