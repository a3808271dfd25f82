/* Katapult on the virtual board, driven with raw frames as a host would:
 * CONNECT in both protocol versions over USB and UART, a whole image
 * written, read back and started, the flash driver's address and erase
 * rules, the control socket's write faults, images that crash or stay
 * silent, and framing recovery on a faulty line.  Expected bytes come from
 * the protocol facts (frame layout, CRC) and from the image itself. */
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
#define F446_START 0x08008000u

static const char *dir;

struct dev {
    int fd;
    struct kw_reader r;
};

static bool dev_open(struct dev *d, const char *path)
{
    memset(d, 0, sizeof(*d));
    d->fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    CHECK(d->fd >= 0);
    struct termios t;
    if (d->fd >= 0 && tcgetattr(d->fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(d->fd, TCSANOW, &t);
    }
    return d->fd >= 0;
}

static void dev_close(struct dev *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}

static void dev_send(struct dev *d, const uint8_t *data, size_t len)
{
    CHECK_EQ(write(d->fd, data, len), (ssize_t)len);
}

/* The next frame within ms; false on timeout. */
static bool dev_frame(struct dev *d, int ms, struct kw_frame *f)
{
    for (;;) {
        if (kw_next(&d->r, f))
            return true;
        struct pollfd p = { .fd = d->fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
            return false;
        uint8_t buf[1024];
        ssize_t n = read(d->fd, buf, sizeof(buf));
        if (n <= 0)
            return false;
        kw_feed(&d->r, buf, (size_t)n);
    }
}

/* Send a frame and take the one reply. */
static bool command(struct dev *d, const uint8_t *frame, size_t len, struct kw_frame *reply)
{
    dev_send(d, frame, len);
    bool got = dev_frame(d, WAIT_MS, reply);
    CHECK(got);
    return got;
}

static uint8_t simple(struct dev *d, uint8_t cmd)
{
    uint8_t out[16];
    struct kw_frame r = { 0 };
    return command(d, out, kw_encode(cmd, NULL, 0, out), &r) ? r.code : 0;
}

static uint8_t write_block(struct dev *d, uint32_t addr, const uint8_t *data)
{
    uint8_t out[KW_FRAME_MAX];
    struct kw_frame r = { 0 };
    if (!command(d, out, kw_send_block(addr, data, out), &r))
        return 0;
    if (r.code == KW_ACK) {
        CHECK_EQ(kw_le32(r.payload), KW_SEND_BLOCK);
        CHECK_EQ(kw_le32(r.payload + 4), addr);
    }
    return r.code;
}

static bool read_block(struct dev *d, uint32_t addr, uint8_t *data)
{
    uint8_t out[16];
    struct kw_frame r = { 0 };
    if (!command(d, out, kw_request_block(addr, out), &r) || r.code != KW_ACK || r.words != 18)
        return false;
    CHECK_EQ(kw_le32(r.payload), KW_REQUEST_BLOCK);
    CHECK_EQ(kw_le32(r.payload + 4), addr);
    memcpy(data, r.payload + 8, 64);
    return true;
}

static uint32_t eof_pages(struct dev *d)
{
    uint8_t out[16];
    struct kw_frame r = { 0 };
    if (!command(d, out, kw_encode(KW_SEND_EOF, NULL, 0, out), &r) || r.code != KW_ACK)
        return UINT32_MAX;
    CHECK_EQ(kw_le32(r.payload), KW_SEND_EOF);
    return kw_le32(r.payload + 4);
}

static long long status_int(const struct sim_proc *p, const char *obj, const char *key)
{
    json_t *st = sim_status(p);
    json_t *o = obj ? json_object_get(st, obj) : st;
    long long v = json_is_integer(json_object_get(o, key)) ? json_integer_value(json_object_get(o, key)) : -1;
    json_decref(st);
    return v;
}

static bool start_katapult(struct sim_proc *p, struct dev *d, const char *name, const char *const extra[])
{
    const char *args[24] = { "--bootloader", "katapult" };
    int n = 2;
    for (int i = 0; extra[i]; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    bool up = sim_start_board(p, dir, name, true, args);
    CHECK(up);
    return up && dev_open(d, p->path);
}

static void finish(struct sim_proc *p, struct dev *d)
{
    dev_close(d);
    CHECK(sim_stop(p));
}

/* --- CONNECT --- */

static void check_connect(struct dev *d, uint32_t proto, const char *mcu, uint32_t start, const char *version)
{
    uint8_t out[16];
    struct kw_frame r = { 0 };
    if (!command(d, out, kw_encode(KW_CONNECT, NULL, 0, out), &r))
        return;
    size_t mcu_words = (strlen(mcu) + 3) / 4;
    size_t words = 4 + mcu_words + (version ? 1 + (strlen(version) + 3) / 4 : 0);
    CHECK_EQ(r.code, KW_ACK);
    CHECK_EQ(r.words, words);
    CHECK_EQ(kw_le32(r.payload), KW_CONNECT);
    CHECK_EQ(kw_le32(r.payload + 4), proto);
    CHECK_EQ(kw_le32(r.payload + 8), start);
    CHECK_EQ(kw_le32(r.payload + 12), 64);
    CHECK_MEM(r.payload + 16, mcu, strlen(mcu));
    for (size_t i = 16 + strlen(mcu); i < 16 + 4 * mcu_words; i++)
        CHECK_EQ(r.payload[i], 0); /* NUL padding to the word */
    if (version) {
        CHECK_EQ(kw_le32(r.payload + 16 + 4 * mcu_words), 0); /* a whole zero word */
        CHECK_MEM(r.payload + 20 + 4 * mcu_words, version, strlen(version));
    }
}

static void test_connect(void)
{
    struct sim_proc p;
    struct dev d;
    const char *usb[] = { "--mcu", "stm32f446xx", "--katapult-version", "v0.0.2-7-gabc", "--empty-flash", NULL };
    if (start_katapult(&p, &d, "usb11", usb)) {
        check_connect(&d, 0x00010100, "stm32f446xx", F446_START, "v0.0.2-7-gabc");
        CHECK_EQ(simple(&d, KW_GET_CANBUS_ID), KW_ERROR); /* not a CAN build */
        finish(&p, &d);
    }
    const char *uart[] = { "--mcu", "stm32f103xe", "--link", "uart:250000", "--katapult-proto", "1.0.0",
                           "--katapult-start", "0x08004000", "--empty-flash", NULL };
    if (start_katapult(&p, &d, "uart10", uart)) {
        check_connect(&d, 0x00010000, "stm32f103xe", 0x08004000, NULL);
        finish(&p, &d);
    }
    const char *usb10[] = { "--mcu", "stm32h723xx", "--katapult-proto", "1.0.0", "--empty-flash", NULL };
    if (start_katapult(&p, &d, "usb10", usb10)) {
        check_connect(&d, 0x00010000, "stm32h723xx", 0x08020000, NULL);
        finish(&p, &d);
    }
    const char *lpc[] = { "--mcu", "lpc1769", "--link", "uart:115200", "--empty-flash", NULL };
    if (start_katapult(&p, &d, "lpc", lpc)) {
        check_connect(&d, 0x00010100, "lpc1769", 0x4000, "v0.0.1-sim");
        finish(&p, &d);
    }
}

/* --- a whole image --- */

static uint8_t *load_image(const char *name, const char *version, size_t *len)
{
    char out[1200];
    snprintf(out, sizeof(out), "%s/%s", dir, name);
    const char *args[] = { "make-firmware", "--mcu", "stm32f446xx", "--version-string", version, "-o", out, NULL };
    CHECK_EQ(sim_run(args), 0);
    return (uint8_t *)sim_read_file(out, len);
}

/* Write, check the page count, read everything back; true if all matched. */
static bool flash_image(struct dev *d, const uint8_t *img, size_t len, uint32_t expect_pages)
{
    uint8_t block[64], back[64];
    bool ok = true;
    for (size_t off = 0; off < len; off += 64) {
        memset(block, 0xff, sizeof(block));
        memcpy(block, img + off, len - off < 64 ? len - off : 64);
        ok &= write_block(d, F446_START + (uint32_t)off, block) == KW_ACK;
    }
    CHECK_EQ(eof_pages(d), expect_pages);
    for (size_t off = 0; off < len; off += 64) {
        memset(block, 0xff, sizeof(block));
        memcpy(block, img + off, len - off < 64 ? len - off : 64);
        ok &= read_block(d, F446_START + (uint32_t)off, back) && !memcmp(block, back, 64);
    }
    CHECK(ok);
    return ok;
}

static void test_whole_image(void)
{
    size_t len = 0;
    uint8_t *img = load_image("new.bin", "v-katapult-new", &len);
    CHECK(img && len == 32768);
    struct sim_proc p;
    struct dev d;
    const char *args[] = { "--mcu", "stm32f446xx", "--empty-flash", NULL };
    if (!img || !start_katapult(&p, &d, "whole", args)) {
        free(img);
        return;
    }
    char mode[64];
    CHECK_STR(sim_status_str(&p, "mode", mode, sizeof(mode)), "katapult");
    /* 32 KiB from 0x08008000: sectors 2 and 3 of 16 KiB each. */
    flash_image(&d, img, len, 2);
    CHECK_EQ(status_int(&p, "katapult", "blocks_written"), 512);
    CHECK_EQ(simple(&d, KW_COMPLETE), KW_ACK);
    dev_close(&d);
    /* 100 ms later the application starts: USB re-enumerates as Klipper. */
    CHECK(sim_wait_status(&p, "mode", "klipper", WAIT_MS));
    CHECK(sim_wait_status(&p, "version", "v-katapult-new", WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    CHECK_EQ(status_int(&p, "katapult", "completes"), 1);
    /* A reset keeps the new firmware (the application is valid). */
    char reply[256];
    sim_ctl(&p, "reset", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    CHECK(sim_wait_status(&p, "mode", "klipper", WAIT_MS));
    CHECK(sim_stop(&p));
    free(img);
}

/* --- images that do not run --- */

/* After COMPLETE the board runs the image: nothing answers, whatever the
 * host sends.  A crashed MCU never enumerates on USB; a silent one does. */
static void flash_and_complete(const char *name, const uint8_t *img, size_t len, const char *want_mode)
{
    struct sim_proc p;
    struct dev d;
    const char *args[] = { "--mcu", "stm32f446xx", "--empty-flash", NULL };
    if (!start_katapult(&p, &d, name, args))
        return;
    flash_image(&d, img, len, len > 16384 ? 2 : 1);
    CHECK_EQ(simple(&d, KW_COMPLETE), KW_ACK);
    dev_close(&d);
    CHECK(sim_wait_status(&p, "mode", want_mode, WAIT_MS));
    CHECK(sim_wait_status(&p, "state", "running", WAIT_MS));
    bool crashed = !strcmp(want_mode, "crashed");
    CHECK_EQ(sim_wait_path(p.path, true, 300), !crashed);
    if (!crashed && dev_open(&d, p.path)) {
        uint8_t out[16];
        dev_send(&d, out, kw_encode(KW_CONNECT, NULL, 0, out));
        struct kw_frame r;
        CHECK(!dev_frame(&d, 300, &r));
        CHECK_EQ(d.r.len, 0);
        dev_close(&d);
    }
    /* double-tap brings Katapult back. */
    char reply[64];
    sim_ctl(&p, "double-tap", reply, sizeof(reply));
    CHECK(sim_wait_status(&p, "mode", "katapult", WAIT_MS));
    CHECK(sim_wait_path(p.path, true, WAIT_MS));
    CHECK(sim_stop(&p));
}

static void test_bad_images(void)
{
    size_t len = 0;
    uint8_t *img = load_image("wrong.bin", "v-wrong", &len);
    if (!img)
        return;
    /* Linked for 0x08000000: the reset handler lies below Katapult's start. */
    kw_put_le32(img + 4, 0x08000101);
    flash_and_complete("crash", img, len, "crashed");
    /* A valid vector table but no dictionary: it runs, silently. */
    uint8_t plain[2048];
    memset(plain, 0x5a, sizeof(plain));
    kw_put_le32(plain, 0x20020000);
    kw_put_le32(plain + 4, F446_START + 0x201);
    flash_and_complete("silent", plain, sizeof(plain), "silent");
    free(img);
}

/* --- the flash driver's rules --- */

static void fill(uint8_t *b, uint8_t seed)
{
    for (int i = 0; i < 64; i++)
        b[i] = (uint8_t)(seed + 7 * i);
}

static void test_order_rules(void)
{
    struct sim_proc p;
    struct dev d;
    const char *args[] = { "--mcu", "stm32f446xx", "--empty-flash", NULL };
    if (!start_katapult(&p, &d, "rules", args))
        return;
    uint8_t a[64], b[64], back[64];
    fill(a, 1);
    fill(b, 2);
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK);   /* erased: fine anywhere */
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK);   /* the same again: accepted */
    CHECK_EQ(write_block(&d, F446_START + 64, b), KW_ERROR); /* over written flash: out of order */
    CHECK_EQ(status_int(&p, "katapult", "erases"), 0);
    CHECK_EQ(write_block(&d, F446_START, b), KW_ACK);        /* a sector's first block erases it */
    CHECK_EQ(status_int(&p, "katapult", "erases"), 1);
    CHECK(read_block(&d, F446_START + 64, back));
    uint8_t erased[64];
    memset(erased, 0xff, sizeof(erased));
    CHECK_MEM(back, erased, 64);
    CHECK_EQ(write_block(&d, F446_START, b), KW_ACK);        /* retransmitted first block: no erase */
    CHECK_EQ(status_int(&p, "katapult", "erases"), 1);
    CHECK_EQ(write_block(&d, F446_START + 16, a), KW_ERROR); /* not block aligned */
    CHECK_EQ(write_block(&d, F446_START - 64, a), KW_ERROR); /* below the application */
    uint8_t out[32], word[4];
    kw_put_le32(word, F446_START);
    struct kw_frame r;
    CHECK(command(&d, out, kw_encode(KW_SEND_BLOCK, word, 1, out), &r));
    CHECK_EQ(r.code, KW_ERROR); /* a block of the wrong size */
    CHECK_EQ(simple(&d, 0x30), KW_ERROR);
    /* Page writes: the sector start once (its retransmission is not counted). */
    CHECK_EQ(eof_pages(&d), 1);
    finish(&p, &d);
}

/* --- faults from the control socket --- */

static void test_write_faults(void)
{
    struct sim_proc p;
    struct dev d;
    const char *args[] = { "--mcu", "stm32f446xx", "--empty-flash", NULL };
    if (!start_katapult(&p, &d, "faults", args))
        return;
    char reply[256];
    uint8_t a[64], back[64];
    fill(a, 9);
    sim_ctl(&p, "katapult refuse-write 2 once", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK_EQ(write_block(&d, F446_START, a), KW_ACK);
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ERROR);
    CHECK(read_block(&d, F446_START + 64, back));
    CHECK_EQ(back[0], 0xff); /* refused: nothing written */
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK);
    sim_ctl(&p, "katapult refuse-write 1", reply, sizeof(reply));
    CHECK_EQ(write_block(&d, F446_START + 128, a), KW_ERROR);
    CHECK_EQ(write_block(&d, F446_START + 128, a), KW_ERROR); /* and every later one */
    sim_ctl(&p, "katapult refuse-write 0", reply, sizeof(reply));
    CHECK(!strncmp(reply, "error: ", 7));
    sim_ctl(&p, "katapult bogus 1", reply, sizeof(reply));
    CHECK(!strncmp(reply, "error: ", 7));
    finish(&p, &d);

    if (!start_katapult(&p, &d, "cells", args))
        return;
    /* A bad cell: the device's own read-back fails; the flash keeps the flipped bit. */
    sim_ctl(&p, "katapult corrupt 0x08008045", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK_EQ(write_block(&d, F446_START, a), KW_ACK);
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ERROR);
    CHECK(read_block(&d, F446_START + 64, back));
    CHECK_EQ(back[5] ^ a[5], 0x01);
    CHECK(!memcmp(back, a, 5) && !memcmp(back + 6, a + 6, 58));
    /* Rewritten from the sector start, it comes out right. */
    CHECK_EQ(write_block(&d, F446_START, a), KW_ACK);
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK);
    /* A bad cell in a block sent again unchanged waits for a real write. */
    uint8_t b[64];
    fill(b, 33);
    sim_ctl(&p, "katapult corrupt 0x08008045", reply, sizeof(reply));
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK); /* the same block: nothing programmed */
    CHECK_EQ(write_block(&d, F446_START, b), KW_ACK);      /* erases the sector */
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ERROR);
    CHECK(read_block(&d, F446_START + 64, back));
    CHECK_EQ(back[5] ^ a[5], 0x01);
    CHECK_EQ(write_block(&d, F446_START, a), KW_ACK);
    CHECK_EQ(write_block(&d, F446_START + 64, a), KW_ACK);
    /* corrupt-read: the flash is right, the block read back is not. */
    sim_ctl(&p, "katapult corrupt-read 0x08008043", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK(read_block(&d, F446_START + 64, back));
    CHECK_EQ(back[3] ^ a[3], 0x01);
    CHECK(read_block(&d, F446_START, back));
    CHECK_MEM(back, a, 64);
    finish(&p, &d);
}

/* --- the line --- */

static void test_line_faults(void)
{
    struct sim_proc p;
    struct dev d;
    const char *args[] = { "--mcu", "stm32f446xx", "--link", "uart:250000", "--empty-flash", NULL };
    if (!start_katapult(&p, &d, "line", args))
        return;
    /* One NACK per error burst, and only after a valid frame. */
    uint8_t bad[16];
    size_t n = kw_encode(KW_CONNECT, NULL, 0, bad);
    bad[4] ^= 0x40; /* the CRC */
    struct kw_frame r;
    dev_send(&d, bad, n);
    CHECK(dev_frame(&d, WAIT_MS, &r) && r.code == KW_NACK && r.words == 0);
    dev_send(&d, bad, n);
    CHECK(!dev_frame(&d, 300, &r));
    CHECK_EQ(simple(&d, KW_CONNECT), KW_ACK);
    dev_send(&d, bad, n);
    CHECK(dev_frame(&d, WAIT_MS, &r) && r.code == KW_NACK);
    CHECK_EQ(simple(&d, KW_CONNECT), KW_ACK);

    /* A noisy line: each block retried until acknowledged, all read back right. */
    char reply[256];
    sim_ctl(&p, "faults corrupt=0.01,dir=in,seed=7", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    uint8_t block[64], back[64], frame[KW_FRAME_MAX];
    int nacks = 0, acks = 0;
    for (uint32_t i = 0; i < 64; i++) {
        fill(block, (uint8_t)i);
        size_t len = kw_send_block(F446_START + 64 * i, block, frame);
        for (int tries = 0; tries < 20; tries++) {
            dev_send(&d, frame, len);
            if (!dev_frame(&d, 300, &r))
                continue; /* a frame cut short waits for bytes that never come */
            if (r.code == KW_NACK) {
                nacks++;
                continue;
            }
            acks += r.code == KW_ACK;
            break;
        }
    }
    CHECK_EQ(acks, 64);
    CHECK(nacks > 0);
    sim_ctl(&p, "faults", reply, sizeof(reply));
    for (uint32_t i = 0; i < 64; i++) {
        fill(block, (uint8_t)i);
        CHECK(read_block(&d, F446_START + 64 * i, back) && !memcmp(back, block, 64));
    }
    CHECK(status_int(&p, "katapult", "nacks") >= nacks);
    finish(&p, &d);
}

int main(void)
{
    dir = sim_tmpdir("test_sim_katapult");
    test_connect();
    test_whole_image();
    test_bad_images();
    test_order_rules();
    test_write_faults();
    test_line_faults();
    return check_report("test_sim_katapult");
}
