/* The Katapult client against a small fake device in a child process over
 * a socketpair: CONNECT parsing for protocol 1.0.0 and 1.1.0 with 0..7
 * NULs of padding, a whole image written, read back and compared, and the
 * faults a line or a device can produce: NACK, a lost reply, silence, an
 * error reply, an acknowledgement of the wrong command or address, noise,
 * and flash that reads back wrong. */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "check.h"
#include "katapult/client.h"
#include "katapult/frame.h"

#define START 0x08002000u
#define FLASH_SIZE 4096u

enum fault { F_NONE, F_NACK, F_SILENT, F_ERROR, F_WRONG_CMD, F_WRONG_ADDR, F_NOISE, F_FLIP_READ };

struct device {
    uint32_t proto, block_size;
    const char *mcu, *version;
    int padding;          /* extra NULs after the MCU name (on top of its terminator) */
    enum fault fault;     /* applied to frames first_fault .. last_fault (1-based) */
    int first_fault, last_fault;
};

static void put_frame(int fd, uint8_t code, const uint8_t *payload, size_t len)
{
    uint8_t out[KP_RX_FRAME_MAX + 8];
    size_t n = kp_frame_build(code, payload, len, out);
    if (write(fd, out, n) != (ssize_t)n)
        _exit(3);
}

static size_t connect_reply(const struct device *d, uint8_t *p)
{
    size_t n = 0;
    kp_put_le32(p, KP_CONNECT);
    kp_put_le32(p + 4, d->proto);
    kp_put_le32(p + 8, START);
    kp_put_le32(p + 12, d->block_size);
    n = 16;
    memcpy(p + n, d->mcu, strlen(d->mcu));
    n += strlen(d->mcu);
    memset(p + n, 0, (size_t)d->padding + 1);
    n += (size_t)d->padding + 1;
    if (d->version) {
        memcpy(p + n, d->version, strlen(d->version));
        n += strlen(d->version);
    }
    while (n % 4)
        p[n++] = 0;
    return n;
}

/* Answer one valid frame the way Katapult does, unless a fault applies. */
static void answer(int fd, const struct device *d, uint8_t *flash, const uint8_t *f, enum fault fault)
{
    uint8_t cmd = f[2], p[KP_RX_FRAME_MAX];
    size_t len = 4;
    uint32_t addr = f[3] ? kp_get_le32(f + 4) : 0;
    kp_put_le32(p, cmd);
    if (fault == F_SILENT)
        return;
    if (fault == F_NACK || fault == F_ERROR) {
        put_frame(fd, fault == F_NACK ? KP_NACK : KP_ERROR, NULL, 0);
        return;
    }
    if (fault == F_NOISE && write(fd, "\x7e\x01\x55\x99\x03", 5) != 5)
        _exit(3);
    switch (cmd) {
    case KP_CONNECT:
        len = connect_reply(d, p);
        break;
    case KP_SEND_BLOCK:
        if (addr < START || addr + d->block_size > START + FLASH_SIZE || (size_t)f[3] * 4 != 4 + d->block_size) {
            put_frame(fd, KP_ERROR, NULL, 0);
            return;
        }
        memcpy(flash + addr - START, f + 8, d->block_size);
        kp_put_le32(p + 4, addr);
        len = 8;
        break;
    case KP_SEND_EOF:
        kp_put_le32(p + 4, 3);
        len = 8;
        break;
    case KP_REQUEST_BLOCK:
        if (addr < START || addr + d->block_size > START + FLASH_SIZE) {
            put_frame(fd, KP_ERROR, NULL, 0);
            return;
        }
        kp_put_le32(p + 4, addr);
        memcpy(p + 8, flash + addr - START, d->block_size);
        if (fault == F_FLIP_READ)
            p[8 + 5] ^= 0x04;
        len = 8 + d->block_size;
        break;
    case KP_COMPLETE:
        break;
    case KP_GET_CANBUS_ID:
        memcpy(p + 4, "\x11\x22\x33\x44\x55\x66\x00\x00", 8);
        len = 12;
        break;
    default:
        put_frame(fd, KP_ERROR, NULL, 0);
        return;
    }
    if (fault == F_WRONG_CMD)
        kp_put_le32(p, cmd + 1);
    if (fault == F_WRONG_ADDR && len >= 8)
        kp_put_le32(p + 4, addr + d->block_size);
    put_frame(fd, KP_ACK, p, len);
}

static void device_main(int fd, const struct device *d)
{
    uint8_t flash[FLASH_SIZE], buf[1024];
    memset(flash, 0xff, sizeof(flash));
    size_t len = 0;
    int frames = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            _exit(0);
        len += (size_t)n;
        size_t used;
        enum kp_find_result r;
        while ((r = kp_frame_find(buf, len, &used)) != KP_FIND_MORE) {
            if (r == KP_FIND_FRAME) {
                frames++;
                bool hit = frames >= d->first_fault && frames <= d->last_fault;
                answer(fd, d, flash, buf, hit ? d->fault : F_NONE);
            } else {
                put_frame(fd, KP_NACK, NULL, 0);
            }
            memmove(buf, buf + used, len - used);
            len -= used;
        }
    }
}

