/* Which USB port a serial device sits on, what is plugged in there, and
 * waiting for a device to come back on the same port after a bootloader
 * entry (where bus and device numbers change but the port path stays).
 *
 * Functions that read sysfs take its root ("/" normally) so tests can run
 * them on a tree of their own.
 */
#ifndef MF_LINK_USBPORT_H
#define MF_LINK_USBPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

struct usb_port_info {
    bool usb;                 /* false: a pty, a UART, a FIFO */
    char path[256];           /* the device path watched when not USB */
    char port[32];            /* USB port path, e.g. "1-1.3" */
    uint16_t vid, pid;
    unsigned devnum;          /* its address on the bus, new at each enumeration (0: not known) */
    char manufacturer[64], product[64], serial[64];
    char tty[64];             /* "/dev/ttyACM0" if the device has a tty; "" else */
};

/* What tty_path is: for a USB tty, its port and the device there. */
int usbport_identify(const char *sysfs_root, const char *tty_path, struct usb_port_info *info);

/* The device at USB port `port` now: 1 present (info filled), 0 absent. */
int usbport_read(const char *sysfs_root, const char *port, struct usb_port_info *info);

/* The first USB device (in sysfs order of ports) for which match returns
 * true: 1 found (info filled), 0 none. */
typedef bool (*usbport_match_fn)(const struct usb_port_info *info, void *ctx);
int usbport_find(const char *sysfs_root, usbport_match_fn match, void *ctx, struct usb_port_info *info);

/* After a bootloader entry on `before`: wait until a device is back.
 * USB: on the same port, once the old device left or something else
 * stands there (its tty, if it has one, given a moment to appear).  Not
 * USB: the same path, after going away first when expect_gone.  Fails with
 * MF_E_DEVICE after timeout_ms. */
int usbport_wait_return(const char *sysfs_root, const struct usb_port_info *before, bool expect_gone,
                        int timeout_ms, struct usb_port_info *after, struct mf_err *err);

#endif
