/* The STM32 DfuSe ROM bootloader model (docs/usb.md).  The layouts are the
 * ones ST's ROMs name in their alt settings; erase and program times are
 * the datasheets' typical values, the same ones the Katapult model uses. */
#include "usb_dfuse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "usb_dfu_core.h"

#define KIB 1024u

/* DfuSe commands: the first byte of a block-0 download. */
enum { CMD_GET = 0x00, CMD_SET_ADDRESS = 0x21, CMD_ERASE = 0x41, CMD_READ_UNPROTECT = 0x92 };

struct sector_run {
    uint16_t count;
    uint32_t size;
    uint32_t erase_ms;   /* typical erase time of one such sector */
};

struct dfuse_chip {
    const char *mcu;
    uint16_t transfer_size;   /* wTransferSize of the functional descriptor */
    uint32_t program_us_per_kib;
    struct sector_run runs[4];
};

static const struct dfuse_chip chips[] = {
    { "stm32f401xc", 1024, 4000, { { 4, 16 * KIB, 400 }, { 1, 64 * KIB, 1200 }, { 1, 128 * KIB, 2000 } } },
    { "stm32f405xx", 1024, 4000, { { 4, 16 * KIB, 400 }, { 1, 64 * KIB, 1200 }, { 7, 128 * KIB, 2000 } } },
    { "stm32f407xx", 1024, 4000, { { 4, 16 * KIB, 400 }, { 1, 64 * KIB, 1200 }, { 7, 128 * KIB, 2000 } } },
    { "stm32f429xx", 1024, 4000, { { 4, 16 * KIB, 400 }, { 1, 64 * KIB, 1200 }, { 7, 128 * KIB, 2000 } } },
    { "stm32f446xx", 1024, 4000, { { 4, 16 * KIB, 400 }, { 1, 64 * KIB, 1200 }, { 3, 128 * KIB, 2000 } } },
    { "stm32g0b1xx", 1024, 11000, { { 256, 2 * KIB, 22 } } },
    { "stm32g0b0xx", 1024, 11000, { { 256, 2 * KIB, 22 } } },
    { "stm32h723xx", 1024, 500, { { 8, 128 * KIB, 1100 } } },
    { "stm32h743xx", 1024, 500, { { 16, 128 * KIB, 1100 } } },
};

#define FLASH_BASE 0x08000000u
#define STRING_LAYOUT 4
#define STRING_OPTION_BYTES 5

struct dfuse_dev {
    struct usb_model usb;
    struct dfuse_opts o;
    const struct dfuse_chip *chip;
    uint8_t *mem;
    uint32_t size;
    bool own_mem;
    char layout[160];
    int alt;
    struct dfu_core dfu;
    uint32_t pointer;
    /* The last download, carried out on the next status request. */
    uint16_t block;
    uint8_t buf[4096];
    size_t buf_len;
    bool stall_pending;      /* stall_after_erase: the next poll stalls */
    bool erase_answer_lost;  /* lose_first_erase_answer has been done */
    struct dfuse_stats stats;
};

static const struct dfuse_chip *chip_find(const char *mcu)
{
    for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
        if (!strcmp(chips[i].mcu, mcu))
            return &chips[i];
    return NULL;
}

const char *dfuse_chip_names(void)
{
    static char names[256];
    if (!names[0])
        for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "", chips[i].mcu);
    return names;
}

/* The sector holding addr: its start, size and erase time; false when addr
 * is outside the flash. */
static bool sector_of(const struct dfuse_dev *d, uint32_t addr, uint32_t *start, const struct sector_run **run)
{
    uint32_t at = FLASH_BASE;
    for (const struct sector_run *r = d->chip->runs; r < d->chip->runs + 4 && r->count; r++)
        for (unsigned i = 0; i < r->count; i++, at += r->size)
            if (addr >= at && addr - at < r->size) {
                *start = at, *run = r;
                return true;
            }
    return false;
}

