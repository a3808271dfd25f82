/* PICOBOOT, the USB interface of the RP2040 and RP2350 boot ROM in BOOTSEL
 * mode (2e8a:0003, 2e8a:000f): 32-byte commands on the vendor interface's
 * bulk OUT endpoint, each followed by its data and acknowledged by a
 * zero-length packet the other way; the vendor status request says why a
 * command was refused.  Flash is erased in 4 KiB sectors and programmed in
 * 256-byte pages, from 0x10000000.
 */
#ifndef MF_USB_PICOBOOT_H
#define MF_USB_PICOBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb/usbdev.h"
#include "util/err.h"

#define PICOBOOT_VID 0x2e8a
#define PICOBOOT_PID_RP2040 0x0003
#define PICOBOOT_PID_RP2350 0x000f
#define PICOBOOT_FLASH_START 0x10000000u
#define PICOBOOT_FLASH_END 0x12000000u  /* the XIP window: the largest flash the ROM addresses */
#define PICOBOOT_SECTOR 4096u
#define PICOBOOT_PAGE 256u

struct picoboot {
    struct usbdev *usb;
    struct usbdev_bulk_if bulk;
    bool rp2350;          /* reboots with REBOOT2 */
    uint32_t token;
};

/* Progress of a long step: phase is "erase", "write" or "verify". */
typedef void (*picoboot_progress_fn)(const char *phase, size_t done, size_t total, void *ctx);

/* Find the PICOBOOT interface of the device, open and claim it, and reset
 * it to a clean state.  As usbdev_open for a device that cannot be
 * opened (*access_denied set when its node is not writable). */
int picoboot_open(const struct usbdev_info *info, struct picoboot *p, int *access_denied, struct mf_err *err);
void picoboot_close(struct picoboot *p);

/* The single commands.  A refusal is MF_E_PROTOCOL naming the command and
 * the ROM's status; a device that stopped answering MF_E_DEVICE. */
int picoboot_exclusive(struct picoboot *p, struct mf_err *err);
int picoboot_exit_xip(struct picoboot *p, struct mf_err *err);
int picoboot_erase(struct picoboot *p, uint32_t addr, uint32_t len, struct mf_err *err);
int picoboot_write(struct picoboot *p, uint32_t addr, const uint8_t *data, uint32_t len, struct mf_err *err);
int picoboot_read(struct picoboot *p, uint32_t addr, uint8_t *out, uint32_t len, struct mf_err *err);

/* Take the device for this program, erase the 4 KiB sectors that
 * [addr, addr+len) touches (and only those), write it in 256-byte pages
 * (the rest of a last partial page erased), then read all of it back and
 * compare.  The range is checked first: nothing is erased when it is not
 * page-aligned flash.  A difference is MF_E_VERIFY naming its first
 * address; a stop on request (util/interrupt.h) is taken between sectors
 * and pages. */
int picoboot_program(struct picoboot *p, uint32_t addr, const uint8_t *image, size_t len,
                     picoboot_progress_fn progress, void *ctx, struct mf_err *err);

/* Reboot into the flash (REBOOT on the RP2040, REBOOT2 on the RP2350).
 * The device leaving the bus while acknowledging it is success. */
int picoboot_reboot(struct picoboot *p, struct mf_err *err);

/* The pico-sdk's name for a PICOBOOT status code. */
const char *picoboot_status_text(uint32_t status);

#endif
