/* The virtual board on its pty, driven with raw blocks the way a host
 * would: framing, sequence numbers, acks and naks, identify, shutdown,
 * config errors, SPI and SDIO to the card, --dict, reset, faults.
 * Expected bytes come from the protocol reference (worked examples) and
 * from the dictionary the board itself hands out. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "klipper/dict.h"
#include "klipper/msgformat.h"
#include "klipper/proto.h"
#include "sim_proc.h"

#define QUIET_MS 150
#define WAIT_MS 10000 /* generous: a loaded machine is slow, and the waits end early */

static const uint8_t NAK_SEQ0[] = { 0x05, 0x10, 0x9e, 0x81, 0x7e };
static const uint8_t ACK_SEQ1[] = { 0x05, 0x11, 0x8f, 0x08, 0x7e };

static char tmpdir[1024];

struct board {
    struct sim_proc proc;
    int fd;
    uint8_t in[8192];
    size_t in_len;
    struct kl_finder finder;
    struct kl_dict *dict;
    char *json;
    size_t json_len;
    uint8_t seq; /* next host seq */
};

struct block {
    uint8_t b[KL_MESSAGE_MAX];
    size_t len;
};

/* The dictionary make-firmware writes for the same MCU. */
static char *expected_dict(const char *mcu, const char *link, size_t *len)
{
    char out[1200], fw[1200];
    snprintf(out, sizeof(out), "%s/%s.dict", tmpdir, mcu);
    snprintf(fw, sizeof(fw), "%s/%s.bin", tmpdir, mcu);
    CHECK_EQ(sim_run((const char *const[]){ "make-firmware", "--mcu", mcu, "--link", link, "-o", fw, "--dict-out",
                                             out, NULL }),
             0);
    return sim_read_file(out, len);
}

/* --- starting and stopping a board --- */

static void open_link(struct board *b)
{
    b->fd = sim_open_raw(&b->proc);
    CHECK(b->fd >= 0);
    b->in_len = 0;
    b->finder = (struct kl_finder){ 0 };
}

static bool start(struct board *b, const char *name, const char *const extra[])
{
    memset(b, 0, sizeof(*b));
    b->fd = -1;
    bool up = sim_start_board(&b->proc, tmpdir, name, true, extra);
    CHECK(up);
    if (!up)
        return false;
    open_link(b);
    return b->fd >= 0;
}

/* SIGTERM: the board must exit 0 and remove its link. */
static void stop(struct board *b)
{
    if (b->fd >= 0)
        close(b->fd);
    CHECK(sim_stop(&b->proc));
    struct stat sb;
    CHECK(lstat(b->proc.path, &sb) < 0 && errno == ENOENT);
    kl_dict_free(b->dict);
    free(b->json);
}

/* A control command's reply line. */
static void ctl(struct board *b, const char *command, char *reply, size_t cap)
{
    sim_ctl(&b->proc, command, reply, cap);
}

/* --- blocks --- */

static void send_raw(struct board *b, const void *data, size_t len)
{
    CHECK_EQ(write(b->fd, data, len), (ssize_t)len);
}

static void send_block(struct board *b, uint8_t seq, const uint8_t *content, size_t len)
{
    uint8_t blk[KL_MESSAGE_MAX];
    size_t n = kl_block_build(seq, content, len, blk);
    send_raw(b, blk, n);
}

/* Next valid block within ms; false on timeout.  Garbage fails the test. */
static bool read_block(struct board *b, int ms, struct block *out)
{
    for (;;) {
        size_t n;
        enum kl_find_result r = kl_block_find(&b->finder, b->in, b->in_len, &n);
        if (r != KL_FIND_MORE) {
            if (r == KL_FIND_BLOCK)
                memcpy(out->b, b->in, n), out->len = n;
            else
                CHECK(!"the board sent a corrupt block");
            memmove(b->in, b->in + n, b->in_len - n);
            b->in_len -= n;
            if (r == KL_FIND_BLOCK)
                return true;
            continue;
        }
        struct pollfd p = { .fd = b->fd, .events = POLLIN };
        if (poll(&p, 1, ms) <= 0)
            return false;
        ssize_t got = read(b->fd, b->in + b->in_len, sizeof(b->in) - b->in_len);
        if (got <= 0)
            return false;
        b->in_len += (size_t)got;
    }
}

static bool is_empty_block(const struct block *blk, uint8_t seq)
{
    return blk->len == KL_MESSAGE_MIN && blk->b[1] == (KL_DEST | (seq & KL_SEQ_MASK));
}

/* Name of a data block's message, decoding its params into m. */
static const char *decode(struct board *b, const struct block *blk, struct kl_msg *m)
{
    const uint8_t *p = blk->b + KL_HEADER_SIZE, *end = blk->b + blk->len - KL_TRAILER_SIZE;
    uint32_t id;
    if (blk->len <= KL_MESSAGE_MIN || kl_vlq_decode(&p, end, &id) < 0)
        return "";
    const struct kl_msgfmt *f = kl_dict_by_id(b->dict, (int32_t)id);
    if (!f || kl_msg_decode_params(f, &p, end, m) < 0 || p != end)
        return "?";
    return f->name;
}

