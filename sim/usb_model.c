/* Standard requests on endpoint 0, answered the same for every model. */
#include "usb_model.h"

#include <string.h>

/* A string descriptor: UTF-16LE of an ASCII string; index 0 lists US
 * English as the only language. */
static size_t string_descriptor(const struct usb_model *m, unsigned index, uint8_t *out, size_t cap)
{
    uint8_t d[256];
    size_t n = 2;
    if (index == 0) {
        d[n++] = 0x09, d[n++] = 0x04;
    } else {
        const char *s = index < 16 ? m->strings[index] : NULL;
        if (!s)
            return 0;
        for (; *s && n + 2 <= 254; s++)
            d[n++] = (uint8_t)*s, d[n++] = 0;
    }
    d[0] = (uint8_t)n, d[1] = USB_DT_STRING;
    if (n > cap)
        n = cap;
    memcpy(out, d, n);
    return n;
}

/* The configuration descriptor follows the 18-byte device descriptor;
 * its wTotalLength says how long it is. */
static size_t config_descriptor(const struct usb_model *m, uint8_t *out, size_t cap)
{
    const uint8_t *c = m->descriptors + 18;
    size_t n = (size_t)(c[2] | c[3] << 8);
    if (n > cap)
        n = cap;
    memcpy(out, c, n);
    return n;
}

enum usb_result usb_model_control(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len)
{
    if (m->gone)
        return USB_GONE;
    if ((s->request_type & USB_TYPE_MASK) != USB_TYPE_STANDARD)
        return m->control ? m->control(m, s, data, len) : USB_STALL;
    size_t cap = s->length;
    switch (s->request) {
    case USB_REQ_GET_DESCRIPTOR: {
        unsigned type = s->value >> 8, index = s->value & 0xff;
        if (type == USB_DT_DEVICE) {
            *len = cap < 18 ? cap : 18;
            memcpy(data, m->descriptors, *len);
        } else if (type == USB_DT_CONFIG && index == 0) {
            *len = config_descriptor(m, data, cap);
        } else if (type == USB_DT_STRING) {
            *len = string_descriptor(m, index, data, cap);
            if (!*len)
                return USB_STALL;
        } else {
            return USB_STALL;
        }
        return USB_OK;
    }
    case USB_REQ_GET_CONFIGURATION:
        if (cap < 1)
            return USB_STALL;
        data[0] = 1, *len = 1;
        return USB_OK;
    case USB_REQ_GET_STATUS:
        if (cap < 2)
            return USB_STALL;
        data[0] = 0, data[1] = 0, *len = 2;
        return USB_OK;
    default:
        return USB_STALL;
    }
}
