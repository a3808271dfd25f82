/* The picoboot route: the RP2040 / RP2350 boot ROM in BOOTSEL mode
 * (2e8a:0003, 2e8a:000f), reached from running Klipper by the 1200-baud
 * touch (Klipper's rp2040 code reboots into it when no Katapult answers)
 * and found again on the same USB port, or already waiting there (target
 * usb:PORT, usb:VID:PID, or none).  The image (klipper.uf2 or klipper.bin
 * of a build without bootloader) goes to the start of flash, where the ROM
 * boots from: only the 4 KiB sectors it touches are erased, it is written
 * in 256-byte pages and read back whole before the ROM is told to reboot.
 * A board whose read-back differs stays in BOOTSEL, where it can be flashed
 * again; the new Klipper answering with the image's own dictionary proves
 * the rest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "method/route.h"
#include "method/usbboot.h"
#include "usb/picoboot.h"
#include "util/clock.h"

/* UF2 family ids the ROMs take for Arm code: Klipper's elf2uf2 writes the
 * RP2040's for both chips; picotool writes the RP2350's own. */
#define UF2_FAMILY_RP2350_ARM_S 0xe48bff59u

static const struct usbdev_id bootsel_ids[] = {
    { PICOBOOT_VID, PICOBOOT_PID_RP2040 },
    { PICOBOOT_VID, PICOBOOT_PID_RP2350 },
};
static const struct usbboot_kind bootsel = {
    "BOOTSEL device", bootsel_ids, 2, "hold its BOOTSEL button while pressing reset or plugging it in",
};

struct picoboot_route {
    struct usbboot ub;
    struct picoboot pb;
    bool opened;
    bool erased;          /* picoboot_program was started: flash may have changed */
};

static struct picoboot_route *state(struct mf_job *j)
{
    return j->state;
}

static bool rp_mcu(const char *mcu)
{
    return mcu && (!strcasecmp(mcu, "rp2040") || !strcasecmp(mcu, "rp2350"));
}

/* Before anything is touched: an image for these chips, in a UF2 family
 * their ROM takes, built to boot from the start of flash. */
static int check_image(struct mf_job *j, struct mf_err *err)
{
    const struct mf_firmware *fw = &j->fw;
    const char *path = j->o->firmware_path;
    if (!rp_mcu(fw->mcu))
        return mf_fail(err, MF_E_MISMATCH, "%s was built for a %s, but BOOTSEL is the boot ROM of the RP2040 and "
                       "RP2350; nothing was changed; give a Klipper build for the board's MCU.", path,
                       fw->mcu ? fw->mcu : "MCU it does not name");
    uint32_t family = fw->binary.uf2_family;
    bool rp2350 = !strcasecmp(fw->mcu, "rp2350");
    if (fw->format == FW_FORMAT_UF2 && family && family != FW_UF2_FAMILY_RP2040 &&
        !(rp2350 && family == UF2_FAMILY_RP2350_ARM_S))
        return mf_fail(err, MF_E_MISMATCH, "%s carries UF2 family 0x%08x, which the %s's boot ROM does not take "
                       "(it takes 0x%08x%s); nothing was changed; give the klipper.uf2 'make' built for it.", path,
                       (unsigned)family, fw->mcu, FW_UF2_FAMILY_RP2040, rp2350 ? " or 0xe48bff59" : "");
    bool linked = fw->link.status == FW_LINK_KNOWN || fw->link.status == FW_LINK_INFERRED;
    if (linked && fw->link.address == PICOBOOT_FLASH_START)
        return 0;
    char choice[64] = "another bootloader offset";
    if (linked && fw->mcu_info)
        fw_mcu_offset_choice(fw->mcu_info, fw->link.address, choice, sizeof(choice));
    if (linked)
        return mf_fail(err, MF_E_MISMATCH, "%s was linked for 0x%08x (\"%s\"), but the boot ROM starts the image at "
                       "0x%08x; nothing was changed; run 'make menuconfig' in ~/klipper, set \"Bootloader offset\" to "
                       "\"No bootloader\", rebuild and try again (a board with Katapult is flashed through "
                       "Katapult).", path, (unsigned)fw->link.address, choice, PICOBOOT_FLASH_START);
    return mf_fail(err, MF_E_MISMATCH, "%s has no vector table that boots from 0x%08x, the start of flash; nothing "
                   "was changed; give the klipper.uf2 or klipper.bin of a build with \"Bootloader offset\" set to "
                   "\"No bootloader\".", path, PICOBOOT_FLASH_START);
}

