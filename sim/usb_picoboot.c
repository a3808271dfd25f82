/* The RP2040 / RP2350 BOOTSEL model (docs/usb.md).  Command layout and
 * status codes are those of the pico-sdk's boot/picoboot.h; flash times are
 * a W25Q16JV's typical ones (45 ms per 4 KiB sector erase, 0.4 ms per
 * 256-byte page). */
#include "usb_picoboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KIB 1024u
#define SECTOR 4096u
#define PAGE 256u
#define ERASE_US 45000u
#define PAGE_US 400u

#define MAGIC 0x431fd10bu
#define EP_OUT 0x03
#define EP_IN 0x84
#define IF_PICOBOOT 1
/* Vendor requests to the interface. */
#define IF_RESET 0x41
#define IF_CMD_STATUS 0x42

enum { PC_EXCLUSIVE_ACCESS = 0x01, PC_REBOOT = 0x02, PC_FLASH_ERASE = 0x03, PC_READ = 0x84, PC_WRITE = 0x05,
       PC_EXIT_XIP = 0x06, PC_ENTER_CMD_XIP = 0x07, PC_REBOOT2 = 0x0a };
enum { ST_OK = 0, ST_UNKNOWN_CMD = 1, ST_INVALID_CMD_LENGTH = 2, ST_INVALID_TRANSFER_LENGTH = 3,
       ST_INVALID_ADDRESS = 4, ST_BAD_ALIGNMENT = 5 };

/* Where the interface is in a command's life. */
enum phase { WAIT_CMD, DATA_OUT, DATA_IN, ACK_IN, ACK_OUT };

