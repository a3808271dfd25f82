/* Unit tests of mcuflash's USB clients against the virtual board's device
 * models: the test binary runs itself, as a child, under `mcuflash-sim
 * usb`, which emulates the device with umockdev; the child talks to it
 * through libusb, the parent checks the flash the model ends with and the
 * report it writes. */
#ifndef MF_TEST_USB_HARNESS_H
#define MF_TEST_USB_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The test's main: `--child WHAT` runs child(WHAT) inside the emulation;
 * otherwise tests() runs in the parent (files named after name), and the
 * result of all checks is returned. */
int usb_harness_main(int argc, char **argv, const char *name, int (*child)(const char *what), void (*tests)(void));
/* Run `self --child what` under a model of mcu (extra: more options of
 * mcuflash-sim usb); the child's exit status. */
int usb_harness_run(const char *mcu, const char *extra, const char *what);
/* The model's report holds text (said on stderr when it does not). */
bool usb_harness_log_has(const char *text);
/* The flash the model ended with (*len bytes); NULL if none was written. */
const uint8_t *usb_harness_flash(size_t *len);

/* The same pseudo-random image in parent and child. */
void usb_harness_image(uint8_t *p, size_t n);

#endif