static size_t encode(struct board *b, const char *name, const struct kl_arg *args, uint8_t *out)
{
    const struct kl_msgfmt *f = kl_dict_command(b->dict, name);
    CHECK(f != NULL);
    if (!f)
        return 0;
    int n = kl_msg_encode(f, args, out, KL_PAYLOAD_MAX);
    CHECK(n > 0);
    return n > 0 ? (size_t)n : 0;
}

/* Send one command in its own block; collect the data blocks that come
 * before the block's ack (at most one is kept in reply).  Returns how many
 * data blocks arrived, -1 if no ack came. */
static int exchange(struct board *b, const char *name, const struct kl_arg *args, struct block *reply)
{
    uint8_t content[KL_PAYLOAD_MAX];
    size_t n = encode(b, name, args, content);
    send_block(b, b->seq, content, n);
    b->seq = (b->seq + 1) & KL_SEQ_MASK;
    int data = 0;
    struct block blk;
    while (read_block(b, WAIT_MS, &blk)) {
        if (blk.len == KL_MESSAGE_MIN) {
            CHECK(is_empty_block(&blk, b->seq));
            return data;
        }
        CHECK_EQ(blk.b[1], KL_DEST | b->seq); /* responses carry the new seq */
        if (reply && !data)
            *reply = blk;
        data++;
    }
    return -1;
}

/* A query: exactly one response named `want`, then the ack. */
static bool query(struct board *b, const char *name, const struct kl_arg *args, const char *want,
                  struct kl_msg *m)
{
    struct block r;
    int n = exchange(b, name, args, &r);
    CHECK_EQ(n, 1);
    if (n != 1)
        return false;
    const char *got = decode(b, &r, m);
    CHECK_STR(got, want);
    return !strcmp(got, want);
}

static bool no_more_blocks(struct board *b)
{
    struct block blk;
    return !read_block(b, QUIET_MS, &blk);
}

/* identify in 40-byte pieces; loads b->dict. */
static bool identify(struct board *b)
{
    uint8_t z[65536];
    size_t zlen = 0;
    const struct kl_msgfmt identify_fmt = { .name = "identify", .id = 1, .nparams = 2,
                                            .params = { { "offset", KL_PT_U32 }, { "count", KL_PT_BYTE } } };
    const struct kl_msgfmt response_fmt = { .name = "identify_response", .id = 0, .nparams = 2,
                                            .params = { { "offset", KL_PT_U32 }, { "data", KL_PT_PROGMEM } } };
    for (;;) {
        uint8_t content[16];
        int n = kl_msg_encode(&identify_fmt, (struct kl_arg[]){ KL_U(zlen), KL_U(40) }, content, sizeof(content));
        send_block(b, b->seq, content, (size_t)n);
        b->seq = (b->seq + 1) & KL_SEQ_MASK;
        struct block r, ack;
        if (!read_block(b, WAIT_MS, &r) || !read_block(b, WAIT_MS, &ack))
            return false;
        CHECK(is_empty_block(&ack, b->seq));
        const uint8_t *p = r.b + KL_HEADER_SIZE;
        CHECK_EQ(*p, 0); /* identify_response is message 0 */
        p++;
        struct kl_msg m;
        if (kl_msg_decode_params(&response_fmt, &p, r.b + r.len - KL_TRAILER_SIZE, &m) < 0)
            return false;
        CHECK_EQ(m.args[0].u, zlen);
        if (!m.args[1].len)
            break;
        memcpy(z + zlen, m.args[1].data, m.args[1].len);
        zlen += m.args[1].len;
    }
    size_t used;
    if (kl_zlib_inflate(z, zlen, &b->json, &b->json_len, &used) < 0)
        return false;
    CHECK_EQ(used, zlen);
    struct mf_err err;
    return kl_dict_parse(b->json, b->json_len, &b->dict, &err) == 0;
}

static int32_t enum_value(struct board *b, const char *e, const char *name)
{
    int32_t v = -1;
    const struct kl_enum *en = kl_dict_enum(b->dict, e);
    CHECK(en && kl_enum_value(en, name, &v) == 0);
    return v;
}

/* Expect `shutdown` with this reason as the next block. */
static void expect_shutdown(struct board *b, const char *reason)
{
    struct block blk;
    struct kl_msg m;
    CHECK(read_block(b, WAIT_MS, &blk));
    CHECK_STR(decode(b, &blk, &m), "shutdown");
    CHECK_EQ(kl_msg_u(&m, "static_string_id"), enum_value(b, "static_string_id", reason));
}

