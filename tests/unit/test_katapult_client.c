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
#include "fake_katapult.h"
#include "katapult/client.h"
#include "katapult/frame.h"

#define START FAKE_KP_START

struct fake {
    pid_t pid;
    int fd;
    struct transport *t;
    struct kp_client *c;
};

static void fake_start(struct fake *fk, const struct fake_kp *d)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fk->pid = fork();
    if (fk->pid == 0) {
        close(sv[0]);
        fake_kp_run(sv[1], d);
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

static const struct fake_kp base = { .proto = 0x00010100, .block_size = 64, .mcu = "stm32f446xx",
                                    .version = "v0.0.1-110-gb0bf421", .padding = 0,
                                    .uuid = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66 } };

static void test_parse_connect(void)
{
    for (int v = 0; v < 2; v++) {
        for (int pad = 0; pad <= 7; pad++) {
            struct fake_kp d = base;
            d.proto = v ? 0x00010100 : 0x00010000;
            d.version = v ? "v0.0.1-110-gb0bf421" : NULL;
            d.padding = pad;
            uint8_t p[KP_RX_FRAME_MAX];
            size_t n = fake_kp_connect_reply(&d, p);
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
        struct fake_kp d = base;
        d.block_size = sizes[i];
        uint8_t p[KP_RX_FRAME_MAX];
        size_t n = fake_kp_connect_reply(&d, p);
        struct kp_info info;
        struct mf_err err;
        CHECK_EQ(kp_parse_connect(p + 4, n - 4, &info, &err), -1);
        CHECK_EQ(err.code, MF_E_PROTOCOL);
        CHECK(strstr(err.msg, "block size") != NULL);
    }
    struct fake_kp d = base;
    d.block_size = 116;
    uint8_t p[KP_RX_FRAME_MAX];
    size_t n = fake_kp_connect_reply(&d, p);
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
static struct kp_stats faulty_write(enum fake_kp_fault fault, int first, int last, int want_rc, enum mf_code code,
                                    const char *want_msg)
{
    struct fake_kp d = base;
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
    struct kp_stats st = faulty_write(F_SILENT, 4, 100, -1, MF_E_DEVICE,
                                      "did not answer SEND_BLOCK for address 0x08002080");
    CHECK_EQ(st.timeouts, 5);
    faulty_write(F_ERROR, 4, 100, -1, MF_E_PROTOCOL,
                 "SEND_BLOCK for address 0x08002080 after 5 tries; the last answer was an error reply");
    faulty_write(F_WRONG_ADDR, 4, 100, -1, MF_E_PROTOCOL, "acknowledgement of address 0x080020c0");
    faulty_write(F_NACK, 2, 100, -1, MF_E_PROTOCOL, "a NACK");
}

static void test_read_back(void)
{
    struct fake_kp d = base;
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
