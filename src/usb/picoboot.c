/* The PICOBOOT protocol (pico-sdk boot/picoboot.h) on libusb. */
#include "usb/picoboot.h"

#include <stdlib.h>
#include <string.h>

#include "util/interrupt.h"

#define MAGIC 0x431fd10bu
#define VENDOR_CLASS 0xff
/* Vendor requests to the interface. */
#define IF_RESET 0x41
#define IF_CMD_STATUS 0x42
#define REQ_OUT 0x41 /* vendor, interface, host to device */
#define REQ_IN 0xc1
#define CMD_DIR_IN 0x80
/* Sector erase takes up to 400 ms on common QSPI parts; a hub may add more. */
#define TIMEOUT_MS 5000
#define READ_CHUNK 4096u
#define REBOOT_DELAY_MS 500

enum { PC_EXCLUSIVE_ACCESS = 0x01, PC_REBOOT = 0x02, PC_FLASH_ERASE = 0x03, PC_READ = 0x84, PC_WRITE = 0x05,
       PC_EXIT_XIP = 0x06, PC_REBOOT2 = 0x0a };

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

const char *picoboot_status_text(uint32_t status)
{
    static const char *const names[] = {
        "ok", "unknown command", "invalid command length", "invalid transfer length", "invalid address",
        "bad alignment", "interleaved write", "rebooting", "unknown error", "invalid state", "not permitted",
        "invalid argument", "buffer too small", "precondition not met", "modified data", "invalid data",
        "not found", "unsupported modification",
    };
    return status < sizeof(names) / sizeof(names[0]) ? names[status] : "unknown status";
}

static const char *command_name(uint8_t id)
{
    switch (id) {
    case PC_EXCLUSIVE_ACCESS: return "EXCLUSIVE_ACCESS";
    case PC_REBOOT: return "REBOOT";
    case PC_FLASH_ERASE: return "FLASH_ERASE";
    case PC_READ: return "READ";
    case PC_WRITE: return "WRITE";
    case PC_EXIT_XIP: return "EXIT_XIP";
    case PC_REBOOT2: return "REBOOT2";
    default: return "command";
    }
}

/* After a refusal: the ROM's reason, then a reset of the interface so the
 * next command starts clean. */
static int refused(struct picoboot *p, uint8_t id, uint32_t addr, struct mf_err *err)
{
    uint8_t st[16] = { 0 };
    int got = 0;
    uint16_t intf = (uint16_t)p->bulk.interface;
    enum usbdev_result r = usbdev_control(p->usb, REQ_IN, IF_CMD_STATUS, 0, intf, st, sizeof(st), TIMEOUT_MS, &got);
    usbdev_control(p->usb, REQ_OUT, IF_RESET, 0, intf, NULL, 0, TIMEOUT_MS, NULL);
    /* The host side of a stalled pipe stays halted until cleared. */
    usbdev_clear_halt(p->usb, p->bulk.ep_out);
    usbdev_clear_halt(p->usb, p->bulk.ep_in);
    if (r == USBDEV_GONE)
        return mf_fail(err, MF_E_DEVICE, "The BOOTSEL device left the bus during %s.", command_name(id));
    if (r != USBDEV_OK || got < 8)
        return mf_fail(err, MF_E_DEVICE, "The BOOTSEL device stopped answering during %s at 0x%08X.",
                       command_name(id), (unsigned)addr);
    uint32_t status = le32(st + 4);
    return mf_fail(err, MF_E_PROTOCOL, "The BOOTSEL device refused %s at 0x%08X: %s (status %u).", command_name(id),
                   (unsigned)addr, picoboot_status_text(status), (unsigned)status);
}

/* One command: the packet, its data in the command's direction, then the
 * acknowledgement the other way. */