struct picoboot_dev {
    struct usb_model usb;
    struct picoboot_opts o;
    bool rp2350;
    uint8_t *mem;
    uint32_t size;
    bool own_mem;
    enum phase phase;
    /* The command in progress. */
    uint32_t token, status;
    uint8_t cmd_id, cmd_size;
    uint32_t addr, len, done;
    uint8_t args[16];
    uint8_t page[PAGE];
    bool in_progress;
    bool reboot_due;
    char serial[20];
    struct picoboot_stats stats;
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

/* The flash chip is busy: the ROM answers only when it is done. */
static void take_time(const struct picoboot_dev *d, uint32_t us)
{
    if (d->o.realistic)
        usleep(us);
}

static bool in_flash(const struct picoboot_dev *d, uint32_t addr, uint32_t len)
{
    return addr >= PICOBOOT_FLASH_BASE && addr - PICOBOOT_FLASH_BASE <= d->size &&
           len <= d->size - (addr - PICOBOOT_FLASH_BASE);
}

/* A refused command: the status says why and the endpoint stalls. */
static enum usb_result refuse(struct picoboot_dev *d, uint32_t status)
{
    d->status = status;
    d->in_progress = false;
    d->phase = WAIT_CMD;
    return USB_STALL;
}

static enum usb_result erase(struct picoboot_dev *d)
{
    if (d->addr % SECTOR || d->len % SECTOR)
        return refuse(d, ST_BAD_ALIGNMENT);
    if (!in_flash(d, d->addr, d->len))
        return refuse(d, ST_INVALID_ADDRESS);
    memset(d->mem + (d->addr - PICOBOOT_FLASH_BASE), 0xff, d->len);
    d->stats.erases += d->len / SECTOR;
    take_time(d, d->len / SECTOR * ERASE_US);
    return USB_OK;
}

/* One page of a WRITE: programming only clears bits. */
static void program_page(struct picoboot_dev *d, uint32_t addr)
{
    uint8_t *at = d->mem + (addr - PICOBOOT_FLASH_BASE);
    for (uint32_t i = 0; i < PAGE; i++)
        at[i] &= d->page[i];
    if (d->o.weak_cell && d->o.weak_cell >= addr && d->o.weak_cell - addr < PAGE)
        at[d->o.weak_cell - addr] ^= 0x01;
    d->stats.pages++;
    take_time(d, PAGE_US);
}

/* A command packet: checked, and carried out at once when it moves no data. */
static enum usb_result command(struct picoboot_dev *d, const uint8_t *p, size_t len)
{
    if (len != 32 || le32(p) != MAGIC)
        return refuse(d, ST_INVALID_CMD_LENGTH);
    d->token = le32(p + 4);
    d->cmd_id = p[8], d->cmd_size = p[9];
    d->len = le32(p + 12);
    memcpy(d->args, p + 16, sizeof(d->args));
    d->addr = le32(d->args);
    d->done = 0;
    d->status = ST_OK;
    d->in_progress = true;
    bool moves_data = d->cmd_id == PC_READ || d->cmd_id == PC_WRITE;
    if (!moves_data && d->len)
        return refuse(d, ST_INVALID_TRANSFER_LENGTH);
    switch (d->cmd_id) {
    case PC_EXCLUSIVE_ACCESS:
        if (d->cmd_size != 1)
            return refuse(d, ST_INVALID_CMD_LENGTH);
        d->stats.exclusive = d->args[0] != 0;
        break;
    case PC_EXIT_XIP:
        d->stats.xip_exited = true;
        break;
    case PC_ENTER_CMD_XIP:
        break;
    case PC_FLASH_ERASE:
        if (d->cmd_size != 8)
            return refuse(d, ST_INVALID_CMD_LENGTH);
        d->len = le32(d->args + 4);
        if (erase(d) != USB_OK)
            return USB_STALL;
        d->len = 0;
        break;
    case PC_READ:
    case PC_WRITE:
        if (d->cmd_size != 8 || le32(d->args + 4) != d->len)
            return refuse(d, ST_INVALID_CMD_LENGTH);
        if (!in_flash(d, d->addr, d->len))
            return refuse(d, ST_INVALID_ADDRESS);
        if (d->cmd_id == PC_WRITE && (d->addr % PAGE || d->len % PAGE))
            return refuse(d, ST_BAD_ALIGNMENT);
        d->phase = d->len == 0 ? (d->cmd_id == PC_READ ? ACK_OUT : ACK_IN) : d->cmd_id == PC_READ ? DATA_IN
                                                                                                 : DATA_OUT;
        return USB_OK;
    case PC_REBOOT2:
        if (!d->rp2350)
            return refuse(d, ST_UNKNOWN_CMD);
        if (d->cmd_size != 16)
            return refuse(d, ST_INVALID_CMD_LENGTH);
        d->reboot_due = true;
        break;
    case PC_REBOOT:
        if (d->cmd_size != 12)
            return refuse(d, ST_INVALID_CMD_LENGTH);
        d->reboot_due = true;
        break;
    default:
        return refuse(d, ST_UNKNOWN_CMD);
    }
    d->phase = ACK_IN;
    return USB_OK;
}

/* WRITE data: programmed a page at a time as it arrives. */
static enum usb_result data_out(struct picoboot_dev *d, const uint8_t *p, size_t len)
{
    if (len > d->len - d->done)
        return refuse(d, ST_INVALID_TRANSFER_LENGTH);
    for (size_t i = 0; i < len; i++) {
        d->page[(d->done + i) % PAGE] = p[i];
        if ((d->done + i) % PAGE == PAGE - 1)
            program_page(d, d->addr + (uint32_t)(d->done + i) - (PAGE - 1));
    }
    d->done += (uint32_t)len;
    if (d->done == d->len)
        d->phase = ACK_IN;
    return USB_OK;
}

static enum usb_result data_in(struct picoboot_dev *d, uint8_t *p, size_t *len)
{
    uint32_t n = d->len - d->done;
    if (*len < n)
        n = (uint32_t)*len;
    memcpy(p, d->mem + (d->addr - PICOBOOT_FLASH_BASE) + d->done, n);
    d->done += n;
    d->stats.bytes_read += n;
    *len = n;
    if (d->done == d->len) {
        d->stats.reads++;
        d->phase = ACK_OUT;
    }
    return USB_OK;
}

/* The acknowledgement ends the command; a reboot happens after it. */
static void acknowledged(struct picoboot_dev *d)
{
    d->in_progress = false;
    d->phase = WAIT_CMD;
    if (d->reboot_due) {
        d->stats.rebooted = true;
        d->usb.gone = true;
    }
}

static enum usb_result picoboot_bulk(struct usb_model *m, uint8_t endpoint, uint8_t *data, size_t *len)
{
    struct picoboot_dev *d = m->state;
    if (m->gone)
        return USB_GONE;
    if (endpoint == EP_OUT) {
        switch (d->phase) {
        case WAIT_CMD:
            return command(d, data, *len);
        case DATA_OUT:
            return data_out(d, data, *len);
        case ACK_OUT:
            /* The host's zero-length (or one-byte) packet. */
            acknowledged(d);
            return USB_OK;
        default:
            return USB_STALL;
        }
    }
    if (endpoint == EP_IN) {
        switch (d->phase) {
        case DATA_IN:
            return data_in(d, data, len);
        case ACK_IN:
            *len = 0;
            acknowledged(d);
            return USB_OK;
        default:
            return USB_STALL;
        }
    }
    return USB_STALL;
}

static enum usb_result picoboot_control(struct usb_model *m, const struct usb_setup *s, uint8_t *data, size_t *len)
{
    struct picoboot_dev *d = m->state;
    if ((s->request_type & USB_TYPE_MASK) != USB_TYPE_VENDOR || s->index != IF_PICOBOOT)
        return USB_STALL;
    if (s->request == IF_RESET && !(s->request_type & USB_DIR_IN)) {
        d->phase = WAIT_CMD;
        d->in_progress = false;
        d->status = ST_OK;
        *len = 0;
        return USB_OK;
    }
    if (s->request == IF_CMD_STATUS && (s->request_type & USB_DIR_IN)) {
        uint8_t st[16] = { 0 };
        put_le32(st, d->token);
        put_le32(st + 4, d->status);
        st[8] = d->cmd_id;
        st[9] = d->in_progress;
        *len = *len < sizeof(st) ? *len : sizeof(st);
        memcpy(data, st, *len);
        return USB_OK;
    }
    return USB_STALL;
}

bool picoboot_mcu(const char *mcu)
{
    return mcu && (!strcmp(mcu, "rp2040") || !strcmp(mcu, "rp2350"));
}

/* Device, then the configuration: interface 0 mass storage, interface 1
 * PICOBOOT with its OUT endpoint first. */
static void describe(struct picoboot_dev *d)
{
    uint16_t pid = d->rp2350 ? 0x000f : 0x0003;
    const uint8_t desc[] = {
        18, USB_DT_DEVICE, 0x10, 0x01, 0, 0, 0, 64, 0x8a, 0x2e, (uint8_t)pid, (uint8_t)(pid >> 8), 0x00, 0x01,
        1, 2, 3, 1,
        9, USB_DT_CONFIG, 55, 0, 2, 1, 0, 0x80, 250,
        9, 0x04, 0, 0, 2, 0x08, 0x06, 0x50, 0,
        7, 0x05, 0x81, 0x02, 64, 0, 0,
        7, 0x05, 0x02, 0x02, 64, 0, 0,
        9, 0x04, IF_PICOBOOT, 0, 2, 0xff, 0x00, 0x00, 0,
        7, 0x05, EP_OUT, 0x02, 64, 0, 0,
        7, 0x05, EP_IN, 0x02, 64, 0, 0,
    };
    memcpy(d->usb.descriptors, desc, sizeof(desc));
    d->usb.descriptors_len = sizeof(desc);
    d->usb.vid = 0x2e8a, d->usb.pid = pid;
    d->usb.strings[1] = "Raspberry Pi";
    d->usb.strings[2] = d->rp2350 ? "RP2350 Boot" : "RP2 Boot";
    d->usb.strings[3] = d->usb.serial = d->serial;
}

struct picoboot_dev *picoboot_new(const struct picoboot_opts *o)
{
    if (!picoboot_mcu(o->mcu))
        return NULL;
    struct picoboot_dev *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->o = *o;
    d->rp2350 = !strcmp(o->mcu, "rp2350");
    d->size = o->flash ? o->flash_size : 2048 * KIB;
    d->mem = o->flash;
    if (!d->mem) {
        d->own_mem = true;
        d->mem = malloc(d->size);
        if (!d->mem) {
            free(d);
            return NULL;
        }
        memset(d->mem, 0xff, d->size);
    }
    snprintf(d->serial, sizeof(d->serial), "E66038B713%06X", (unsigned)(d->size & 0xffffff));
    describe(d);
    d->usb.control = picoboot_control;
    d->usb.bulk = picoboot_bulk;
    d->usb.state = d;
    return d;
}

void picoboot_free(struct picoboot_dev *d)
{
    if (!d)
        return;
    if (d->own_mem)
        free(d->mem);
    free(d);
}

struct usb_model *picoboot_usb(struct picoboot_dev *d)
{
    return &d->usb;
}

const struct picoboot_stats *picoboot_stats(const struct picoboot_dev *d)
{
    return &d->stats;
}

const uint8_t *picoboot_flash(const struct picoboot_dev *d, uint32_t *base, uint32_t *size)
{
    *base = PICOBOOT_FLASH_BASE;
    *size = d->size;
    return d->mem;
}
