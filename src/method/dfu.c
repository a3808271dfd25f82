/* The DFU route: the STM32 ROM bootloader (DfuSe, 0483:df11) or a plain
 * DFU 1.1 bootloader (the LPC176x one, 1d50:6015), reached from running
 * Klipper by the 1200-baud touch and found again on the same USB port, or
 * already waiting there (target usb:PORT or usb:VID:PID).
 * DfuSe: only the pages the image touches are erased; everything written is
 * read back and compared before the ROM is asked to start it.  A board whose
 * read-back differs stays in its bootloader, where it can be flashed again.
 * The ROM leaves DFU by dropping off the bus: that is success, proven by
 * the new Klipper answering with the image's own dictionary.
 * Plain DFU: the image goes down block by block, manifestation resets the
 * board; the bootloader cannot read back, so the new Klipper's dictionary
 * is the only proof, and it is required. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "method/route.h"
#include "method/usbboot.h"
#include "usb/dfuse.h"
#include "util/clock.h"

#define ST_DFU_VID 0x0483
#define ST_DFU_PID 0xdf11

/* Boards whose heater or fan outputs float while the chip sits in its ROM
 * bootloader (Klipper's docs/Bootloader_Entry.md, "STM32 DFU Warning"). */
static const char *const outputs_float[] = { "btt-octopus-f429-v1", "btt-octopus-f446-v1" };

struct dfu_route {
    struct usbboot ub;              /* the device, and how it was reached */
    struct usbdev_id id;            /* what the bootloader enumerates as */
    struct usbboot_kind kind;
    struct usbdev *usb;
    struct dfu_dev dfu;
    struct dfu_layout layout;
    uint32_t addr;                  /* where the image goes */
    bool plain;                     /* plain DFU 1.1: no layout, no read-back, no leave command */
    bool attached;                  /* the device answered as DFU and (DfuSe) gave its layout */
    bool erased;                    /* dfuse_program was about to erase, or did */
};

static struct dfu_route *state(struct mf_job *j)
{
    return j->state;
}

static void dfu_ids(const struct mf_job *j, struct usbdev_id *id)
{
    id->vid = ST_DFU_VID, id->pid = ST_DFU_PID;
    if (j->o->board)
        board_dfu_ids(j->o->board, &id->vid, &id->pid);
}

/* Running Klipper: look at it, warn, touch, and find the ROM on its port. */
static int enter_from_klipper(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    if (usbboot_connect(j, &s->ub, "DFU", err) < 0)
        return -1;
    for (size_t i = 0; o->board && i < sizeof(outputs_float) / sizeof(outputs_float[0]); i++)
        if (!strcasecmp(o->board->name, outputs_float[i]))
            mf_job_note(j, "warning", "Warning: on board %s heaters and fans may switch on while the chip is in its "
                        "ROM bootloader; mcuflash keeps that time short, but disconnect the heaters if you can.",
                        o->board->name);
    return usbboot_touch(j, &s->kind, &s->ub, err);
}

static int open_device(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    int denied = 0;
    if (usbdev_open(&s->ub.dev, 0, &s->usb, &denied, err) < 0) {
        usbboot_access_advice(denied, err);
        return -1;
    }
    char name[256];
    if (usbdev_set_alt(s->usb, 0, err) < 0 || dfu_attach(&s->dfu, s->usb, 0, err) < 0)
        return -1;
    if (s->dfu.version != 0x011a) {
        s->plain = true;
        snprintf(j->r->bootloader, sizeof(j->r->bootloader), "DFU bootloader %04x:%04x at port %s (DFU %x.%02x, "
                 "%u-byte transfers)", s->ub.dev.vid, s->ub.dev.pid, s->ub.dev.port, s->dfu.version >> 8,
                 s->dfu.version & 0xff, s->dfu.transfer_size);
        mf_job_note(j, "bootloader", "In the %s.", j->r->bootloader);
        s->attached = true;
        return 0;
    }
    usbdev_alt_name(s->usb, 0, name, sizeof(name));
    if (dfu_layout_parse(name, &s->layout, err) < 0)
        return -1;
    snprintf(j->r->bootloader, sizeof(j->r->bootloader), "STM32 ROM DfuSe %04x:%04x at port %s (\"%s\", %u-byte "
             "transfers)", s->ub.dev.vid, s->ub.dev.pid, s->ub.dev.port, s->layout.name, s->dfu.transfer_size);
    mf_job_note(j, "bootloader", "In the %s.", j->r->bootloader);
    s->attached = true;
    return 0;
}

/* The ROM writes wherever it is told, over the board's own bootloader too.
 * The image must start where that bootloader ends; a definition that does
 * not say where, or gives several addresses (variants whose bootloaders
 * differ in size), allows nothing below the largest. */