static int command(struct picoboot *p, uint8_t id, const uint8_t *args, uint8_t nargs, uint8_t *data,
                   uint32_t len, struct mf_err *err)
{
    uint8_t cmd[32] = { 0 };
    put_le32(cmd, MAGIC);
    put_le32(cmd + 4, ++p->token);
    cmd[8] = id, cmd[9] = nargs;
    put_le32(cmd + 12, len);
    if (nargs)
        memcpy(cmd + 16, args, nargs);
    uint32_t addr = nargs >= 4 ? le32(args) : 0;
    bool in = id & CMD_DIR_IN;
    int done = 0;
    enum usbdev_result r = usbdev_bulk(p->usb, p->bulk.ep_out, cmd, sizeof(cmd), TIMEOUT_MS, &done);
    if (r == USBDEV_OK && len)
        r = usbdev_bulk(p->usb, in ? p->bulk.ep_in : p->bulk.ep_out, data, (int)len, TIMEOUT_MS, &done);
    if (r == USBDEV_OK && len && (uint32_t)done != len)
        r = USBDEV_ERROR;
    uint8_t ack[64];
    if (r == USBDEV_OK)
        r = usbdev_bulk(p->usb, in ? p->bulk.ep_out : p->bulk.ep_in, ack, in ? 0 : 1, TIMEOUT_MS, &done);
    if (r == USBDEV_OK)
        return 0;
    if (r == USBDEV_GONE && (id == PC_REBOOT || id == PC_REBOOT2))
        return 0; /* it went while saying yes */
    if (r == USBDEV_GONE)
        return mf_fail(err, MF_E_DEVICE, "The BOOTSEL device left the bus during %s at 0x%08X.", command_name(id),
                       (unsigned)addr);
    return refused(p, id, addr, err);
}

static int range_command(struct picoboot *p, uint8_t id, uint32_t addr, uint8_t *data, uint32_t len,
                         struct mf_err *err)
{
    uint8_t args[8];
    put_le32(args, addr);
    put_le32(args + 4, len);
    return command(p, id, args, sizeof(args), id == PC_FLASH_ERASE ? NULL : data, id == PC_FLASH_ERASE ? 0 : len,
                   err);
}

int picoboot_open(const struct usbdev_info *info, struct picoboot *p, int *access_denied, struct mf_err *err)
{
    memset(p, 0, sizeof(*p));
    if (access_denied)
        *access_denied = 0;
    if (usbdev_find_bulk_interface(info, VENDOR_CLASS, &p->bulk, err) < 0)
        return -1;
    if (usbdev_open(info, p->bulk.interface, &p->usb, access_denied, err) < 0)
        return -1;
    p->rp2350 = info->pid == PICOBOOT_PID_RP2350;
    if (usbdev_control(p->usb, REQ_OUT, IF_RESET, 0, (uint16_t)p->bulk.interface, NULL, 0, TIMEOUT_MS, NULL)) {
        picoboot_close(p);
        return mf_fail(err, MF_E_DEVICE, "The BOOTSEL device %04x:%04x at port %s does not answer its interface "
                       "reset.", info->vid, info->pid, info->port);
    }
    return 0;
}

void picoboot_close(struct picoboot *p)
{
    usbdev_close(p->usb);
    p->usb = NULL;
}

int picoboot_exclusive(struct picoboot *p, struct mf_err *err)
{
    const uint8_t exclusive = 1;
    return command(p, PC_EXCLUSIVE_ACCESS, &exclusive, 1, NULL, 0, err);
}

int picoboot_exit_xip(struct picoboot *p, struct mf_err *err)
{
    return command(p, PC_EXIT_XIP, NULL, 0, NULL, 0, err);
}

int picoboot_erase(struct picoboot *p, uint32_t addr, uint32_t len, struct mf_err *err)
{
    return range_command(p, PC_FLASH_ERASE, addr, NULL, len, err);
}

int picoboot_write(struct picoboot *p, uint32_t addr, const uint8_t *data, uint32_t len, struct mf_err *err)
{
    return range_command(p, PC_WRITE, addr, (uint8_t *)data, len, err);
}

int picoboot_read(struct picoboot *p, uint32_t addr, uint8_t *out, uint32_t len, struct mf_err *err)
{
    return range_command(p, PC_READ, addr, out, len, err);
}

int picoboot_reboot(struct picoboot *p, struct mf_err *err)
{
    uint8_t args[16] = { 0 };
    if (p->rp2350) {
        /* flags 0: a normal boot; then the delay. */
        put_le32(args + 4, REBOOT_DELAY_MS);
        return command(p, PC_REBOOT2, args, 16, NULL, 0, err);
    }
    /* pc 0, sp 0: the regular boot path; then the delay. */
    put_le32(args + 8, REBOOT_DELAY_MS);
    return command(p, PC_REBOOT, args, 12, NULL, 0, err);
}