static bool in_flash(const struct dfuse_dev *d, uint32_t addr, size_t len)
{
    return addr >= FLASH_BASE && addr - FLASH_BASE <= d->size && len <= d->size - (addr - FLASH_BASE);
}

static void busy_for(struct dfuse_dev *d, uint32_t us)
{
    dfu_core_busy_for(&d->dfu, us);
}

static void fail(struct dfuse_dev *d, uint8_t status)
{
    dfu_core_fail(&d->dfu, status);
}

static void run_command(struct dfuse_dev *d)
{
    const uint8_t *b = d->buf;
    uint32_t addr = d->buf_len == 5 ? (uint32_t)b[1] | (uint32_t)b[2] << 8 | (uint32_t)b[3] << 16 |
                                          (uint32_t)b[4] << 24
                                    : 0;
    if (b[0] == CMD_SET_ADDRESS && d->buf_len == 5) {
        d->pointer = addr;
        busy_for(d, 0);
    } else if (b[0] == CMD_ERASE && d->buf_len == 5) {
        uint32_t start;
        const struct sector_run *run;
        if (d->alt != 0 || !sector_of(d, addr, &start, &run))
            return fail(d, ERR_TARGET);
        memset(d->mem + (start - FLASH_BASE), 0xff, run->size);
        d->stats.erases++;
        d->stall_pending = d->o.stall_after_erase;
        busy_for(d, run->erase_ms * 1000);
    } else if (b[0] == CMD_ERASE && d->buf_len == 1) {
        memset(d->mem, 0xff, d->size);
        d->stats.erases++;
        busy_for(d, d->size / (128 * KIB) * 2000000 + 100000);
    } else {
        return fail(d, ERR_STALLEDPKT);
    }
    d->dfu.state = ST_DNBUSY;
}

static void program(struct dfuse_dev *d)
{
    uint32_t addr = d->pointer + (uint32_t)(d->block - 2) * d->chip->transfer_size;
    if (d->alt != 0 || !in_flash(d, addr, d->buf_len))
        return fail(d, ERR_TARGET);
    uint8_t *at = d->mem + (addr - FLASH_BASE);
    for (size_t i = 0; i < d->buf_len; i++)
        if (at[i] != 0xff)
            return fail(d, ERR_PROG); /* flash words are written once per erase */
    memcpy(at, d->buf, d->buf_len);
    if (d->o.weak_cell && d->o.weak_cell >= addr && d->o.weak_cell - addr < d->buf_len)
        at[d->o.weak_cell - addr] ^= 0x01;
    d->stats.writes++;
    d->stats.bytes_written += (uint32_t)d->buf_len;
    busy_for(d, (uint32_t)((d->buf_len * d->chip->program_us_per_kib + KIB - 1) / KIB));
    d->dfu.state = ST_DNBUSY;
}

/* GETSTATUS: the pending download is carried out now, as the ROM does. */
static enum usb_result get_status(struct dfuse_dev *d, uint8_t *data, size_t *len)
{
    switch (d->dfu.state) {
    case ST_DNLOAD_SYNC:
        if (d->block == 0)
            run_command(d);
        else
            program(d);
        if (d->o.lose_first_erase_answer && !d->erase_answer_lost && d->stats.erases) {
            d->erase_answer_lost = true;
            return USB_STALL;
        }
        break;
    case ST_DNBUSY:
        if (d->stall_pending) {
            d->stall_pending = false;
            return USB_STALL;
        }
        if (!dfu_core_busy(&d->dfu))
            d->dfu.state = ST_DNLOAD_IDLE, d->dfu.poll_ms = 0;
        break;
    case ST_MANIFEST_SYNC:
        /* The ROM jumps to the address pointer; the application's USB
         * comes up in place of the bootloader's. */
        d->stats.left = true;
        d->stats.left_to = d->pointer;
        d->usb.gone = true;
        if (!d->o.leave_answers)
            return USB_GONE;
        d->dfu.state = ST_MANIFEST;
        break;
    default:
        break;
    }
    dfu_core_status(&d->dfu, data, len);
    return USB_OK;
}