/* A command that shuts the MCU down: the shutdown report, and no ack. */
static void send_expect_shutdown(struct board *b, const char *name, const struct kl_arg *args,
                                 const char *reason)
{
    uint8_t content[KL_PAYLOAD_MAX];
    size_t n = encode(b, name, args, content);
    send_block(b, b->seq, content, n);
    b->seq = (b->seq + 1) & KL_SEQ_MASK;
    expect_shutdown(b, reason);
    CHECK(no_more_blocks(b));
}

/* After a shutdown cut a block short, the next block first draws a nak
 * for the stale one; clear_shutdown then gets its ack. */
static void clear_shutdown(struct board *b)
{
    uint8_t content[4];
    size_t n = encode(b, "clear_shutdown", NULL, content);
    send_block(b, b->seq, content, n);
    b->seq = (b->seq + 1) & KL_SEQ_MASK;
    struct block blk;
    CHECK(read_block(b, WAIT_MS, &blk) && is_empty_block(&blk, (b->seq - 1) & KL_SEQ_MASK));
    CHECK(read_block(b, WAIT_MS, &blk) && is_empty_block(&blk, b->seq));
    CHECK(no_more_blocks(b));
}

/* --- the tests --- */

static void test_connect_and_identify(void)
{
    struct board b;
    if (!start(&b, "f407", (const char *const[]){ "--mcu", "stm32f407xx", NULL }))
        return;
    /* `starting` waits in the pty, with seq 0. */
    struct block starting, blk;
    CHECK(read_block(&b, WAIT_MS, &starting));
    CHECK_EQ(starting.len, 6);
    CHECK_EQ(starting.b[1], 0x10);
    /* The reference's example: identify with seq 1 to a fresh MCU draws a nak with seq 0. */
    const uint8_t identify_seq1[] = { 0x08, 0x11, 0x01, 0x00, 0x28, 0x42, 0x24, 0x7e };
    send_raw(&b, identify_seq1, sizeof(identify_seq1));
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK_EQ(blk.len, sizeof(NAK_SEQ0));
    CHECK_MEM(blk.b, NAK_SEQ0, sizeof(NAK_SEQ0));
    CHECK(no_more_blocks(&b));
    /* With seq 0 it is answered, and the ack (seq 1) follows the response. */
    send_block(&b, 0, identify_seq1 + 2, 3);
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK_EQ(blk.b[1], 0x11);
    CHECK_EQ(blk.len, 5 + 1 + 1 + 1 + 40);
    CHECK_EQ(blk.b[2], 0x00);
    CHECK_EQ(blk.b[5], 0x78); /* zlib level 9 header */
    CHECK_EQ(blk.b[6], 0xda);
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK_MEM(blk.b, ACK_SEQ1, sizeof(ACK_SEQ1));
    b.seq = 1;
    CHECK(identify(&b));
    size_t want_len = 0;
    char *want = expected_dict("stm32f407xx", "usb", &want_len);
    CHECK(want != NULL);
    CHECK_EQ(b.json_len, want_len);
    if (want && b.json_len == want_len)
        CHECK_MEM(b.json, want, want_len);
    free(want);
    if (b.dict) {
        struct kl_msg m;
        CHECK_STR(decode(&b, &starting, &m), "starting");
        CHECK_STR(kl_dict_const(b.dict, "MCU"), "stm32f407xx");
        CHECK(kl_dict_const(b.dict, "SERIAL_BAUD") == NULL);
        CHECK(query(&b, "get_config", NULL, "config", &m));
        CHECK_EQ(kl_msg_u(&m, "is_config"), 0);
        CHECK_EQ(kl_msg_u(&m, "is_shutdown"), 0);
        CHECK(query(&b, "get_uptime", NULL, "uptime", &m));
        CHECK(query(&b, "debug_ping", (struct kl_arg[]){ KL_BUF("hello", 5) }, "pong", &m));
        CHECK(m.args[0].len == 5 && !memcmp(m.args[0].data, "hello", 5));
    }
    stop(&b);
}