static void report(picoboot_progress_fn progress, void *ctx, const char *phase, size_t done, size_t total)
{
    if (progress)
        progress(phase, done, total, ctx);
}

static int check_range(uint32_t addr, size_t len, struct mf_err *err)
{
    if (addr % PICOBOOT_PAGE)
        return mf_fail(err, MF_E_MISMATCH, "0x%08X is not at the start of a 256-byte flash page, so the BOOTSEL "
                       "device cannot write there; nothing was erased.", (unsigned)addr);
    if (addr < PICOBOOT_FLASH_START || len == 0 || len > PICOBOOT_FLASH_END - addr)
        return mf_fail(err, MF_E_MISMATCH, "%zu bytes at 0x%08X are not in the flash the BOOTSEL device writes "
                       "(0x%08X to 0x%08X); nothing was erased.", len, (unsigned)addr,
                       (unsigned)PICOBOOT_FLASH_START, (unsigned)PICOBOOT_FLASH_END - 1);
    return 0;
}

static int erase_touched(struct picoboot *p, uint32_t addr, size_t len, picoboot_progress_fn progress, void *ctx,
                         struct mf_err *err)
{
    uint32_t first = addr / PICOBOOT_SECTOR * PICOBOOT_SECTOR;
    uint32_t end = (uint32_t)((addr + len + PICOBOOT_SECTOR - 1) / PICOBOOT_SECTOR * PICOBOOT_SECTOR);
    for (uint32_t at = first; at < end; at += PICOBOOT_SECTOR) {
        if (mf_interrupt_check(err) < 0 || picoboot_erase(p, at, PICOBOOT_SECTOR, err) < 0)
            return -1;
        report(progress, ctx, "erase", at + PICOBOOT_SECTOR - first, end - first);
    }
    return 0;
}

static int write_pages(struct picoboot *p, uint32_t addr, const uint8_t *image, size_t len,
                       picoboot_progress_fn progress, void *ctx, struct mf_err *err)
{
    for (size_t off = 0; off < len; off += PICOBOOT_PAGE) {
        uint8_t page[PICOBOOT_PAGE];
        size_t n = len - off < PICOBOOT_PAGE ? len - off : PICOBOOT_PAGE;
        memset(page, 0xff, sizeof(page)); /* programming 0xff leaves a byte erased */
        memcpy(page, image + off, n);
        if (mf_interrupt_check(err) < 0)
            return -1;
        if (picoboot_write(p, addr + (uint32_t)off, page, PICOBOOT_PAGE, err) < 0)
            return -1;
        report(progress, ctx, "write", off + n, len);
    }
    return 0;
}

static int verify(struct picoboot *p, uint32_t addr, const uint8_t *image, size_t len,
                  picoboot_progress_fn progress, void *ctx, struct mf_err *err)
{
    uint8_t *back = malloc(READ_CHUNK);
    if (!back)
        return mf_fail(err, MF_E_FAIL, "Out of memory for the read-back.");
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0; off += READ_CHUNK) {
        uint32_t n = (uint32_t)(len - off < READ_CHUNK ? len - off : READ_CHUNK);
        rc = picoboot_read(p, addr + (uint32_t)off, back, n, err);
        for (uint32_t i = 0; rc == 0 && i < n; i++)
            if (back[i] != image[off + i])
                rc = mf_fail(err, MF_E_VERIFY, "The read-back differs from the image at 0x%08X (0x%02X read, "
                             "0x%02X written).", (unsigned)(addr + off + i), back[i], image[off + i]);
        if (rc == 0)
            report(progress, ctx, "verify", off + n, len);
    }
    free(back);
    return rc;
}

int picoboot_program(struct picoboot *p, uint32_t addr, const uint8_t *image, size_t len,
                     picoboot_progress_fn progress, void *ctx, struct mf_err *err)
{
    if (check_range(addr, len, err) < 0)
        return -1;
    if (picoboot_exclusive(p, err) < 0 || picoboot_exit_xip(p, err) < 0)
        return -1;
    if (erase_touched(p, addr, len, progress, ctx, err) < 0 || write_pages(p, addr, image, len, progress, ctx, err) < 0)
        return -1;
    return verify(p, addr, image, len, progress, ctx, err);
}
