/* The virtual board's USB devices as host programs see them: a umockdev
 * testbed holds their sysfs entries and device nodes, and the usbdevfs
 * requests that libusb (in mcuflash, or in dfu-util) sends to a node are
 * answered here by the device's model.  Programs reach the testbed when
 * they run with umockdev's preload library and UMOCKDEV_DIR set
 * (usb_testbed_child_env); the requests are served while the caller runs
 * usb_testbed_iterate.  Built only with umockdev (MF_HAVE_UMOCKDEV).
 */
#ifndef SIM_USB_TESTBED_H
#define SIM_USB_TESTBED_H

#include <stdbool.h>

#include "usb_model.h"
#include "util/err.h"

struct usb_testbed;

/* Whether this build of mcuflash-sim can emulate USB devices. */
bool usb_testbed_available(void);

struct usb_testbed *usb_testbed_new(struct mf_err *err);
void usb_testbed_free(struct usb_testbed *tb);

/* Plug the model in at port ("1-1", "1-4": a root-hub port of bus 1), in
 * place of what was there; up to four devices at once.  Each
 * plug gets the next device number, as a re-enumeration does.  tty, when
 * not NULL, is the device node of the serial port the device brings (as
 * below /dev: "pts/7"), shown in sysfs under its first interface as a CDC
 * ACM port's is. */
int usb_testbed_plug(struct usb_testbed *tb, const char *port, struct usb_model *m, const char *tty,
                     struct mf_err *err);
/* What is plugged in at port now (NULL: nothing). */
const struct usb_model *usb_testbed_model(struct usb_testbed *tb, const char *port);
/* Pull the device at port out (also done by itself once its model reports
 * it left the bus). */
void usb_testbed_unplug(struct usb_testbed *tb, const char *port);

/* The testbed's root directory (UMOCKDEV_DIR). */
const char *usb_testbed_root(const struct usb_testbed *tb);
/* Set LD_PRELOAD and UMOCKDEV_DIR in this process's environment, for
 * children started after it. */
int usb_testbed_child_env(const struct usb_testbed *tb, struct mf_err *err);
/* Serve requests for up to timeout_ms (0: only what is waiting). */
void usb_testbed_iterate(struct usb_testbed *tb, int timeout_ms);

#endif
