/* What the USB bootloader routes (dfu, picoboot) share: finding a device
 * already waiting in its bootloader (usb:PORT, usb:VID:PID, or the only one
 * there), or reaching it from running Klipper by the 1200-baud touch and
 * finding it again on the same USB port; saying what came up instead when
 * it does not; the udev advice for a device node that is not writable; and
 * following the board back to its Klipper tty once it left the bootloader.
 */
#ifndef MF_METHOD_USBBOOT_H
#define MF_METHOD_USBBOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link/usbport.h"
#include "method/route.h"
#include "usb/usbdev.h"

/* A kind of USB bootloader, as messages name it. */
struct usbboot_kind {
    const char *device;          /* "DFU device", "BOOTSEL device" */
    const struct usbdev_id *ids; /* what it enumerates as */
    size_t nids;
    const char *by_hand;         /* how to put a board into it by hand */
};

struct usbboot {
    struct usb_port_info before;    /* the running board, before the touch */
    struct usbdev_info dev;         /* the bootloader device */
    uint64_t entered_us;            /* when the touch sent it there (0: it was there) */
    struct mf_flash_opts back_opts; /* usb: targets: the Klipper device that comes back */
};

/* The target names a USB device (usb:...), not a running board. */
bool usbboot_target(const struct mf_job *j);

/* A device already in its bootloader: usb:BUS-PORT[.PORT], usb:VID:PID or
 * usb: alone (the only one there). */
int usbboot_find_waiting(struct mf_job *j, const struct usbboot_kind *k, struct usbboot *b, struct mf_err *err);

/* Running Klipper on a USB serial device: connect, note what runs, and
 * record its USB port.  Nothing is touched yet. */
int usbboot_connect(struct mf_job *j, struct usbboot *b, const char *route, struct mf_err *err);
/* Touch it at 1200 baud and wait for the bootloader on the same port;
 * when something else comes, say what and what it means. */
int usbboot_touch(struct mf_job *j, const struct usbboot_kind *k, struct usbboot *b, struct mf_err *err);

/* After an open refused for the device node's permissions (denied): add
 * what was left untouched and the udev rules to err's sentence. */
void usbboot_access_advice(bool denied, struct mf_err *err);

/* After the bootloader started the new firmware: a usb: target is
 * followed to the Klipper tty that comes up on the port. */
void usbboot_follow(struct mf_job *j, struct usbboot *b);
/* The judge of a USB bootloader route: took says what the bootloader did
 * ("ROM bootloader wrote the firmware, read it back identical and started
 * it"), addr where it put the image. */
int usbboot_judge(struct mf_job *j, int running, const char *took, uint32_t addr, struct mf_err *err);
/* The state a stop while writing leaves: the board waits in `where`. */
void usbboot_stopped_writing(const struct mf_job *j, const char *where, char *buf, size_t cap);

void usbboot_note_time(struct mf_job *j, const struct usbboot *b);
void usbboot_release(struct usbboot *b);

#endif
