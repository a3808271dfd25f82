/* The figures of the virtual board's timing model (--timing realistic).
 * The simulator runs on them, and bench/flash_floor.c computes from the
 * same numbers the fastest a flash could go on the board, so the two
 * cannot drift apart.  Plain numbers only: no code. */
#ifndef SIM_TIMING_MODEL_H
#define SIM_TIMING_MODEL_H

/* USB full speed: 64-byte packets, a few per 1 ms frame. */
#define USB_PACKET 64
#define USB_PACKETS_PER_FRAME 5
#define USB_FRAME_NS 1000000u
/* A UART byte: start bit, 8 data bits, stop bit. */
#define UART_BITS_PER_BYTE 10u
/* A standard CAN frame of len data bytes: 47 bits of framing plus the
 * data, and about a fifth more for stuff bits. */
#define CAN_FRAME_BITS(len) ((47u + 8u * (len)) * 12u / 10u)
#define CAN_FRAME_DATA 8u

/* How long the board is away after a reset. */
#define USB_REENUMERATE_US 1500000u
#define UART_BOOT_US 300000u

/* The card model: programming after each written block in SPI mode, and
 * the CMD13s that still see it programming in SD mode. */
#define CARD_WRITE_BUSY_NS 1000000u
#define CARD_SD_BUSY_POLLS 2u

/* SD bus clocks of Klipper's sdio commands: a command with a short or long
 * response, and a 512-byte data block on 4 lines with its CRCs and the
 * command that moves it. */
#define SDIO_SHORT_COMMAND_CLOCKS (48u + 48u)
#define SDIO_LONG_COMMAND_CLOCKS (48u + 136u)
#define SDIO_BLOCK_CLOCKS (96u + (512u * 8u + 16u * 4u) / 4u)

/* The SD-card bootloader: start-up (clocks, card power-up, mount), its
 * card access (SPI clock, or 4-bit SD bus bytes per second, and a fixed
 * cost per block), and flash programming (erase and write). */
#define BOOT_START_US 50000u
#define BOOT_SPI_HZ 9000000u
#define BOOT_SD_BYTES_PER_S 12000000u
#define BOOT_BLOCK_OVERHEAD_US 100u
#define BOOT_FLASH_BYTES_PER_S 25000u

#endif