static void test_sequence_and_errors(void)
{
    struct board b;
    if (!start(&b, "seq", (const char *const[]){ "--mcu", "lpc1768", NULL }))
        return;
    struct block blk;
    CHECK(read_block(&b, WAIT_MS, &blk)); /* starting */
    CHECK(identify(&b));
    if (!b.dict) {
        stop(&b);
        return;
    }
    uint8_t get_clock[4];
    size_t n = encode(&b, "get_clock", NULL, get_clock);
    /* Every valid block with a wrong seq gets a nak with the unchanged seq. */
    for (int i = 1; i <= 3; i++) {
        send_block(&b, (uint8_t)(b.seq + i), get_clock, n);
        CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    }
    CHECK(no_more_blocks(&b));
    /* Leading sync bytes are dropped silently. */
    send_raw(&b, "\x7e\x7e\x7e", 3);
    struct kl_msg m;
    CHECK(query(&b, "get_clock", NULL, "clock", &m));
    /* A burst of corrupt blocks draws one nak... */
    uint8_t bad[KL_MESSAGE_MAX];
    size_t blen = kl_block_build(b.seq, get_clock, n, bad);
    bad[blen - 2] ^= 0x01;
    send_raw(&b, bad, blen);
    send_raw(&b, bad, blen);
    send_raw(&b, "\x12\x34\x56\x7e", 4);
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    CHECK(no_more_blocks(&b));
    /* ...the next valid block is handled, and a new burst naks again. */
    CHECK(query(&b, "get_clock", NULL, "clock", &m));
    bad[1] = (uint8_t)(KL_DEST | b.seq);
    send_raw(&b, bad, blen);
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    CHECK(no_more_blocks(&b));
    /* Several commands in one block: one response each, one ack. */
    uint8_t two[KL_PAYLOAD_MAX];
    size_t n2 = encode(&b, "get_clock", NULL, two);
    n2 += encode(&b, "get_config", NULL, two + n2);
    send_block(&b, b.seq, two, n2);
    b.seq = (b.seq + 1) & KL_SEQ_MASK;
    CHECK(read_block(&b, WAIT_MS, &blk) && !strcmp(decode(&b, &blk, &m), "clock"));
    CHECK(read_block(&b, WAIT_MS, &blk) && !strcmp(decode(&b, &blk, &m), "config"));
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    stop(&b);
}

static void test_shutdown(void)
{
    struct board b;
    if (!start(&b, "shut", (const char *const[]){ "--mcu", "stm32g0b1xx", NULL }))
        return;
    struct block blk;
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK(identify(&b));
    if (!b.dict) {
        stop(&b);
        return;
    }
    struct kl_msg m;
    send_expect_shutdown(&b, "emergency_stop", NULL, "Command request");
    /* The stale block is nak'ed (with the advanced seq); HF commands still run. */
    uint8_t content[8];
    size_t n = encode(&b, "get_clock", NULL, content);
    send_block(&b, b.seq, content, n);
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    b.seq = (b.seq + 1) & KL_SEQ_MASK;
    CHECK(read_block(&b, WAIT_MS, &blk) && !strcmp(decode(&b, &blk, &m), "clock"));
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq));
    /* Other commands answer is_shutdown with the reason. */
    CHECK(query(&b, "allocate_oids", (struct kl_arg[]){ KL_U(1) }, "is_shutdown", &m));
    CHECK_EQ(kl_msg_u(&m, "static_string_id"), enum_value(&b, "static_string_id", "Command request"));
    CHECK(query(&b, "get_config", NULL, "config", &m));
    CHECK_EQ(kl_msg_u(&m, "is_shutdown"), 1);
    CHECK_EQ(exchange(&b, "clear_shutdown", NULL, NULL), 0);
    CHECK(query(&b, "get_config", NULL, "config", &m));
    CHECK_EQ(kl_msg_u(&m, "is_shutdown"), 0);
    send_expect_shutdown(&b, "clear_shutdown", NULL, "Shutdown cleared when not shutdown");
    clear_shutdown(&b);
    /* Config errors. */
    CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(2) }, NULL), 0);
    send_expect_shutdown(&b, "allocate_oids", (struct kl_arg[]){ KL_U(2) }, "oids already allocated");
    clear_shutdown(&b);
    send_expect_shutdown(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(2) }, "Can't assign oid");
    clear_shutdown(&b);
    CHECK_EQ(exchange(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(0) }, NULL), 0);
    send_expect_shutdown(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(0) }, "Can't assign oid");
    clear_shutdown(&b);
    CHECK_EQ(exchange(&b, "finalize_config", (struct kl_arg[]){ KL_U(0xdeadbeef) }, NULL), 0);
    CHECK(query(&b, "get_config", NULL, "config", &m));
    CHECK_EQ(kl_msg_u(&m, "is_config"), 1);
    CHECK_EQ(kl_msg_u(&m, "crc"), 0xdeadbeef);
    CHECK(kl_msg_u(&m, "move_count") > 0);
    send_expect_shutdown(&b, "finalize_config", (struct kl_arg[]){ KL_U(1) }, "Already finalized");
    clear_shutdown(&b);
    send_expect_shutdown(&b, "spi_send", (struct kl_arg[]){ KL_U(1), KL_BUF("x", 1) }, "Invalid oid type");
    clear_shutdown(&b);
    /* Unknown message ids and truncated parameters. */
    const uint8_t unknown[] = { 0x81, 0x7f };
    send_block(&b, b.seq, unknown, sizeof(unknown));
    b.seq = (b.seq + 1) & KL_SEQ_MASK;
    expect_shutdown(&b, "Invalid command");
    clear_shutdown(&b);
    uint8_t ping[8];
    size_t pn = encode(&b, "debug_ping", (struct kl_arg[]){ KL_BUF("ab", 2) }, ping);
    ping[pn - 3] = 50; /* the buffer claims 50 bytes, 2 follow */
    send_block(&b, b.seq, ping, pn);
    b.seq = (b.seq + 1) & KL_SEQ_MASK;
    expect_shutdown(&b, "Command parser error");
    clear_shutdown(&b);
    /* This chip has no SDIO: no sdio_* commands in its dictionary. */
    CHECK(kl_dict_command(b.dict, "sdio_set_bus") == NULL);
    CHECK(kl_dict_command(b.dict, "reset") != NULL);
    stop(&b);
}

