/* USB devices through libusb-1.0: finding them by port path or VID:PID,
 * opening one, claiming an interface and its alt setting, control
 * transfers and descriptors.  A device is named by its port path ("1-1.3",
 * as in sysfs), which survives the re-enumeration of a bootloader entry;
 * bus and device numbers do not.
 */
#ifndef MF_USB_USBDEV_H
#define MF_USB_USBDEV_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct usbdev_info {
    uint16_t vid, pid;
    char port[32];       /* "1-1.3" */
    uint8_t bus, address;
    char devnode[32];    /* "/dev/bus/usb/001/005" */
};

/* Which devices a search takes: any of these ids (pid 0: any product of
 * vid), at port when it is not NULL. */
struct usbdev_id {
    uint16_t vid, pid;
};

/* The devices present that match, in port order: their count (at most cap
 * filled), or -1 when libusb cannot start. */
int usbdev_find(const struct usbdev_id *ids, size_t nids, const char *port, struct usbdev_info *out, int cap,
                struct mf_err *err);

/* The first interface of class `cls` in the device's configuration with a
 * bulk OUT and a bulk IN endpoint: its number and endpoint addresses.  0,
 * or -1 (MF_E_DEVICE) when the device is gone or has no such interface. */
struct usbdev_bulk_if {
    int interface;
    uint8_t ep_out, ep_in;
};
int usbdev_find_bulk_interface(const struct usbdev_info *info, uint8_t cls, struct usbdev_bulk_if *out,
                               struct mf_err *err);

struct usbdev;

/* Open the device and claim interface.  MF_E_DEVICE when it is gone or
 * cannot be opened; the message names the device node when the reason is
 * its permissions (errno EACCES is left in *access_denied as 1). */
int usbdev_open(const struct usbdev_info *info, int interface, struct usbdev **out, int *access_denied,
                struct mf_err *err);
void usbdev_close(struct usbdev *d);

int usbdev_set_alt(struct usbdev *d, int alt, struct mf_err *err);

/* How a control transfer ended. */
enum usbdev_result {
    USBDEV_OK = 0,
    USBDEV_STALL = -1,   /* the device refused the request */
    USBDEV_GONE = -2,    /* the device left the bus */
    USBDEV_ERROR = -3,   /* timeout or another transfer error */
};

/* A control transfer on endpoint 0: bytes moved in *done. */
enum usbdev_result usbdev_control(struct usbdev *d, uint8_t request_type, uint8_t request, uint16_t value,
                                  uint16_t index, uint8_t *data, uint16_t length, unsigned timeout_ms,
                                  int *done);

/* A bulk transfer on endpoint ep (its direction bit says which way):
 * bytes moved in *done. */
enum usbdev_result usbdev_bulk(struct usbdev *d, uint8_t ep, uint8_t *data, int length, unsigned timeout_ms,
                               int *done);

/* Clear a halt (stall) of endpoint ep on both ends of the pipe. */
void usbdev_clear_halt(struct usbdev *d, uint8_t ep);

/* A string descriptor as ASCII ("" when the device has none). */
void usbdev_string(struct usbdev *d, uint8_t index, char *out, size_t cap);
/* The name (iInterface string) of alt setting alt of the claimed interface. */
void usbdev_alt_name(struct usbdev *d, int alt, char *out, size_t cap);
/* The number of alt settings of the claimed interface. */
int usbdev_alt_count(struct usbdev *d);
/* The class-specific descriptor of type `type` following the claimed
 * interface (or its device's configuration): bytes copied, 0 if none. */
size_t usbdev_class_descriptor(struct usbdev *d, uint8_t type, uint8_t *out, size_t cap);

const struct usbdev_info *usbdev_info(const struct usbdev *d);

#endif