static int check_spares_bootloader(const struct mf_job *j, const struct dfu_route *s, struct mf_err *err)
{
    const struct board *b = j->o->board;
    if (!b || !board_has_flash_bootloader(b))
        return 0;
    const uint32_t *list;
    size_t n = board_app_addresses(b, &list);
    if (n == 0)
        return mf_fail(err, MF_E_MISMATCH, "Board %s keeps a bootloader at the start of its flash, and its "
                       "definition does not say where that ends, so writing at 0x%08X through the ROM could "
                       "overwrite it; nothing was written; flash the board through its SD card or Katapult, or give "
                       "its application_address in a board file (man boards.cfg).", b->name, (unsigned)s->addr);
    uint32_t top = 0;
    for (size_t i = 0; i < n; i++)
        top = list[i] > top ? list[i] : top;
    if (s->addr >= top)
        return 0;
    char addrs[96];
    return mf_fail(err, MF_E_MISMATCH, "Board %s starts the application at %s depending on the variant, so writing "
                   "at 0x%08X through the ROM would overwrite the bootloader of a variant whose bootloader ends at "
                   "0x%08X; nothing was written; name your variant's board, or give its one application_address "
                   "in a board file (man boards.cfg).", b->name, board_app_addresses_text(b, addrs, sizeof(addrs)),
                   (unsigned)s->addr, (unsigned)top);
}

/* A page is erased whole: one that starts below the image would take the
 * bytes before it, where the bootloader may be, with it. */
static int check_page_start(const struct mf_job *j, const struct dfu_route *s, struct mf_err *err)
{
    const struct dfu_segment *seg = dfu_layout_find(&s->layout, s->addr);
    uint32_t page = seg ? dfu_layout_page_start(seg, s->addr) : s->addr;
    if (page == s->addr)
        return 0;
    return mf_fail(err, MF_E_MISMATCH, "%s goes to 0x%08X, inside the device's %u-byte page at 0x%08X, and "
                   "erasing that page would erase the %u bytes below the image too; nothing was written; build it "
                   "for a bootloader offset at the start of a flash page.", j->o->firmware_path, (unsigned)s->addr,
                   (unsigned)seg->page_size, (unsigned)page, (unsigned)(s->addr - page));
}

/* Where the image goes: the address its vector table was linked for, which
 * the shared image check has held against the board's application address.
 * Memory the ROM's layout does not offer is refused before any erase. */
static int choose_address(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct mf_firmware *fw = &j->fw;
    const struct board *b = j->o->board;
    if (fw->link.status == FW_LINK_KNOWN || fw->link.status == FW_LINK_INFERRED)
        s->addr = fw->link.address;
    else if (fw->link.status == FW_LINK_AMBIGUOUS && b && b->napp_addresses)
        s->addr = b->app_addresses[0];
    else
        return mf_fail(err, MF_E_INPUT, "%s has no vector table that says where it goes, and DFU writes to an "
                       "address; nothing was written; give a Klipper build (klipper.bin or klipper.elf).",
                       j->o->firmware_path);
    /* A plain DFU bootloader writes where it starts the application: the
     * shared image check has held the image against that address. */
    if (s->plain) {
        if (!b || !b->napp_addresses) {
            mf_fail(err, MF_E_USAGE, "A plain DFU bootloader writes at its own application address, which only the "
                    "board definition knows; nothing was written.");
            return mf_fact(err, MF_FACT_BOARD_NEEDED);
        }
        return 0;
    }
    if (dfu_layout_check_write(&s->layout, s->addr, (uint32_t)fw->card.size, err) < 0)
        return mf_wrap(err, "%s (%zu bytes at 0x%08X) does not fit the device's memory: ", j->o->firmware_path,
                       fw->card.size, (unsigned)s->addr);
    return check_page_start(j, s, err) < 0 ? -1 : check_spares_bootloader(j, s, err);
}

static int dfu_open(struct mf_job *j, struct mf_err *err)
{
    struct dfu_route *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    j->state = s;
    dfu_ids(j, &s->id);
    s->kind = (struct usbboot_kind){ "DFU device", &s->id, 1, "hold BOOT0 and press reset" };
    if (j->o->board) {
        struct usbdev_id id;
        if (!board_dfu_ids(j->o->board, &id.vid, &id.pid)) {
            const struct board *b = j->o->board;
            struct mf_flash_opts serial = *j->o;
            char cmd[512];
            if (usbboot_target(j))
                serial.target.device = "SERIAL-DEVICE";
            if ((b->spi_bus || b->sdio_bus) && mf_command(&serial, "sdcard", false, cmd, sizeof(cmd)))
                return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; its SD card "
                               "works without touching the board: '%s'.", b->name, cmd);
            if (mf_command(&serial, "katapult", false, cmd, sizeof(cmd)))
                return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; install "
                               "Katapult and flash it with '%s'.", b->name, cmd);
            return mf_fail(err, MF_E_USAGE, "Board %s has no USB DFU bootloader; nothing was done; install Katapult "
                           "and flash it through Katapult.", b->name);
        }
    }
    if (usbboot_target(j) ? usbboot_find_waiting(j, &s->kind, &s->ub, err) : enter_from_klipper(j, s, err))
        return -1;
    if (open_device(j, s, err) < 0 || choose_address(j, s, err) < 0)
        return -1;
    return 0;
}

