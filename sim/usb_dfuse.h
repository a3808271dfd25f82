/* The STM32 system-memory DFU bootloader (DfuSe, 0483:df11) as the host
 * sees it: the memory layout in the alt setting's name, the DfuSe command
 * set on DNLOAD block 0, data blocks at the address pointer, UPLOAD
 * read-back, erase and program times that keep the device busy as the
 * chip's flash does, and the leave by a zero-length download, where the
 * device drops off the bus instead of answering the status request.
 */
#ifndef SIM_USB_DFUSE_H
#define SIM_USB_DFUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "usb_model.h"

struct dfuse_opts {
    const char *mcu;          /* the chip, e.g. "stm32f407xx" */
    bool realistic;           /* erase and program take the chip's time */
    /* A weak flash cell: the byte at this address reads back with its low
     * bit flipped once written (0: none). */
    uint32_t weak_cell;
    /* The device answers the status request after the leave download
     * (before dropping off) instead of vanishing at once. */
    bool leave_answers;
    /* The first status poll after each erase stalls the pipe, as STM32L4
     * ROMs do. */
    bool stall_after_erase;
    /* The status request that carries out the first erase erases, then
     * its answer is lost (the host sees a stall): the page is gone though
     * the host could not see it go. */
    bool lose_first_erase_answer;
    /* The chip's flash from 0x08000000, owned by the caller (the virtual
     * board's); NULL: the model keeps its own, erased at start. */
    uint8_t *flash;
    uint32_t flash_size;
};

/* What the device was asked to do, for the harness's report. */
struct dfuse_stats {
    unsigned erases, writes, uploads;
    uint32_t bytes_written;
    bool left;
    uint32_t left_to;         /* the address the ROM jumped to */
};

struct dfuse_dev;

/* NULL if the chip has no DfuSe ROM model (the list is in usb_dfuse.c). */
struct dfuse_dev *dfuse_new(const struct dfuse_opts *o);
void dfuse_free(struct dfuse_dev *d);
struct usb_model *dfuse_usb(struct dfuse_dev *d);
const struct dfuse_stats *dfuse_stats(const struct dfuse_dev *d);
/* The chip's whole flash (erased bytes read 0xff). */
const uint8_t *dfuse_flash(const struct dfuse_dev *d, uint32_t *base, uint32_t *size);
/* Put bytes into the flash as if an earlier firmware were there. */
void dfuse_preload(struct dfuse_dev *d, uint32_t addr, const uint8_t *data, uint32_t len);
/* Comma-separated list of the chips modelled, for usage messages. */
const char *dfuse_chip_names(void);

#endif