struct fake {
    pid_t pid;
    int fd;
    struct transport *t;
    struct kp_client *c;
};

static void fake_start(struct fake *fk, const struct device *d)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fk->pid = fork();
    if (fk->pid == 0) {
        close(sv[0]);
        device_main(sv[1], d);
    }
    close(sv[1]);
    fk->fd = sv[0];
    fcntl(fk->fd, F_SETFL, O_NONBLOCK);
    CHECK_EQ(transport_over_fd(fk->fd, "fake-katapult", &fk->t, NULL), 0);
    CHECK_EQ(kp_client_new(fk->t, &fk->c, NULL), 0);
    struct kp_limits *lim = kp_client_limits(fk->c);
    lim->reply_ms = lim->block_reply_ms = 300;
    lim->drain_ms = 20;
    lim->pause_ms = 5;
}

static void fake_stop(struct fake *fk)
{
    kp_client_free(fk->c);
    transport_close(fk->t);
    close(fk->fd);
    kill(fk->pid, SIGTERM);
    waitpid(fk->pid, NULL, 0);
}

static const struct device base = { .proto = 0x00010100, .block_size = 64, .mcu = "stm32f446xx",
                                    .version = "v0.0.1-110-gb0bf421", .padding = 0 };

static void test_parse_connect(void)
{
    for (int v = 0; v < 2; v++) {
        for (int pad = 0; pad <= 7; pad++) {
            struct device d = base;
            d.proto = v ? 0x00010100 : 0x00010000;
            d.version = v ? "v0.0.1-110-gb0bf421" : NULL;
            d.padding = pad;
            uint8_t p[KP_RX_FRAME_MAX];
            size_t n = connect_reply(&d, p);
            struct kp_info info;
            struct mf_err err;
            CHECK_EQ(kp_parse_connect(p + 4, n - 4, &info, &err), 0);
            CHECK_EQ(info.proto, d.proto);
            CHECK_EQ(info.start_address, START);
            CHECK_EQ(info.block_size, 64);
            CHECK_STR(info.mcu, "stm32f446xx");
            CHECK_STR(info.version, v ? "v0.0.1-110-gb0bf421" : "");
        }
    }
    /* Block sizes that do not fit a frame, and a reply too short. */
    static const uint32_t sizes[] = { 32, 60, 66, 120, 128, 256, 512 };
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct device d = base;
        d.block_size = sizes[i];
        uint8_t p[KP_RX_FRAME_MAX];
        size_t n = connect_reply(&d, p);
        struct kp_info info;
        struct mf_err err;
        CHECK_EQ(kp_parse_connect(p + 4, n - 4, &info, &err), -1);
        CHECK_EQ(err.code, MF_E_PROTOCOL);
        CHECK(strstr(err.msg, "block size") != NULL);
    }
    struct device d = base;
    d.block_size = 116;
    uint8_t p[KP_RX_FRAME_MAX];
    size_t n = connect_reply(&d, p);
    struct kp_info info;
    struct mf_err err;
    CHECK_EQ(kp_parse_connect(p + 4, n - 4, &info, &err), 0);
    CHECK_EQ(kp_parse_connect(p + 4, 8, &info, &err), -1);
}

static uint8_t image[1000];

static void fill_image(void)
{
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 13 + 7);
}

/* A clean run: connect, write, EOF, read back, UUID, complete. */
static void test_clean(void)
{
    struct fake fk;
    fake_start(&fk, &base);
    struct kp_info info;
    struct mf_err err;
    CHECK_EQ(kp_connect(fk.c, &info, &err), 0);
    CHECK_STR(info.version, base.version);
    CHECK_EQ(kp_write_image(fk.c, image, sizeof(image), NULL, NULL, &err), 0);
    uint32_t pages = 0, bad = 0;
    CHECK_EQ(kp_send_eof(fk.c, &pages, &err), 0);
    CHECK_EQ(pages, 3);
    CHECK_EQ(kp_verify_image(fk.c, image, sizeof(image), NULL, NULL, &bad, &err), 0);
    /* The padding is 0xFF: the last block, read alone, shows it. */
    uint8_t block[64];
    CHECK_EQ(kp_request_block(fk.c, START + 960, block, &err), 0);
    CHECK_MEM(block, image + 960, 40);
    CHECK_EQ(block[40], 0xff);
    CHECK_EQ(block[63], 0xff);
    uint8_t uuid[6];
    CHECK_EQ(kp_get_canbus_id(fk.c, uuid, &err), 0);
    CHECK_MEM(uuid, "\x11\x22\x33\x44\x55\x66", 6);
    CHECK_EQ(kp_complete(fk.c, &err), 0);
    struct kp_stats st = kp_client_stats(fk.c);
    CHECK_EQ(st.retries, 0);
    CHECK_EQ(st.frames_sent, 1 + 16 + 1 + 16 + 1 + 1 + 1);
    CHECK_EQ(st.frames_received, st.frames_sent);
    fake_stop(&fk);
}

