/* Asking running Klipper firmware to reboot into its bootloader.
 *
 * Three ways, one per link: the 1200-baud touch on USB CDC, a request
 * string on a UART, and the admin frame on CAN
 * (canbus_request_bootloader in canbus.h).  None of them is answered: the
 * caller watches the device go and come back (usbport.h).
 */
#ifndef MF_LINK_BOOTENTRY_H
#define MF_LINK_BOOTENTRY_H

#include "link/transport.h"
#include "util/err.h"

/* The string Klipper's serial console takes as a bootloader request when
 * it arrives as a block of its own; the leading '~' ends whatever came
 * before. */
#define BOOTENTRY_SERIAL_REQUEST "~ \x1c Request Serial Bootloader!! ~"

/* Open path, raise DTR, set 1200 baud, drop DTR, close: USB CDC firmware
 * reboots into its bootloader on 1200 baud with DTR clear.  Refused when
 * another process holds the port (it is named).  Ptys without modem lines
 * are fine; a path that is not a terminal is refused.  Close our own link
 * to the port first: its TIOCEXCL would keep this open out. */
int bootentry_usb_touch(const char *path, struct mf_err *err);

/* Write the request string on its own and wait until it has left. */
int bootentry_serial_request(struct transport *t, struct mf_err *err);

#endif
