/* A USB device as the virtual board presents it to the host: its
 * descriptors (as the kernel shows them in sysfs), its answers to control
 * transfers on endpoint 0, and whether it is still on the bus.  The umockdev
 * harness (usb_testbed.c) carries the host's usbdevfs requests to it; the
 * models themselves know nothing of umockdev, so unit tests drive them
 * directly.
 */
#ifndef SIM_USB_MODEL_H
#define SIM_USB_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bmRequestType bits and standard requests (USB 2.0 chapter 9). */
#define USB_DIR_IN 0x80
#define USB_TYPE_MASK 0x60
#define USB_TYPE_STANDARD 0x00
#define USB_TYPE_CLASS 0x20
#define USB_TYPE_VENDOR 0x40
#define USB_REQ_GET_STATUS 0x00
#define USB_REQ_GET_DESCRIPTOR 0x06
#define USB_REQ_GET_CONFIGURATION 0x08
#define USB_REQ_GET_INTERFACE 0x0a
#define USB_DT_DEVICE 0x01
#define USB_DT_CONFIG 0x02
#define USB_DT_STRING 0x03

struct usb_setup {
    uint8_t request_type, request;
    uint16_t value, index, length;
};

/* What a control transfer came to. */
enum usb_result {
    USB_OK = 0,     /* done; *len bytes were returned (IN) or taken (OUT) */
    USB_STALL = -1, /* the device stalled endpoint 0 */
    USB_GONE = -2,  /* the device dropped off the bus instead of answering */
};

struct usb_model {
    uint16_t vid, pid;
    uint8_t descriptors[512]; /* device descriptor then the configuration, as in sysfs */
    size_t descriptors_len;
    const char *strings[16];  /* string descriptors by index (0: unused, langid is built in) */
    const char *serial;       /* the USB serial number (also one of the strings) */
    bool gone;                /* it left the bus (reset into the application) */
    void (*set_alt)(struct usb_model *m, int interface, int alt);
    /* Class or vendor requests; data holds OUT data on entry, IN data on
     * return, *len is the byte count either way (at most setup->length). */
    enum usb_result (*control)(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len);
    /* Bulk endpoints (picoboot); NULL when the device has none. */
    enum usb_result (*bulk)(struct usb_model *m, uint8_t endpoint, uint8_t *data, size_t *len);
    void *state;
};

/* Endpoint 0: standard requests answered from the model's descriptors and
 * strings, the rest handed to the model. */
enum usb_result usb_model_control(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len);

#endif