/* A sparse card image with a recognisable first sector. */
static void make_image(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    uint8_t sector[512];
    for (int i = 0; i < 512; i++)
        sector[i] = (uint8_t)(i * 7 + 3);
    CHECK_EQ(write(fd, sector, sizeof(sector)), 512);
    CHECK_EQ(ftruncate(fd, 64 << 20), 0);
    close(fd);
}

static void image_sector(const char *path, uint32_t lba, uint8_t out[512])
{
    int fd = open(path, O_RDONLY);
    CHECK(fd >= 0 && pread(fd, out, 512, (off_t)lba * 512) == 512);
    close(fd);
}

static bool start_identified(struct board *b, const char *name, const char *const extra[])
{
    if (!start(b, name, extra))
        return false;
    struct block blk;
    CHECK(read_block(b, WAIT_MS, &blk)); /* starting */
    bool ok = identify(b);
    CHECK(ok);
    if (!ok)
        stop(b);
    return ok;
}

static void test_spi_card(void)
{
    char image[1200];
    snprintf(image, sizeof(image), "%s/spi.img", tmpdir);
    make_image(image);
    struct board b;
    if (!start_identified(&b, "spi", (const char *const[]){ "--mcu", "stm32f407xx", "--card", image, NULL }))
        return;
    struct kl_msg m;
    CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(3) }, NULL), 0);
    /* No bus set: spi_transfer echoes. */
    CHECK_EQ(exchange(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(0) }, NULL), 0);
    CHECK(query(&b, "spi_transfer", (struct kl_arg[]){ KL_U(0), KL_BUF("\1\2\3", 3) }, "spi_transfer_response", &m));
    CHECK(m.args[1].len == 3 && !memcmp(m.args[1].data, "\1\2\3", 3));
    /* The card on spi1: CMD0 puts it in SPI mode and answers R1 = idle. */
    int32_t pa4 = enum_value(&b, "pin", "PA4"), spi1 = enum_value(&b, "spi_bus", "spi1");
    CHECK_EQ(pa4, 4);
    CHECK_EQ(spi1, 1);
    CHECK_EQ(exchange(&b, "config_spi", (struct kl_arg[]){ KL_U(1), KL_U(pa4), KL_U(0) }, NULL), 0);
    CHECK_EQ(exchange(&b, "spi_set_bus", (struct kl_arg[]){ KL_U(1), KL_U(spi1), KL_U(0), KL_U(400000) }, NULL), 0);
    uint8_t ff[32];
    memset(ff, 0xff, sizeof(ff));
    CHECK_EQ(exchange(&b, "spi_send", (struct kl_arg[]){ KL_U(1), KL_BUF(ff, 10) }, NULL), 0);
    CHECK_EQ(exchange(&b, "spi_send", (struct kl_arg[]){ KL_U(1), KL_BUF("\x40\0\0\0\0\x95", 6) }, NULL), 0);
    CHECK(query(&b, "spi_transfer", (struct kl_arg[]){ KL_U(1), KL_BUF(ff, 8) }, "spi_transfer_response", &m));
    int r1 = -1;
    for (unsigned i = 0; i < m.args[1].len && r1 < 0; i++)
        if (m.args[1].data[i] != 0xff)
            r1 = m.args[1].data[i];
    CHECK_EQ(r1, 0x01);
    char reply[4096];
    ctl(&b, "status", reply, sizeof(reply));
    CHECK(strstr(reply, "\"card_spi_mode\":true") != NULL);
    CHECK(strstr(reply, "\"card_present\":true") != NULL);
    /* Replies that do not fit a block are dropped; the ack still comes. */
    CHECK_EQ(exchange(&b, "identify", (struct kl_arg[]){ KL_U(0), KL_U(57) }, NULL), 0);
    CHECK_EQ(exchange(&b, "identify", (struct kl_arg[]){ KL_U(0), KL_U(56) }, NULL), 1);
    /* Bus errors. */
    CHECK_EQ(exchange(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(2) }, NULL), 0);
    send_expect_shutdown(&b, "spi_set_bus", (struct kl_arg[]){ KL_U(2), KL_U(99), KL_U(0), KL_U(1000) },
                         "Invalid spi bus");
    clear_shutdown(&b);
    send_expect_shutdown(&b, "spi_set_bus", (struct kl_arg[]){ KL_U(2), KL_U(spi1), KL_U(4), KL_U(1000) },
                         "Invalid spi config");
    clear_shutdown(&b);
    send_expect_shutdown(&b, "spi_set_bus", (struct kl_arg[]){ KL_U(1), KL_U(spi1), KL_U(0), KL_U(1000) },
                         "Invalid spi config");
    clear_shutdown(&b);
    send_expect_shutdown(&b, "spi_set_sw_bus",
                         (struct kl_arg[]){ KL_U(2), KL_U(9999), KL_U(pa4), KL_U(pa4), KL_U(0), KL_U(100) },
                         "Not a valid pin");
    clear_shutdown(&b);
    stop(&b);
}

