/* The DFU state every bootloader model shares. */
#include "usb_dfu_core.h"

#include <string.h>

void dfu_core_busy_for(struct dfu_core *c, uint32_t us)
{
    c->poll_ms = c->realistic ? (us + 999) / 1000 : 0;
    clock_gettime(CLOCK_MONOTONIC, &c->busy_until);
    if (!c->realistic)
        return;
    c->busy_until.tv_sec += us / 1000000;
    c->busy_until.tv_nsec += (long)(us % 1000000) * 1000;
    if (c->busy_until.tv_nsec >= 1000000000L)
        c->busy_until.tv_sec++, c->busy_until.tv_nsec -= 1000000000L;
}

bool dfu_core_busy(const struct dfu_core *c)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec < c->busy_until.tv_sec ||
           (now.tv_sec == c->busy_until.tv_sec && now.tv_nsec < c->busy_until.tv_nsec);
}

void dfu_core_fail(struct dfu_core *c, uint8_t status)
{
    c->status = status;
    c->state = ST_ERROR;
}

void dfu_core_status(const struct dfu_core *c, uint8_t *data, size_t *len)
{
    uint8_t r[6] = { c->status, (uint8_t)c->poll_ms, (uint8_t)(c->poll_ms >> 8), (uint8_t)(c->poll_ms >> 16),
                     c->state, 0 };
    *len = *len < 6 ? *len : 6;
    memcpy(data, r, *len);
}

bool dfu_core_request(struct dfu_core *c, const struct usb_setup *s, uint8_t *data, size_t *len, enum usb_result *r)
{
    *r = USB_OK;
    switch (s->request) {
    case DFU_CLRSTATUS:
        if (c->state == ST_ERROR)
            c->state = ST_DFU_IDLE, c->status = ERR_OK;
        *len = 0;
        return true;
    case DFU_GETSTATE:
        if (*len < 1)
            *r = USB_STALL;
        else
            data[0] = c->state, *len = 1;
        return true;
    case DFU_ABORT:
        if (c->state != ST_ERROR)
            c->state = ST_DFU_IDLE;
        *len = 0;
        return true;
    default:
        return false;
    }
}