static void on_progress(const char *phase, size_t done, size_t total, void *ctx)
{
    struct mf_job *j = ctx;
    struct dfu_route *s = state(j);
    s->erased = true;
    mf_progress_update(j->o->progress, !strcmp(phase, "write") ? "upload" : phase, done, total);
}

static void plain_progress(size_t done, size_t total, void *ctx)
{
    struct mf_job *j = ctx;
    mf_progress_update(j->o->progress, "upload", done, total);
}

/* Plain DFU: the whole image, then manifestation, which resets the board. */
static int plain_write(struct mf_job *j, struct dfu_route *s, struct mf_err *err)
{
    const struct fw_image *im = &j->fw.card;
    mf_job_note(j, "upload", "Writing %zu bytes in %u-byte blocks; this bootloader cannot read back, so the "
                "firmware that starts proves the write.", im->size, s->dfu.transfer_size);
    uint64_t t0 = mf_now_us();
    s->erased = true; /* the bootloader erases as the blocks arrive */
    if (dfu_make_idle(&s->dfu, err) < 0 ||
        dfu_download_image(&s->dfu, im->data, im->size, plain_progress, j, err) < 0) {
        struct mf_err why = *err;
        return mf_fail(err, why.code, "%.400s The board stays in its DFU bootloader with an incomplete image; run "
                       "'%s' again (target usb:%s).", why.msg, j->again_cmd, s->ub.dev.port);
    }
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes; the bootloader is starting them (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

static int dfu_write(struct mf_job *j, struct mf_err *err)
{
    struct dfu_route *s = state(j);
    const struct fw_image *im = &j->fw.card;
    if (s->plain)
        return plain_write(j, s, err);
    mf_job_note(j, "upload", "Erasing and writing %zu bytes at 0x%08X in %u-byte blocks.", im->size,
                (unsigned)s->addr, s->dfu.transfer_size);
    uint64_t t0 = mf_now_us();
    if (dfuse_program(&s->dfu, &s->layout, s->addr, im->data, im->size, on_progress, j, err) < 0) {
        if (!s->erased)
            return -1;
        struct mf_err why = *err;
        return mf_fail(err, why.code, "%.400s The board stays in its DFU bootloader with an incomplete image; "
                       "run '%s' again (target usb:%s), or power-cycle it into the old bootloader path.", why.msg,
                       j->again_cmd, s->ub.dev.port);
    }
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes and read them back: identical (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

/* Where the firmware the board had is started from: the start of flash, as
 * a reset does.  A bootloader there starts the application itself, at the
 * address it alone knows for sure (a definition may list several). */
static uint32_t old_firmware_address(const struct dfu_route *s)
{
    return s->layout.count ? s->layout.seg[0].start : s->addr;
}

static int dfu_leave(struct mf_job *j, bool written, struct mf_err *err)
{
    struct dfu_route *s = state(j);
    if (!s || !s->usb)
        return 0;
    int rc = 0;
    /* Start the new image only when all of it was read back identical; an
     * untouched board goes back to the firmware it had.  A plain DFU
     * bootloader started it itself at the end of the download. */
    if (!s->plain && s->attached && (written || !s->erased)) {
        mf_job_note(j, "start", written ? "Starting the new firmware." : "Nothing was written; starting the "
                    "firmware the board had again.");
        rc = dfuse_leave(&s->dfu, written ? s->addr : old_firmware_address(s),
                         written ? err : &(struct mf_err){ 0 });
    }
    usbdev_close(s->usb);
    s->usb = NULL;
    usbboot_note_time(j, &s->ub);
    if (written && rc == 0)
        usbboot_follow(j, &s->ub);
    return written ? rc : 0;
}

static int dfu_judge(struct mf_job *j, int running, struct mf_err *err)
{
    bool plain = state(j) && state(j)->plain;
    return usbboot_judge(j, running,
                         plain ? "DFU bootloader took the firmware and started it"
                               : "ROM bootloader wrote the firmware, read it back identical and started it",
                         state(j) ? state(j)->addr : 0, err);
}

static void dfu_stopped_writing(const struct mf_job *j, char *buf, size_t cap)
{
    usbboot_stopped_writing(j, "DFU bootloader", buf, cap);
}

static void dfu_release(struct mf_job *j)
{
    struct dfu_route *s = state(j);
    if (!s)
        return;
    usbdev_close(s->usb);
    usbboot_release(&s->ub);
    free(s);
    j->state = NULL;
}

const struct mf_route mf_route_dfu = {
    .name = "dfu",
    .open = dfu_open,
    .write = dfu_write,
    .leave = dfu_leave,
    .judge = dfu_judge,
    .stopped_writing = dfu_stopped_writing,
    .release = dfu_release,
};
