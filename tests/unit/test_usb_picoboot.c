/* mcuflash's PICOBOOT client (libusb) against the virtual board's RP2040
 * and RP2350 BOOTSEL model, run under `mcuflash-sim usb` (usb_harness.h):
 * programming with read-back and reboot, erasing only the sectors the image
 * touches, a weak flash cell found by the read-back, a range outside flash
 * or off a page refused before any erase, a refused command named with the
 * ROM's status and the interface usable after it, the flash chip's real
 * times, and the RP2350's REBOOT2. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "usb/picoboot.h"
#include "usb_harness.h"

#define IMAGE_LEN 40000u
#define FAR_PAGE 0x10010000u   /* a page the image does not touch */

/* --- the child: runs inside the emulation ----------------------------------- */

static int open_bootsel(struct picoboot *p, uint16_t pid)
{
    struct usbdev_id id = { PICOBOOT_VID, pid };
    struct usbdev_info found[4];
    struct mf_err err = { 0 };
    int n = usbdev_find(&id, 1, NULL, found, 4, &err);
    CHECK_EQ(n, 1);
    if (n != 1)
        return -1;
    CHECK_STR(found[0].port, "1-1");
    int denied = 0;
    if (picoboot_open(&found[0], p, &denied, &err))
        fprintf(stderr, "%s\n", err.msg);
    CHECK(p->usb != NULL);
    CHECK_EQ(p->bulk.interface, 1);
    CHECK_EQ(p->bulk.ep_out, 0x03);
    CHECK_EQ(p->bulk.ep_in, 0x84);
    return p->usb ? 0 : -1;
}

/* A page far from the image, written before it: it must survive. */
static void write_far_page(struct picoboot *p)
{
    struct mf_err err = { 0 };
    uint8_t page[PICOBOOT_PAGE];
    memset(page, 0x5a, sizeof(page));
    CHECK_EQ(picoboot_erase(p, FAR_PAGE, PICOBOOT_SECTOR, &err), 0);
    CHECK_EQ(picoboot_write(p, FAR_PAGE, page, sizeof(page), &err), 0);
}

static int child(const char *what)
{
    struct picoboot p;
    struct mf_err err = { 0 };
    static uint8_t image[IMAGE_LEN];
    usb_harness_image(image, sizeof(image));
    bool rp2350 = !strcmp(what, "rp2350");
    if (open_bootsel(&p, rp2350 ? PICOBOOT_PID_RP2350 : PICOBOOT_PID_RP2040))
        return check_report(what);
    if (!strcmp(what, "program") || rp2350) {
        write_far_page(&p);
        CHECK_EQ(picoboot_program(&p, PICOBOOT_FLASH_START, image, sizeof(image), NULL, NULL, &err), 0);
        CHECK_EQ(picoboot_reboot(&p, &err), 0);
    } else if (!strcmp(what, "weak")) {
        CHECK_EQ(picoboot_program(&p, PICOBOOT_FLASH_START, image, sizeof(image), NULL, NULL, &err), -1);
        CHECK_EQ(err.code, MF_E_VERIFY);
        CHECK(strstr(err.msg, "at 0x10000400") != NULL);
    } else if (!strcmp(what, "refused")) {
        CHECK_EQ(picoboot_program(&p, 0x10000080, image, 1000, NULL, NULL, &err), -1);
        CHECK_EQ(err.code, MF_E_MISMATCH);
        CHECK(strstr(err.msg, "256-byte flash page") != NULL);
        CHECK_EQ(picoboot_program(&p, 0x08000000, image, 1000, NULL, NULL, &err), -1);
        CHECK(strstr(err.msg, "not in the flash") != NULL);
        /* The ROM's own refusal, then a command that works. */
        CHECK_EQ(picoboot_erase(&p, 0x10000100, PICOBOOT_SECTOR, &err), -1);
        CHECK_EQ(err.code, MF_E_PROTOCOL);
        CHECK(strstr(err.msg, "refused FLASH_ERASE at 0x10000100: bad alignment (status 5)") != NULL);
        uint8_t back[16];
        CHECK_EQ(picoboot_read(&p, PICOBOOT_FLASH_START, back, sizeof(back), &err), 0);
        CHECK_EQ(back[0], 0xff);
    } else if (!strcmp(what, "realistic")) {
        CHECK_EQ(picoboot_program(&p, PICOBOOT_FLASH_START, image, 6000, NULL, NULL, &err), 0);
    }
    if (err.code && strcmp(what, "weak") && strcmp(what, "refused"))
        fprintf(stderr, "%s: %s\n", what, err.msg);
    picoboot_close(&p);
    return check_report(what);
}

/* --- the parent: runs the child under mcuflash-sim usb ------------------------ */

static bool all_erased(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xff)
            return false;
    return true;
}

/* The flash holds the image at its start, the far page, and nothing else. */
static void check_flash(void)
{
    size_t n;
    const uint8_t *flash = usb_harness_flash(&n);
    static uint8_t image[IMAGE_LEN];
    usb_harness_image(image, sizeof(image));
    CHECK_EQ(n, 2048 * 1024);
    if (n != 2048 * 1024)
        return;
    uint32_t far = FAR_PAGE - PICOBOOT_FLASH_START;
    CHECK_MEM(flash, image, sizeof(image));
    CHECK(all_erased(flash + IMAGE_LEN, far - IMAGE_LEN));
    CHECK_EQ(flash[far], 0x5a);
    CHECK_EQ(flash[far + PICOBOOT_PAGE - 1], 0x5a);
    CHECK(all_erased(flash + far + PICOBOOT_PAGE, n - far - PICOBOOT_PAGE));
}

static void test_program(void)
{
    CHECK_EQ(usb_harness_run("rp2040", "", "program"), 0);
    /* 10 sectors and 157 pages for the image, one of each for the far page. */
    CHECK(usb_harness_log_has("exclusive, XIP exited, 11 sector erases, 158 pages written, 10 reads (40000 bytes); "
                              "rebooted"));
    check_flash();
}

static void test_rp2350(void)
{
    CHECK_EQ(usb_harness_run("rp2350", "", "rp2350"), 0);
    CHECK(usb_harness_log_has("11 sector erases, 158 pages written, 10 reads (40000 bytes); rebooted"));
    check_flash();
}

static void test_weak_cell(void)
{
    CHECK_EQ(usb_harness_run("rp2040", "--weak-cell 0x10000400", "weak"), 0);
    CHECK(usb_harness_log_has("10 sector erases, 157 pages written, 1 reads (4096 bytes); still in BOOTSEL"));
}

static void test_refused(void)
{
    CHECK_EQ(usb_harness_run("rp2040", "", "refused"), 0);
    CHECK(usb_harness_log_has(": 0 sector erases, 0 pages written, 1 reads (16 bytes); still in BOOTSEL"));
}

static void test_realistic(void)
{
    /* 2 sectors of 45 ms, 24 pages of 0.4 ms: slept through, not timed. */
    CHECK_EQ(usb_harness_run("rp2040", "--timing realistic", "realistic"), 0);
    CHECK(usb_harness_log_has("2 sector erases, 24 pages written, 2 reads (6000 bytes); still in BOOTSEL"));
}

static void tests(void)
{
    test_program();
    test_rp2350();
    test_weak_cell();
    test_refused();
    test_realistic();
}

int main(int argc, char **argv)
{
    return usb_harness_main(argc, argv, "test_usb_picoboot", child, tests);
}
