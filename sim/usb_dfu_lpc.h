/* The LPC176x DFU bootloader (LPC17xx-DFU-Bootloader, 1d50:6015) as the
 * host sees it: plain DFU 1.1, the image downloaded block by block from
 * the application address (sectors erased as the blocks reach them), the
 * zero-length download ending in manifestation, after which the board
 * resets into the new application.  It cannot upload: what it wrote is
 * proven by the firmware that starts.
 */
#ifndef SIM_USB_DFU_LPC_H
#define SIM_USB_DFU_LPC_H

#include <stdbool.h>
#include <stdint.h>

#include "usb_model.h"

#define LPC_DFU_APP_BASE 0x4000u

struct lpc_dfu_stats {
    unsigned erases, blocks;
    uint32_t bytes_written;
    bool left;             /* manifested and reset */
};

struct lpc_dfu;

/* flash: the chip's flash from address 0 (flash_size bytes, the board's). */
struct lpc_dfu *lpc_dfu_new(uint8_t *flash, uint32_t flash_size, bool realistic);
void lpc_dfu_free(struct lpc_dfu *d);
struct usb_model *lpc_dfu_usb(struct lpc_dfu *d);
const struct lpc_dfu_stats *lpc_dfu_stats(const struct lpc_dfu *d);

#endif
