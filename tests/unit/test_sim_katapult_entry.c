/* The ways into Katapult on the virtual board: the 1200-baud touch on a
 * USB board (re-enumerating at the same path), Klipper's serial request
 * string as a block of its own on a UART board, the control socket's
 * double-tap, and an empty flash at boot; and what the same requests do
 * without Katapult (the board boots Klipper again).  Also: what Katapult
 * writes survives a restart through --flash-state. */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "katapult_wire.h"
#include "sim_proc.h"

#define WAIT_MS 10000 /* generous: a loaded machine is slow, and the waits end early */
static const char UART_REQUEST[] = "~ \x1c Request Serial Bootloader!! ~";

static const char *dir;

static long long boots(const struct sim_proc *p)
{
    json_t *st = sim_status(p);
    long long v = json_integer_value(json_object_get(json_object_get(st, "counters"), "boots"));
    json_decref(st);
    return v;
}

/* What flash_usb.py and flashtool do: open, set 1200 baud, close. */
static void touch_1200(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    CHECK(fd >= 0);
    struct termios t;
    if (fd >= 0 && tcgetattr(fd, &t) == 0) {
        cfsetispeed(&t, B1200);
        cfsetospeed(&t, B1200);
        CHECK_EQ(tcsetattr(fd, TCSANOW, &t), 0);
    }
    if (fd >= 0)
        close(fd);
}

/* CONNECT answered with an ACK on the device at path. */
static bool katapult_answers(const char *path)
{
    int fd = sim_open_port(path);
    if (fd < 0)
        return false;
    uint8_t out[16];
    size_t n = kw_encode(KW_CONNECT, NULL, 0, out);
    bool ok = write(fd, out, n) == (ssize_t)n;
    struct kw_reader r = { 0 };
    struct kw_frame f = { 0 };
    while (ok && !kw_next(&r, &f)) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        uint8_t buf[256];
        ssize_t got = poll(&p, 1, WAIT_MS) == 1 ? read(fd, buf, sizeof(buf)) : -1;
        if (got <= 0)
            ok = false;
        else
            kw_feed(&r, buf, (size_t)got);
    }
    close(fd);
    return ok && f.code == KW_ACK;
}

/* A board started and running (not still coming up on its USB port,
 * where a touch would land on a device about to be replaced). */
static bool start(struct sim_proc *p, const char *name, const char *const args[])
{
    bool up = sim_start_board(p, dir, name, true, args) && sim_wait_status(p, "state", "running", WAIT_MS);
    CHECK(up);
    return up;
}

static void test_usb_touch(void)
{
    struct sim_proc p;
    const char *args[] = { "--mcu", "stm32g0b1xx", "--bootloader", "katapult", NULL };
    if (!start(&p, "usb", args))
        return;
    CHECK(sim_wait_status(&p, "mode", "klipper", WAIT_MS));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    long long before = boots(&p);
    touch_1200(p.path);
    /* The device goes away and comes back at the same path, as Katapult. */
    CHECK(sim_wait_path(p.path, false, WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    CHECK(sim_wait_status(&p, "mode", "katapult", WAIT_MS));
    CHECK_EQ(boots(&p), before + 1);
    CHECK(katapult_answers(p.path));
    /* Katapult itself ignores the touch. */
    touch_1200(p.path);
    usleep(300000);
    char mode[64];
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "katapult");
    CHECK_EQ(boots(&p), before + 1);
    /* A reset leaves it: the application is valid. */
    char reply[128];
    sim_ctl(&p, "reset", reply, sizeof(reply));
    CHECK(sim_wait_status(&p, "mode", "klipper", WAIT_MS));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    /* double-tap */
    sim_ctl(&p, "double-tap", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK(sim_wait_status(&p, "mode", "katapult", WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    CHECK(katapult_answers(p.path));
    CHECK(sim_stop(&p));

    /* Without Katapult the touch reboots into Klipper. */
    const char *plain[] = { "--mcu", "stm32g0b1xx", NULL };
    if (!start(&p, "usb-plain", plain))
        return;
    before = boots(&p);
    touch_1200(p.path);
    CHECK(sim_wait_path(p.path, false, WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    CHECK_EQ(boots(&p), before + 1);
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "klipper");
    json_t *st = sim_status(&p);
    CHECK(json_is_null(json_object_get(st, "katapult")));
    json_decref(st);
    CHECK(sim_stop(&p));
}

static void send_all(const char *path, const void *data, size_t len)
{
    int fd = sim_open_port(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ(write(fd, data, len), (ssize_t)len);
        usleep(100000);
        close(fd);
    }
}

static void test_uart_string(void)
{
    struct sim_proc p;
    const char *args[] = { "--mcu", "stm32f446xx", "--link", "uart:250000", "--bootloader", "katapult", NULL };
    if (!start(&p, "uart", args))
        return;
    char device[256], after[256], mode[64];
    sim_status_str(&p, "device", device, sizeof(device));
    long long before = boots(&p);
    /* Not a block of its own: garbage in front makes it part of a bigger drop. */
    char mixed[64];
    int n = snprintf(mixed, sizeof(mixed), "xyz%s", UART_REQUEST + 1);
    send_all(p.path, mixed, (size_t)n);
    usleep(200000);
    CHECK_EQ(boots(&p), before);
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "klipper");
    send_all(p.path, UART_REQUEST, strlen(UART_REQUEST));
    CHECK(sim_wait_status(&p, "mode", "katapult", WAIT_MS));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    CHECK_STR(sim_status_str(&p, "device", after, sizeof(after)), device); /* the port stays */
    CHECK_EQ(boots(&p), before + 1);
    CHECK(katapult_answers(p.path));
    CHECK(sim_stop(&p));

    const char *plain[] = { "--mcu", "stm32f446xx", "--link", "uart:250000", NULL };
    if (!start(&p, "uart-plain", plain))
        return;
    before = boots(&p);
    send_all(p.path, UART_REQUEST, strlen(UART_REQUEST));
    CHECK(sim_wait_status(&p, "state", "resetting", WAIT_MS) || boots(&p) == before + 1);
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    CHECK_EQ(boots(&p), before + 1);
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "klipper");
    CHECK(sim_stop(&p));
}

static void test_empty_flash(void)
{
    struct sim_proc p;
    const char *args[] = { "--mcu", "stm32h743xx", "--bootloader", "katapult", "--empty-flash", NULL };
    if (!start(&p, "empty", args))
        return;
    char mode[64];
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "katapult");
    json_t *st = sim_status(&p);
    json_t *k = json_object_get(st, "katapult");
    CHECK(json_is_false(json_object_get(k, "app_valid")));
    CHECK_EQ(json_integer_value(json_object_get(k, "start_address")), 0x08020000);
    json_decref(st);
    /* A reset finds no application either. */
    char reply[128];
    sim_ctl(&p, "reset", reply, sizeof(reply));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "katapult");
    CHECK(katapult_answers(p.path));
    CHECK(sim_stop(&p));
    /* Without Katapult an empty flash is a silent board. */
    const char *plain[] = { "--mcu", "stm32h743xx", "--empty-flash", NULL };
    if (!start(&p, "empty-plain", plain))
        return;
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "silent");
    CHECK(sim_stop(&p));
}