static enum usb_result download(struct dfuse_dev *d, const struct usb_setup *s, const uint8_t *data, size_t len)
{
    if (d->dfu.state != ST_DFU_IDLE && d->dfu.state != ST_DNLOAD_IDLE) {
        fail(d, ERR_STALLEDPKT);
        return USB_STALL;
    }
    if (len == 0) {
        d->dfu.state = ST_MANIFEST_SYNC;
        return USB_OK;
    }
    if (len > sizeof(d->buf) || len > d->chip->transfer_size || s->value == 1 || (s->value == 0 && len > 5)) {
        fail(d, ERR_STALLEDPKT);
        return USB_STALL;
    }
    memcpy(d->buf, data, len);
    d->buf_len = len;
    d->block = s->value;
    d->dfu.state = ST_DNLOAD_SYNC;
    return USB_OK;
}

static enum usb_result upload(struct dfuse_dev *d, const struct usb_setup *s, uint8_t *data, size_t *len)
{
    if (d->dfu.state != ST_DFU_IDLE && d->dfu.state != ST_UPLOAD_IDLE) {
        fail(d, ERR_STALLEDPKT);
        return USB_STALL;
    }
    if (s->value == 0) {
        static const uint8_t cmds[] = { CMD_GET, CMD_SET_ADDRESS, CMD_ERASE, CMD_READ_UNPROTECT };
        *len = *len < sizeof(cmds) ? *len : sizeof(cmds);
        memcpy(data, cmds, *len);
        d->dfu.state = ST_UPLOAD_IDLE;
        return USB_OK;
    }
    uint32_t addr = d->pointer + (uint32_t)(s->value - 2) * d->chip->transfer_size;
    if (s->value == 1 || d->alt != 0 || *len > d->chip->transfer_size || !in_flash(d, addr, 0)) {
        fail(d, ERR_ADDRESS);
        return USB_STALL;
    }
    uint32_t left = d->size - (addr - FLASH_BASE);
    if (*len > left)
        *len = left; /* a short packet ends the upload */
    memcpy(data, d->mem + (addr - FLASH_BASE), *len);
    d->stats.uploads++;
    d->dfu.state = *len < s->length ? ST_DFU_IDLE : ST_UPLOAD_IDLE;
    return USB_OK;
}

static enum usb_result dfuse_control(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len)
{
    struct dfuse_dev *d = m->state;
    enum usb_result r;
    if ((s->request_type & USB_TYPE_MASK) != USB_TYPE_CLASS)
        return USB_STALL;
    if (dfu_core_request(&d->dfu, s, data, len, &r))
        return r;
    switch (s->request) {
    case DFU_DNLOAD:
        return download(d, s, data, *len);
    case DFU_UPLOAD:
        return upload(d, s, data, len);
    case DFU_GETSTATUS:
        return get_status(d, data, len);
    default: /* DETACH means nothing to a device already in DFU mode */
        fail(d, ERR_STALLEDPKT);
        return USB_STALL;
    }
}

static void dfuse_set_alt(struct usb_model *m, int interface, int alt)
{
    struct dfuse_dev *d = m->state;
    d->alt = alt;
    d->dfu.state = ST_DFU_IDLE;
    d->dfu.status = ERR_OK;
}

/* "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg" */
static void make_layout(struct dfuse_dev *d)
{
    int n = snprintf(d->layout, sizeof(d->layout), "@Internal Flash  /0x%08X/", FLASH_BASE);
    for (int i = 0; i < 4 && d->chip->runs[i].count; i++)
        n += snprintf(d->layout + n, sizeof(d->layout) - (size_t)n, "%s%02u*%03uKg", i ? "," : "",
                      d->chip->runs[i].count, d->chip->runs[i].size / KIB);
}