/* One SD-mode command through sdio_send_command; returns the error code. */
static int sdio_cmd(struct board *b, uint8_t cmd, uint32_t arg, uint8_t wait, uint8_t resp[16])
{
    struct kl_msg m;
    if (!query(b, "sdio_send_command", (struct kl_arg[]){ KL_U(0), KL_U(cmd), KL_U(arg), KL_U(wait) },
               "sdio_send_command_response", &m))
        return -1;
    const struct kl_arg *r = kl_msg_arg(&m, "response");
    CHECK_EQ(r->len, wait == 1 ? 4 : wait == 2 ? 16 : 0);
    if (resp)
        memcpy(resp, r->data, r->len);
    return (int)kl_msg_u(&m, "error");
}

static void sdio_init_card(struct board *b)
{
    uint8_t r[16];
    CHECK_EQ(sdio_cmd(b, 0, 0, 0, r), 0);
    CHECK_EQ(sdio_cmd(b, 8, 0x1aa, 1, r), 0);
    CHECK(r[2] == 0x01 && r[3] == 0xaa);
    bool ready = false;
    for (int i = 0; i < 50 && !ready; i++) {
        CHECK_EQ(sdio_cmd(b, 55, 0, 1, r), 0);
        sdio_cmd(b, 41, 0x40ff8000, 1, r); /* R3 has no CRC: the STM32 reports CRC_FAIL */
        ready = r[0] & 0x80;
    }
    CHECK(ready);
    CHECK_EQ(sdio_cmd(b, 2, 0, 2, r), 0);
    CHECK_EQ(sdio_cmd(b, 3, 0, 1, r), 0);
    uint32_t rca = (uint32_t)r[0] << 8 | r[1];
    CHECK(rca != 0);
    CHECK_EQ(sdio_cmd(b, 7, rca << 16, 1, r), 0);
}

static void test_sdio_card(void)
{
    char image[1200];
    snprintf(image, sizeof(image), "%s/sdio.img", tmpdir);
    make_image(image);
    struct board b;
    if (!start_identified(&b, "sdio", (const char *const[]){ "--mcu", "stm32f429xx", "--card", image, NULL }))
        return;
    struct kl_msg m;
    CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(1) }, NULL), 0);
    CHECK_EQ(exchange(&b, "config_sdio", (struct kl_arg[]){ KL_U(0), KL_U(512) }, NULL), 0);
    CHECK_EQ(exchange(&b, "sdio_set_bus", (struct kl_arg[]){ KL_U(0), KL_U(enum_value(&b, "sdio_bus", "sdio")) },
                      NULL), 0);
    sdio_init_card(&b);
    /* Read sector 0 into the MCU buffer and fetch a piece of it. */
    CHECK(query(&b, "sdio_read_data", (struct kl_arg[]){ KL_U(0), KL_U(17), KL_U(0) }, "sdio_read_data_response",
                &m));
    CHECK_EQ(kl_msg_u(&m, "error"), 0);
    CHECK_EQ(kl_msg_u(&m, "read"), 512);
    uint8_t want[512];
    image_sector(image, 0, want);
    CHECK(query(&b, "sdio_read_data_buffer", (struct kl_arg[]){ KL_U(0), KL_U(480), KL_U(32) },
                "sdio_read_data_buffer_response", &m));
    CHECK(m.args[1].len == 32 && !memcmp(m.args[1].data, want + 480, 32));
    CHECK(query(&b, "sdio_read_data_buffer", (struct kl_arg[]){ KL_U(0), KL_U(4090), KL_U(32) },
                "sdio_read_data_buffer_response", &m));
    CHECK_EQ(m.args[1].len, 0);
    /* Write sector 5 from the buffer. */
    uint8_t pattern[512];
    for (int i = 0; i < 512; i++)
        pattern[i] = (uint8_t)(0xa5 ^ i);
    for (int off = 0; off < 512; off += 32)
        CHECK_EQ(exchange(&b, "sdio_write_data_buffer",
                          (struct kl_arg[]){ KL_U(0), KL_U(off), KL_BUF(pattern + off, 32) }, NULL), 0);
    CHECK(query(&b, "sdio_write_data", (struct kl_arg[]){ KL_U(0), KL_U(24), KL_U(5) }, "sdio_write_data_response",
                &m));
    CHECK_EQ(kl_msg_u(&m, "error"), 0);
    CHECK_EQ(kl_msg_u(&m, "write"), 512);
    send_expect_shutdown(&b, "sdio_set_bus", (struct kl_arg[]){ KL_U(0), KL_U(1) }, "Invalid sdio bus");
    stop(&b); /* SIGTERM flushes the image */
    uint8_t got[512];
    image_sector(image, 5, got);
    CHECK_MEM(got, pattern, 512);
}

