/* The LPC176x DFU bootloader model (docs/usb.md).  Flash timing is the
 * LPC176x datasheet's (100 ms per sector erase, 1 ms per 256-byte write). */
#include "usb_dfu_lpc.h"

#include <stdlib.h>
#include <string.h>

#include "usb_dfu_core.h"

#define TRANSFER_SIZE 512u
#define ERASE_MS 100u
#define WRITE_MS 2u

struct lpc_dfu {
    struct usb_model usb;
    uint8_t *flash;
    uint32_t size;
    struct dfu_core dfu;
    uint16_t block;
    uint8_t buf[TRANSFER_SIZE];
    size_t len;
    uint32_t erased_to;     /* sectors from the application up to here are erased */
    struct lpc_dfu_stats stats;
};

/* Sixteen 4 KiB sectors, then 32 KiB ones. */
static uint32_t sector_end(uint32_t addr)
{
    return addr < 0x10000 ? (addr / 0x1000 + 1) * 0x1000 : (addr / 0x8000 + 1) * 0x8000;
}

/* Write the pending block, erasing the sectors it reaches first. */
static void program(struct lpc_dfu *d)
{
    uint32_t addr = LPC_DFU_APP_BASE + (uint32_t)d->block * TRANSFER_SIZE;
    if (addr >= d->size || d->len > d->size - addr) {
        dfu_core_fail(&d->dfu, ERR_ADDRESS);
        return;
    }
    uint32_t ms = WRITE_MS;
    while (d->erased_to < addr + d->len) {
        uint32_t end = sector_end(d->erased_to);
        memset(d->flash + d->erased_to, 0xff, end - d->erased_to);
        d->erased_to = end;
        d->stats.erases++;
        ms += ERASE_MS;
    }
    memcpy(d->flash + addr, d->buf, d->len);
    d->stats.blocks++;
    d->stats.bytes_written += (uint32_t)d->len;
    dfu_core_busy_for(&d->dfu, ms * 1000);
    d->dfu.state = ST_DNBUSY;
}

static enum usb_result get_status(struct lpc_dfu *d, uint8_t *data, size_t *len)
{
    switch (d->dfu.state) {
    case ST_DNLOAD_SYNC:
        program(d);
        break;
    case ST_DNBUSY:
        if (!dfu_core_busy(&d->dfu))
            d->dfu.state = ST_DNLOAD_IDLE, d->dfu.poll_ms = 0;
        break;
    case ST_MANIFEST_SYNC:
        d->dfu.state = ST_MANIFEST;
        dfu_core_busy_for(&d->dfu, 1000);
        break;
    case ST_MANIFEST:
        /* Not manifestation tolerant: it says it waits for a reset, and
         * resets into the application right after this answer. */
        d->dfu.state = ST_MANIFEST_WAIT_RESET;
        d->stats.left = true;
        d->usb.gone = true;
        break;
    default:
        break;
    }
    dfu_core_status(&d->dfu, data, len);
    return USB_OK;
}

static enum usb_result stall(struct lpc_dfu *d)
{
    dfu_core_fail(&d->dfu, ERR_STALLEDPKT);
    return USB_STALL;
}

static enum usb_result lpc_control(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len)
{
    struct lpc_dfu *d = m->state;
    enum usb_result r;
    if ((s->request_type & USB_TYPE_MASK) != USB_TYPE_CLASS)
        return USB_STALL;
    if (dfu_core_request(&d->dfu, s, data, len, &r))
        return r;
    switch (s->request) {
    case DFU_DNLOAD:
        if (d->dfu.state != ST_DFU_IDLE && d->dfu.state != ST_DNLOAD_IDLE)
            return stall(d);
        if (*len == 0) {
            if (d->dfu.state == ST_DFU_IDLE)
                return stall(d); /* nothing was downloaded */
            d->dfu.state = ST_MANIFEST_SYNC;
            return USB_OK;
        }
        if (*len > TRANSFER_SIZE)
            return stall(d);
        memcpy(d->buf, data, *len);
        d->len = *len;
        d->block = s->value;
        d->dfu.state = ST_DNLOAD_SYNC;
        return USB_OK;
    case DFU_GETSTATUS:
        return get_status(d, data, len);
    default: /* no upload: this bootloader only writes */
        return stall(d);
    }
}

static void lpc_set_alt(struct usb_model *m, int interface, int alt)
{
    struct lpc_dfu *d = m->state;
    d->dfu.state = ST_DFU_IDLE, d->dfu.status = ERR_OK;
}

struct lpc_dfu *lpc_dfu_new(uint8_t *flash, uint32_t flash_size, bool realistic)
{
    struct lpc_dfu *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->flash = flash, d->size = flash_size, d->dfu.realistic = realistic;
    d->dfu.state = ST_DFU_IDLE;
    d->erased_to = LPC_DFU_APP_BASE;
    static const uint8_t desc[] = {
        18, USB_DT_DEVICE, 0x00, 0x02, 0, 0, 0, 64, 0x50, 0x1d, 0x15, 0x60, 0x00, 0x01, 1, 2, 3, 1,
        9, USB_DT_CONFIG, 27, 0, 1, 1, 0, 0x80, 50,
        9, 0x04, 0, 0, 0, 0xfe, 0x01, 0x02, 0,
        /* DFU functional: download only, not manifestation tolerant, DFU 1.1 */
        9, 0x21, 0x01, 0xff, 0x00, TRANSFER_SIZE & 0xff, TRANSFER_SIZE >> 8, 0x10, 0x01,
    };
    memcpy(d->usb.descriptors, desc, sizeof(desc));
    d->usb.descriptors_len = sizeof(desc);
    d->usb.vid = 0x1d50, d->usb.pid = 0x6015;
    /* The strings of the real bootloader are not known; these only name it. */
    d->usb.strings[1] = "LPC17xx";
    d->usb.strings[2] = "DFU bootloader";
    d->usb.strings[3] = d->usb.serial = "0123456789AB";
    d->usb.control = lpc_control;
    d->usb.set_alt = lpc_set_alt;
    d->usb.state = d;
    return d;
}

void lpc_dfu_free(struct lpc_dfu *d)
{
    free(d);
}

struct usb_model *lpc_dfu_usb(struct lpc_dfu *d)
{
    return &d->usb;
}

const struct lpc_dfu_stats *lpc_dfu_stats(const struct lpc_dfu *d)
{
    return &d->stats;
}
