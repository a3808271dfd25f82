/* The virtual board on an emulated USB bus (--usb): while it runs Klipper
 * (or Katapult) it is a CDC ACM device whose tty is the board's pty; when
 * the 1200-baud touch finds no Katapult on a chip with a USB ROM bootloader,
 * it turns into that bootloader (DfuSe, the LPC176x DFU one, or an RP2040's
 * BOOTSEL), working on the board's own flash, and leaving it starts what
 * the flash now holds.  Host programs reach the bus
 * through umockdev (docs/usb.md); the board's control socket reports the
 * testbed directory in its status as usb_testbed.
 */
#ifndef SIM_USB_BOARD_H
#define SIM_USB_BOARD_H

#include <stdbool.h>

#include "util/err.h"

struct sim;
struct sim_usb;

/* With --usb SPEC: SPEC is PORT[,weak-cell=ADDR][,leave-answers][,no-dfu]
 * (no-dfu: the firmware cannot reach the ROM, as on some F4 boards). */
int sim_usb_start(struct sim *s, struct mf_err *err);
void sim_usb_stop(struct sim *s);
/* Serve the bus and keep what it shows in step with the board. */
void sim_usb_step(struct sim *s);
/* How soon the bus wants serving again, in ms (-1: no need). */
int sim_usb_poll_ms(const struct sim *s);
/* A touch without Katapult enters the chip's ROM DFU bootloader. */
bool sim_usb_rom_dfu(const struct sim *s);
/* The testbed directory (UMOCKDEV_DIR), or NULL without --usb. */
const char *sim_usb_root(const struct sim *s);

#endif