/* --dict: exactly that text, and its ids, e.g. a reply id needing 2 bytes. */
static void test_given_dict(void)
{
    size_t len = 0;
    char *json = expected_dict("lpc1769", "usb", &len);
    if (!json)
        return;
    const char *key = "\"spi_transfer_response oid=%c response=%*s\":";
    char *at = strstr(json, key);
    CHECK(at != NULL);
    if (!at) {
        free(json);
        return;
    }
    /* Give spi_transfer_response the id 300 (two bytes on the wire). */
    char *num = at + strlen(key), *end = num;
    while (*end == '-' || (*end >= '0' && *end <= '9'))
        end++;
    char path[1200];
    snprintf(path, sizeof(path), "%s/given.dict", tmpdir);
    FILE *f = fopen(path, "wb");
    fprintf(f, "%.*s300%s", (int)(num - json), json, end);
    fclose(f);
    size_t given_len = 0;
    char *given = sim_read_file(path, &given_len);
    struct board b;
    if (start_identified(&b, "given", (const char *const[]){ "--dict", path, NULL })) {
        CHECK_EQ(b.json_len, given_len);
        if (b.json_len == given_len)
            CHECK_MEM(b.json, given, given_len);
        struct kl_msg m;
        uint8_t data[56];
        memset(data, 0x5a, sizeof(data));
        CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(1) }, NULL), 0);
        CHECK_EQ(exchange(&b, "config_spi_without_cs", (struct kl_arg[]){ KL_U(0) }, NULL), 0);
        CHECK(query(&b, "spi_transfer", (struct kl_arg[]){ KL_U(0), KL_BUF(data, 55) }, "spi_transfer_response", &m));
        CHECK_EQ(m.args[1].len, 55);
        /* 56 bytes fit the command (1-byte id) but not the reply (2-byte id). */
        CHECK_EQ(exchange(&b, "spi_transfer", (struct kl_arg[]){ KL_U(0), KL_BUF(data, 56) }, NULL), 0);
        stop(&b);
    }
    free(given);
    free(json);
}

/* Replace the first occurrence of from by to in a malloc'ed string. */
static char *replace(char *text, const char *from, const char *to)
{
    char *at = strstr(text, from);
    CHECK(at != NULL);
    if (!at)
        return text;
    size_t head = (size_t)(at - text), flen = strlen(from), tlen = strlen(to);
    char *out = malloc(strlen(text) - flen + tlen + 1);
    memcpy(out, text, head);
    memcpy(out + head, to, tlen);
    strcpy(out + head + tlen, at + flen);
    free(text);
    return out;
}

/* A dictionary from an older build: config_spi without cs_active_high,
 * spi_set_software_bus with a rate, the old order of the config reply. */
static void test_old_formats(void)
{
    size_t len = 0;
    char *json = expected_dict("stm32f446xx", "usb", &len);
    if (!json)
        return;
    json = replace(json, "config_spi oid=%c pin=%u cs_active_high=%c", "config_spi oid=%c pin=%u");
    json = replace(json, "spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u",
                   "spi_set_software_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u rate=%u");
    json = replace(json, "config is_config=%c crc=%u is_shutdown=%c move_count=%hu",
                   "config is_config=%c crc=%u move_count=%hu is_shutdown=%c");
    char path[1200];
    snprintf(path, sizeof(path), "%s/old.dict", tmpdir);
    FILE *f = fopen(path, "wb");
    fputs(json, f);
    fclose(f);
    free(json);
    struct board b;
    if (!start_identified(&b, "old", (const char *const[]){ "--dict", path, NULL }))
        return;
    struct kl_msg m;
    int32_t pa4 = enum_value(&b, "pin", "PA4");
    CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(1) }, NULL), 0);
    CHECK_EQ(exchange(&b, "config_spi", (struct kl_arg[]){ KL_U(0), KL_U(pa4) }, NULL), 0);
    CHECK_EQ(exchange(&b, "spi_set_software_bus",
                      (struct kl_arg[]){ KL_U(0), KL_U(pa4 + 2), KL_U(pa4 + 3), KL_U(pa4 + 1), KL_U(0),
                                         KL_U(400000) }, NULL), 0);
    /* The bus is set: with no card, MISO reads all ones instead of an echo. */
    CHECK(query(&b, "spi_transfer", (struct kl_arg[]){ KL_U(0), KL_BUF("\1\2", 2) }, "spi_transfer_response", &m));
    CHECK(m.args[1].len == 2 && m.args[1].data[0] == 0xff && m.args[1].data[1] == 0xff);
    CHECK(query(&b, "get_config", NULL, "config", &m));
    CHECK_EQ(kl_msg_u(&m, "is_config"), 0);
    CHECK_EQ(kl_msg_u(&m, "is_shutdown"), 0);
    CHECK_EQ(m.fmt->params[2].name[0], 'm'); /* move_count before is_shutdown */
    stop(&b);
}