/* The chip that answers must be the one the image is for. */
static int check_chip(struct mf_job *j, struct picoboot_route *s, struct mf_err *err)
{
    const char *chip = s->ub.dev.pid == PICOBOOT_PID_RP2350 ? "rp2350" : "rp2040";
    if (!strcasecmp(chip, j->fw.mcu))
        return 0;
    return mf_fail(err, MF_E_MISMATCH, "The BOOTSEL device at port %s is an %s, but %s was built for an %s; nothing "
                   "was written; give a build for the %s.", s->ub.dev.port, chip, j->o->firmware_path, j->fw.mcu,
                   chip);
}

static int enter_from_klipper(struct mf_job *j, struct picoboot_route *s, struct mf_err *err)
{
    if (usbboot_connect(j, &s->ub, "picoboot", err) < 0)
        return -1;
    if (strcasecmp(j->mcu, j->fw.mcu))
        return mf_fail(err, MF_E_MISMATCH, "The board runs a %s, but %s was built for a %s; nothing was changed; "
                       "give a build for the %s.", j->mcu, j->o->firmware_path, j->fw.mcu, j->mcu);
    return usbboot_touch(j, &bootsel, &s->ub, err);
}

static int picoboot_route_open(struct mf_job *j, struct mf_err *err)
{
    struct picoboot_route *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    j->state = s;
    if (usbboot_target(j) ? usbboot_find_waiting(j, &bootsel, &s->ub, err) : enter_from_klipper(j, s, err))
        return -1;
    if (check_chip(j, s, err) < 0)
        return -1;
    int denied = 0;
    if (picoboot_open(&s->ub.dev, &s->pb, &denied, err) < 0) {
        usbboot_access_advice(denied, err);
        return -1;
    }
    s->opened = true;
    snprintf(j->r->bootloader, sizeof(j->r->bootloader), "%s BOOTSEL %04x:%04x at port %s (PICOBOOT interface %d)",
             s->pb.rp2350 ? "RP2350" : "RP2040", s->ub.dev.vid, s->ub.dev.pid, s->ub.dev.port,
             s->pb.bulk.interface);
    mf_job_note(j, "bootloader", "In the %s.", j->r->bootloader);
    return 0;
}

static void on_progress(const char *phase, size_t done, size_t total, void *ctx)
{
    struct mf_job *j = ctx;
    mf_progress_update(j->o->progress, !strcmp(phase, "write") ? "upload" : phase, done, total);
}

static int picoboot_route_write(struct mf_job *j, struct mf_err *err)
{
    struct picoboot_route *s = state(j);
    const struct fw_image *im = &j->fw.card;
    unsigned sectors = (unsigned)((im->size + PICOBOOT_SECTOR - 1) / PICOBOOT_SECTOR);
    mf_job_note(j, "upload", "Erasing %u sectors and writing %zu bytes at 0x%08X in 256-byte pages.", sectors,
                im->size, PICOBOOT_FLASH_START);
    uint64_t t0 = mf_now_us();
    /* From here flash may change: an erase the ROM did before its answer
     * was lost still leaves the old image incomplete. */
    s->erased = true;
    if (picoboot_program(&s->pb, PICOBOOT_FLASH_START, im->data, im->size, on_progress, j, err) < 0) {
        struct mf_err why = *err;
        return mf_fail(err, why.code, "%.400s The board stays in BOOTSEL, not rebooted into an image that was "
                       "not proven good; run '%s' again (target usb:%s).", why.msg, j->again_cmd, s->ub.dev.port);
    }
    j->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    j->r->bytes = im->size;
    mf_job_note(j, "uploaded", "Wrote %zu bytes and read them back: identical (%.1f s).", im->size,
                j->r->upload_seconds);
    return 0;
}

