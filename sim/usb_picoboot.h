/* The RP2040 / RP2350 boot ROM's USB bootloader (BOOTSEL mode, 2e8a:0003 /
 * 2e8a:000f) as the host sees it: a mass-storage interface (only shown)
 * and the PICOBOOT vendor interface, whose 32-byte commands on the bulk OUT
 * endpoint erase 4 KiB flash sectors, program 256-byte pages (NOR flash:
 * a page written without an erase keeps the zero bits it had), read flash
 * back, and reboot into what the flash holds.  Each command is acknowledged
 * by a zero-length packet in the other direction once done; a refused one
 * stalls, and the vendor status request says why.
 */
#ifndef SIM_USB_PICOBOOT_H
#define SIM_USB_PICOBOOT_H

#include <stdbool.h>
#include <stdint.h>

#include "usb_model.h"

#define PICOBOOT_FLASH_BASE 0x10000000u

struct picoboot_opts {
    const char *mcu;          /* "rp2040" or "rp2350" */
    bool realistic;           /* erase and program take the flash chip's time */
    /* A weak flash cell: the byte at this address is written with its low
     * bit flipped (0: none). */
    uint32_t weak_cell;
    /* The QSPI flash from PICOBOOT_FLASH_BASE, owned by the caller (the
     * virtual board's); NULL: the model keeps its own, erased at start. */
    uint8_t *flash;
    uint32_t flash_size;
};

/* What the device was asked to do, for the harness's report. */
struct picoboot_stats {
    unsigned erases, pages, reads;
    uint32_t bytes_read;
    bool exclusive, xip_exited;
    bool rebooted;
};

struct picoboot_dev;

/* NULL for an MCU without a BOOTSEL ROM. */
struct picoboot_dev *picoboot_new(const struct picoboot_opts *o);
void picoboot_free(struct picoboot_dev *d);
struct usb_model *picoboot_usb(struct picoboot_dev *d);
const struct picoboot_stats *picoboot_stats(const struct picoboot_dev *d);
/* The whole flash (erased bytes read 0xff). */
const uint8_t *picoboot_flash(const struct picoboot_dev *d, uint32_t *base, uint32_t *size);
/* True for the MCUs this model stands for. */
bool picoboot_mcu(const char *mcu);

#endif