/* The reset command: no ack; USB drops the device and brings a fresh MCU. */
static void test_reset(void)
{
    struct board b;
    if (!start_identified(&b, "usbreset", (const char *const[]){ "--mcu", "stm32h743xx", NULL }))
        return;
    struct kl_msg m;
    CHECK_EQ(exchange(&b, "allocate_oids", (struct kl_arg[]){ KL_U(1) }, NULL), 0);
    CHECK_EQ(exchange(&b, "finalize_config", (struct kl_arg[]){ KL_U(7) }, NULL), 0);
    uint8_t content[4];
    size_t n = encode(&b, "reset", NULL, content);
    send_block(&b, b.seq, content, n);
    CHECK(no_more_blocks(&b)); /* no ack: the MCU restarts at once */
    CHECK(sim_wait_path(b.proc.path, false, WAIT_MS));
    close(b.fd);
    CHECK(sim_wait_path(b.proc.path, true, WAIT_MS));
    open_link(&b);
    struct block blk;
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK_EQ(blk.b[1], 0x10);
    CHECK_STR(decode(&b, &blk, &m), "starting");
    b.seq = 0;
    CHECK(query(&b, "get_config", NULL, "config", &m));
    CHECK_EQ(kl_msg_u(&m, "is_config"), 0);
    CHECK_EQ(kl_msg_u(&m, "crc"), 0);
    stop(&b);
}

/* UART: SERIAL_BAUD and RECEIVE_WINDOW; a reset keeps the device path. */
static void test_uart(void)
{
    struct board b;
    if (!start_identified(&b, "uart", (const char *const[]){ "--mcu", "stm32f103xe", "--link", "uart:115200", NULL }))
        return;
    int64_t v = 0;
    CHECK(kl_dict_const_int(b.dict, "SERIAL_BAUD", &v) && v == 115200);
    CHECK(kl_dict_const_int(b.dict, "RECEIVE_WINDOW", &v) && v == 192);
    CHECK(kl_dict_const_int(b.dict, "CLOCK_FREQ", &v) && v == 72000000);
    char reply[4096];
    ctl(&b, "reset", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    struct stat st;
    CHECK(lstat(b.proc.path, &st) == 0);
    struct block blk;
    struct kl_msg m;
    CHECK(read_block(&b, WAIT_MS, &blk));
    CHECK_STR(decode(&b, &blk, &m), "starting");
    b.seq = 0;
    CHECK(query(&b, "get_clock", NULL, "clock", &m));
    stop(&b);
}

/* Faults from the control socket: lost responses, then corrupted input. */
static void test_faults(void)
{
    struct board b;
    if (!start_identified(&b, "faults", (const char *const[]){ "--mcu", "stm32f446xx", NULL }))
        return;
    char reply[4096];
    ctl(&b, "faults lose-response=1", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    CHECK_EQ(exchange(&b, "get_clock", NULL, NULL), 0);
    CHECK_EQ(exchange(&b, "get_uptime", NULL, NULL), 0);
    ctl(&b, "status", reply, sizeof(reply));
    CHECK(strstr(reply, "\"lost_responses\":2") != NULL);
    ctl(&b, "faults bogus=1", reply, sizeof(reply));
    CHECK(!strncmp(reply, "error", 5));
    ctl(&b, "faults corrupt=1,dir=in,seed=3", reply, sizeof(reply));
    CHECK_STR(reply, "ok");
    uint8_t content[4];
    size_t n = encode(&b, "get_clock", NULL, content);
    send_block(&b, b.seq, content, n);
    struct block blk;
    CHECK(read_block(&b, WAIT_MS, &blk) && is_empty_block(&blk, b.seq)); /* one nak for the garbage */
    CHECK(no_more_blocks(&b));
    ctl(&b, "faults", reply, sizeof(reply));
    /* The flipped sync byte left the MCU waiting for one: send it, as a
     * host's retransmit does, then the line works again. */
    send_raw(&b, "\x7e", 1);
    struct kl_msg m;
    CHECK(query(&b, "get_clock", NULL, "clock", &m));
    ctl(&b, "status", reply, sizeof(reply));
    CHECK(strstr(reply, "\"corrupted_in\":6") != NULL);
    CHECK(strstr(reply, "\"error_bursts\":1") != NULL);
    stop(&b);
}

int main(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "%s", sim_tmpdir("test_sim_link"));
    signal(SIGPIPE, SIG_IGN);
    test_connect_and_identify();
    test_sequence_and_errors();
    test_shutdown();
    test_spi_card();
    test_sdio_card();
    test_given_dict();
    test_old_formats();
    test_reset();
    test_uart();
    test_faults();
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return check_report("test_sim_link");
}