/* Write an image through Katapult on a board with --flash-state, restart. */
static void test_flash_state(void)
{
    char img_path[1200], state[1200];
    snprintf(img_path, sizeof(img_path), "%s/state.bin", dir);
    snprintf(state, sizeof(state), "%s/flash.json", dir);
    const char *mk[] = { "make-firmware", "--mcu", "stm32f446xx", "--version-string", "v-kept", "--size", "8192",
                         "-o", img_path, NULL };
    CHECK_EQ(sim_run(mk), 0);
    size_t len = 0;
    uint8_t *img = (uint8_t *)sim_read_file(img_path, &len);
    struct sim_proc p;
    const char *args[] = { "--board", "btt-octopus-f446-v1", "--bootloader", "katapult", "--flash-state", state,
                           NULL };
    if (!img || !start(&p, "kept", args)) {
        free(img);
        return;
    }
    char reply[128];
    /* Armed while Klipper runs, the refusal hits the first block Katapult gets. */
    sim_ctl(&p, "katapult refuse-write 1 once", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    sim_ctl(&p, "double-tap", reply, sizeof(reply));
    CHECK(sim_wait_status(&p, "mode", "katapult", WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    int fd = sim_open_port(p.path);
    int refused = 0;
    struct kw_reader r = { 0 };
    struct kw_frame f;
    uint8_t frame[KW_FRAME_MAX];
    for (size_t off = 0; fd >= 0 && off < len;) {
        size_t n = kw_send_block(0x08008000u + (uint32_t)off, img + off, frame);
        CHECK_EQ(write(fd, frame, n), (ssize_t)n);
        bool got = false;
        while (!(got = kw_next(&r, &f))) {
            struct pollfd pf = { .fd = fd, .events = POLLIN };
            uint8_t buf[256];
            ssize_t k = poll(&pf, 1, WAIT_MS) == 1 ? read(fd, buf, sizeof(buf)) : -1;
            if (k <= 0)
                break;
            kw_feed(&r, buf, (size_t)k);
        }
        if (got && f.code == KW_ERROR && !refused++)
            continue; /* refused once: send it again */
        CHECK(got && f.code == KW_ACK);
        off += 64;
    }
    CHECK_EQ(refused, 1);
    size_t n = kw_encode(KW_COMPLETE, NULL, 0, frame);
    CHECK_EQ(write(fd, frame, n), (ssize_t)n);
    close(fd);
    CHECK(sim_wait_status(&p, "version", "v-kept", WAIT_MS));
    CHECK(sim_stop(&p));
    if (start(&p, "kept", args)) {
        CHECK(sim_wait_status(&p, "version", "v-kept", WAIT_MS));
        char mode[64];
        CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "klipper");
        CHECK(sim_stop(&p));
    }
    free(img);
}

int main(void)
{
    dir = sim_tmpdir("test_sim_katapult_entry");
    test_usb_touch();
    test_uart_string();
    test_empty_flash();
    test_flash_state();
    return check_report("test_sim_katapult_entry");
}