static void make_descriptors(struct dfuse_dev *d)
{
    uint8_t *p = d->usb.descriptors;
    const uint8_t device[18] = { 18, USB_DT_DEVICE, 0x00, 0x02, 0, 0, 0, 64, 0x83, 0x04, 0x11, 0xdf,
                                 0x00, 0x22, 1, 2, 3, 1 };
    memcpy(p, device, sizeof(device));
    p += sizeof(device);
    uint8_t *config = p;
    const uint8_t head[9] = { 9, USB_DT_CONFIG, 0, 0, 1, 1, 0, 0xc0, 50 };
    memcpy(p, head, sizeof(head));
    p += sizeof(head);
    for (uint8_t alt = 0; alt < 2; alt++) {
        const uint8_t intf[9] = { 9, 0x04, 0, alt, 0, 0xfe, 0x01, 0x02, (uint8_t)(STRING_LAYOUT + alt) };
        memcpy(p, intf, sizeof(intf));
        p += sizeof(intf);
    }
    /* DFU functional descriptor: can download, upload and detach; DfuSe 1.1a. */
    const uint8_t func[9] = { 9, 0x21, 0x0b, 0xff, 0x00, (uint8_t)d->chip->transfer_size,
                              (uint8_t)(d->chip->transfer_size >> 8), 0x1a, 0x01 };
    memcpy(p, func, sizeof(func));
    p += sizeof(func);
    size_t total = (size_t)(p - config);
    config[2] = (uint8_t)total, config[3] = (uint8_t)(total >> 8);
    d->usb.descriptors_len = (size_t)(p - d->usb.descriptors);
}

struct dfuse_dev *dfuse_new(const struct dfuse_opts *o)
{
    const struct dfuse_chip *chip = chip_find(o->mcu);
    if (!chip)
        return NULL;
    struct dfuse_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->o = *o;
    d->chip = chip;
    d->dfu.realistic = o->realistic;
    for (int i = 0; i < 4; i++)
        d->size += chip->runs[i].count * chip->runs[i].size;
    if (o->flash && o->flash_size >= d->size) {
        d->mem = o->flash;
    } else {
        d->mem = malloc(d->size);
        if (!d->mem) {
            free(d);
            return NULL;
        }
        memset(d->mem, 0xff, d->size);
        d->own_mem = true;
    }
    d->dfu.state = ST_DFU_IDLE;
    d->pointer = FLASH_BASE;
    make_layout(d);
    make_descriptors(d);
    d->usb.vid = 0x0483, d->usb.pid = 0xdf11;
    d->usb.strings[1] = "STMicroelectronics";
    d->usb.strings[2] = "STM32  BOOTLOADER";
    d->usb.strings[3] = d->usb.serial = "3574364C3034";
    d->usb.strings[STRING_LAYOUT] = d->layout;
    d->usb.strings[STRING_OPTION_BYTES] = "@Option Bytes  /0x1FFFC000/01*016 e";
    d->usb.control = dfuse_control;
    d->usb.set_alt = dfuse_set_alt;
    d->usb.state = d;
    return d;
}

void dfuse_free(struct dfuse_dev *d)
{
    if (d && d->own_mem)
        free(d->mem);
    free(d);
}

struct usb_model *dfuse_usb(struct dfuse_dev *d)
{
    return &d->usb;
}

const struct dfuse_stats *dfuse_stats(const struct dfuse_dev *d)
{
    return &d->stats;
}

const uint8_t *dfuse_flash(const struct dfuse_dev *d, uint32_t *base, uint32_t *size)
{
    *base = FLASH_BASE, *size = d->size;
    return d->mem;
}

void dfuse_preload(struct dfuse_dev *d, uint32_t addr, const uint8_t *data, uint32_t len)
{
    if (in_flash(d, addr, len))
        memcpy(d->mem + (addr - FLASH_BASE), data, len);
}
