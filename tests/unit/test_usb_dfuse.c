/* mcuflash's DfuSe client (libusb) against the virtual board's STM32 ROM
 * model: the test runs itself under `mcuflash-sim usb`, which emulates the
 * device with umockdev; the child half talks to it through libusb, the
 * parent half checks the flash the model ends with and its report.
 * Programming with read-back and leave, a weak flash cell found by the
 * read-back, a range past the flash refused before any erase, the chip's
 * real erase times polled through, a device that answers the leave, and
 * one that stalls the first status poll after each erase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "usb_harness.h"
#include "usb/dfuse.h"

#define APP 0x08008000u
#define IMAGE_LEN 40000u

/* --- the child: runs inside the emulation ----------------------------------- */

struct session {
    struct usbdev *usb;
    struct dfu_dev dfu;
    struct dfu_layout layout;
};

static int open_dfuse(struct session *s)
{
    struct usbdev_id id = { 0x0483, 0xdf11 };
    struct usbdev_info found[4];
    struct mf_err err;
    int n = usbdev_find(&id, 1, NULL, found, 4, &err);
    CHECK_EQ(n, 1);
    if (n != 1)
        return -1;
    CHECK_STR(found[0].port, "1-1");
    int denied;
    if (usbdev_open(&found[0], 0, &s->usb, &denied, &err))
        fprintf(stderr, "%s\n", err.msg);
    CHECK(s->usb != NULL);
    if (!s->usb)
        return -1;
    CHECK_EQ(usbdev_alt_count(s->usb), 2);
    CHECK_EQ(usbdev_set_alt(s->usb, 0, &err), 0);
    CHECK_EQ(dfu_attach(&s->dfu, s->usb, 0, &err), 0);
    CHECK_EQ(s->dfu.transfer_size, 1024);
    CHECK_EQ(s->dfu.version, 0x011a);
    char name[128];
    usbdev_alt_name(s->usb, 0, name, sizeof(name));
    CHECK_EQ(dfu_layout_parse(name, &s->layout, &err), 0);
    CHECK_STR(s->layout.name, "Internal Flash");
    return 0;
}

static int child(const char *what)
{
    struct session s = { 0 };
    struct mf_err err = { 0 };
    static uint8_t image[IMAGE_LEN];
    usb_harness_image(image, sizeof(image));
    if (open_dfuse(&s))
        return check_report(what);
    if (!strcmp(what, "program") || !strcmp(what, "leave-answers") || !strcmp(what, "stall")) {
        CHECK_EQ(dfuse_program(&s.dfu, &s.layout, APP, image, sizeof(image), NULL, NULL, &err), 0);
        CHECK_EQ(dfuse_leave(&s.dfu, APP, &err), 0);
    } else if (!strcmp(what, "weak")) {
        CHECK_EQ(dfuse_program(&s.dfu, &s.layout, APP, image, sizeof(image), NULL, NULL, &err), -1);
        CHECK_EQ(err.code, MF_E_VERIFY);
        CHECK(strstr(err.msg, "at 0x08008400") != NULL);
    } else if (!strcmp(what, "past-end")) {
        CHECK_EQ(dfuse_program(&s.dfu, &s.layout, 0x080f8000, image, sizeof(image), NULL, NULL, &err), -1);
        CHECK_EQ(err.code, MF_E_MISMATCH);
        CHECK(strstr(err.msg, "nothing at 0x08100000") != NULL);
    } else if (!strcmp(what, "realistic")) {
        CHECK_EQ(dfuse_program(&s.dfu, &s.layout, 0x08002000, image, 6000, NULL, NULL, &err), 0);
    }
    if (err.code && strcmp(what, "weak") && strcmp(what, "past-end"))
        fprintf(stderr, "%s: %s\n", what, err.msg);
    usbdev_close(s.usb);
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

static void test_program(void)
{
    CHECK_EQ(usb_harness_run("stm32f407xx", "", "program"), 0);
    CHECK(usb_harness_log_has("3 erases, 40 blocks written (40000 bytes), 40 blocks read; left DFU to 0x08008000"));
    size_t n;
    const uint8_t *flash = usb_harness_flash(&n);
    static uint8_t image[IMAGE_LEN];
    usb_harness_image(image, sizeof(image));
    CHECK_EQ(n, 1024 * 1024);
    if (n != 1024 * 1024)
        return;
    CHECK_MEM(flash + 0x8000, image, sizeof(image));
    CHECK(all_erased(flash, 0x8000));                              /* the bootloader's sectors */
    CHECK(all_erased(flash + 0x8000 + IMAGE_LEN, n - 0x8000 - IMAGE_LEN));
}

static void test_weak_cell(void)
{
    CHECK_EQ(usb_harness_run("stm32f407xx", "--weak-cell 0x08008400", "weak"), 0);
    CHECK(usb_harness_log_has("40 blocks read; still in DFU"));
}

static void test_past_end(void)
{
    CHECK_EQ(usb_harness_run("stm32f407xx", "", "past-end"), 0);
    CHECK(usb_harness_log_has("0 erases, 0 blocks written"));
}

static void test_realistic(void)
{
    /* G0: 2 KiB pages of 22 ms; the client sleeps the poll timeouts. */
    CHECK_EQ(usb_harness_run("stm32g0b1xx", "--timing realistic", "realistic"), 0);
    CHECK(usb_harness_log_has("3 erases, 6 blocks written (6000 bytes), 6 blocks read; still in DFU"));
}

static void test_stall_after_erase(void)
{
    CHECK_EQ(usb_harness_run("stm32f407xx", "--stall-after-erase", "stall"), 0);
    CHECK(usb_harness_log_has("3 erases, 40 blocks written (40000 bytes), 40 blocks read; left DFU to 0x08008000"));
}

static void test_leave_answers(void)
{
    CHECK_EQ(usb_harness_run("stm32f407xx", "--leave-answers", "leave-answers"), 0);
    CHECK(usb_harness_log_has("left DFU to 0x08008000"));
}

static void tests(void)
{
    test_program();
    test_weak_cell();
    test_past_end();
    test_realistic();
    test_leave_answers();
    test_stall_after_erase();
}

int main(int argc, char **argv)
{
    return usb_harness_main(argc, argv, "test_usb_dfuse", child, tests);
}