/* A fault on frames first..last (CONNECT is frame 1, block 0 is frame 2). */
static struct kp_stats faulty_write(enum fault fault, int first, int last, int want_rc, enum mf_code code,
                                    const char *want_msg)
{
    struct device d = base;
    d.fault = fault;
    d.first_fault = first;
    d.last_fault = last;
    struct fake fk;
    fake_start(&fk, &d);
    struct mf_err err;
    mf_err_clear(&err);
    CHECK_EQ(kp_connect(fk.c, NULL, &err), 0);
    int rc = kp_write_image(fk.c, image, sizeof(image), NULL, NULL, &err);
    CHECK_EQ(rc, want_rc);
    if (rc < 0) {
        CHECK_EQ(err.code, code);
        if (!strstr(err.msg, want_msg))
            fprintf(stderr, "message: %s\n", err.msg);
        CHECK(strstr(err.msg, want_msg) != NULL);
    } else {
        uint32_t bad;
        CHECK_EQ(kp_verify_image(fk.c, image, sizeof(image), NULL, NULL, &bad, &err), 0);
    }
    struct kp_stats st = kp_client_stats(fk.c);
    fake_stop(&fk);
    return st;
}

static void test_recoverable(void)
{
    struct kp_stats st = faulty_write(F_NACK, 3, 3, 0, 0, NULL);
    CHECK_EQ(st.nacks, 1);
    CHECK_EQ(st.retries, 1);
    st = faulty_write(F_SILENT, 5, 5, 0, 0, NULL);
    CHECK_EQ(st.timeouts, 1);
    CHECK_EQ(st.retries, 1);
    st = faulty_write(F_ERROR, 2, 3, 0, 0, NULL);
    CHECK_EQ(st.errors, 2);
    CHECK_EQ(st.retries, 2);
    st = faulty_write(F_WRONG_CMD, 4, 4, 0, 0, NULL);
    CHECK_EQ(st.mismatches, 1);
    st = faulty_write(F_WRONG_ADDR, 4, 4, 0, 0, NULL);
    CHECK_EQ(st.mismatches, 1);
    st = faulty_write(F_NOISE, 2, 100, 0, 0, NULL);
    CHECK(st.bad_bytes > 0);
    CHECK_EQ(st.retries, 0);
}

static void test_fatal(void)
{
    /* Block 2 (address 0x08002080) is frame 4. */
    struct kp_stats st = faulty_write(F_SILENT, 4, 100, -1, MF_E_DEVICE, "did not answer SEND_BLOCK for address 0x08002080");
    CHECK_EQ(st.timeouts, 3);
    faulty_write(F_ERROR, 4, 100, -1, MF_E_PROTOCOL, "SEND_BLOCK for address 0x08002080 after 3 tries; the last answer was an error reply");
    faulty_write(F_WRONG_ADDR, 4, 100, -1, MF_E_PROTOCOL, "acknowledgement of address 0x080020c0");
    faulty_write(F_NACK, 2, 100, -1, MF_E_PROTOCOL, "a NACK");
}

static void test_read_back(void)
{
    struct device d = base;
    d.fault = F_FLIP_READ;
    d.first_fault = d.last_fault = 1 + 16 + 1 + 3; /* CONNECT, 16 writes, then the read of block 3 */
    struct fake fk;
    fake_start(&fk, &d);
    struct mf_err err;
    CHECK_EQ(kp_connect(fk.c, NULL, &err), 0);
    CHECK_EQ(kp_write_image(fk.c, image, sizeof(image), NULL, NULL, &err), 0);
    uint32_t bad = 0;
    CHECK_EQ(kp_verify_image(fk.c, image, sizeof(image), NULL, NULL, &bad, &err), -1);
    CHECK_EQ(err.code, MF_E_VERIFY);
    CHECK_EQ(bad, START + 3 * 64 + 5);
    CHECK(strstr(err.msg, "0x080020c5") != NULL);
    fake_stop(&fk);
}

static void test_before_connect(void)
{
    struct fake fk;
    fake_start(&fk, &base);
    struct mf_err err;
    uint8_t block[64] = { 0 };
    CHECK_EQ(kp_send_block(fk.c, START, block, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK_EQ(kp_client_stats(fk.c).frames_sent, 0);
    fake_stop(&fk);
}

static void progress_count(void *ctx, size_t done, size_t total)
{
    size_t *seen = ctx;
    CHECK(done > seen[0] && done <= total);
    seen[0] = done;
    seen[1] = total;
}

static void test_progress(void)
{
    struct fake fk;
    fake_start(&fk, &base);
    struct mf_err err;
    size_t seen[2] = { 0, 0 };
    CHECK_EQ(kp_connect(fk.c, NULL, &err), 0);
    CHECK_EQ(kp_write_image(fk.c, image, 130, progress_count, seen, &err), 0);
    CHECK_EQ(seen[0], 192);
    CHECK_EQ(seen[1], 192);
    fake_stop(&fk);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    fill_image();
    test_parse_connect();
    test_clean();
    test_recoverable();
    test_fatal();
    test_read_back();
    test_before_connect();
    test_progress();
    return check_report("test_katapult_client");
}