static int picoboot_route_leave(struct mf_job *j, bool written, struct mf_err *err)
{
    struct picoboot_route *s = state(j);
    if (!s || !s->opened)
        return 0;
    int rc = 0;
    /* Reboot into the new image only when all of it was read back
     * identical; an untouched board goes back to the firmware it had. */
    if (written || !s->erased) {
        mf_job_note(j, "start", written ? "Starting the new firmware." : "Nothing was written; starting the "
                    "firmware the board had again.");
        rc = picoboot_reboot(&s->pb, written ? err : &(struct mf_err){ 0 });
    }
    picoboot_close(&s->pb);
    s->opened = false;
    usbboot_note_time(j, &s->ub);
    if (written && rc == 0)
        usbboot_follow(j, &s->ub);
    return written ? rc : 0;
}

static int picoboot_route_judge(struct mf_job *j, int running, struct mf_err *err)
{
    return usbboot_judge(j, running, "boot ROM wrote the firmware, read it back identical and rebooted",
                         PICOBOOT_FLASH_START, err);
}

static void picoboot_route_stopped(const struct mf_job *j, char *buf, size_t cap)
{
    usbboot_stopped_writing(j, "BOOTSEL mode", buf, cap);
}

static void picoboot_route_release(struct mf_job *j)
{
    struct picoboot_route *s = state(j);
    if (!s)
        return;
    if (s->opened)
        picoboot_close(&s->pb);
    usbboot_release(&s->ub);
    free(s);
    j->state = NULL;
}

/* The route choice: a BOOTSEL device waiting where a usb: target points,
 * or a running board whose MCU (its board definition, else the USB product
 * string Klipper gives it) is an RP2040 or RP2350. */
bool mf_picoboot_suits(const struct mf_flash_opts *o, char *why, size_t cap)
{
    const char *t = o->target.device;
    if (t && !strncmp(t, "usb:", 4)) {
        unsigned vid, pid;
        char tail;
        if (sscanf(t + 4, "%4x:%4x%c", &vid, &pid, &tail) == 2)
            return vid == PICOBOOT_VID && snprintf(why, cap, "the target is a BOOTSEL device") > 0;
        struct usbdev_info found[1];
        struct mf_err err;
        const char *port = strchr(t + 4, '-') ? t + 4 : NULL;
        return usbdev_find(bootsel_ids, 2, port, found, 1, &err) > 0 &&
               snprintf(why, cap, "a BOOTSEL device waits at USB port %s", found[0].port) > 0;
    }
    if (o->board)
        return rp_mcu(o->board->mcu) && snprintf(why, cap, "board %s has an %s, whose boot ROM has BOOTSEL",
                                                 o->board->name, o->board->mcu) > 0;
    struct usb_port_info at;
    if (!t || usbport_identify("/", t, &at) < 0 || !at.usb || !rp_mcu(at.product))
        return false;
    return snprintf(why, cap, "the board on USB port %s is an %s, whose boot ROM has BOOTSEL", at.port,
                    at.product) > 0;
}

const struct mf_route mf_route_picoboot = {
    .name = "picoboot",
    /* The boot ROM starts the image at the start of flash, whatever a board
     * definition says: check_image holds the image to that. */
    .bootloader_gives_address = true,
    .check_image = check_image,
    .open = picoboot_route_open,
    .write = picoboot_route_write,
    .leave = picoboot_route_leave,
    .judge = picoboot_route_judge,
    .stopped_writing = picoboot_route_stopped,
    .release = picoboot_route_release,
};
