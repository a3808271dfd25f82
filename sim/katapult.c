/* Katapult's command.c and flashcmd.c on the virtual board. */
#include "katapult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/proto.h"

#define STX1 0x01
#define STX2 0x88
#define SYNC2 0x99
#define SYNC 0x03
#define FRAME_MIN 8

enum {
    CMD_CONNECT = 0x11,
    CMD_SEND_BLOCK = 0x12,
    CMD_SEND_EOF = 0x13,
    CMD_REQUEST_BLOCK = 0x14,
    CMD_COMPLETE = 0x15,
    CMD_GET_CANBUS_ID = 0x16,
    RESP_ACK = 0xa0,
    RESP_NACK = 0xf1,
    RESP_ERROR = 0xf2,
};

#define WORDS(n) (((n) + 3) / 4)

uint32_t katapult_default_start(const struct flash_family *fam, uint32_t flash_base)
{
    return flash_base + fam->katapult_start_offset;
}

void katapult_init(struct sim_katapult *k, const struct katapult_build *b, const struct flash_family *fam,
                   struct sim_flash *flash)
{
    memset(k, 0, sizeof(*k));
    k->build = *b;
    k->fam = fam;
    k->flash = flash;
    k->rx_limit = sizeof(k->rx);
}

void katapult_boot(struct sim_katapult *k)
{
    k->rx_len = 0;
    k->need_sync = k->need_valid = false;
    k->page_writes = 0;
    k->complete = false;
    k->busy_ns = 0;
}

void katapult_leave(struct sim_katapult *k)
{
    /* Refusals and bad reads last until Katapult is left; bad cells stay. */
    k->faults.refuse_at = 0;
    k->faults.nbad_reads = 0;
    k->complete = false;
    k->busy_ns = 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16), p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --- responses (command_respond) --- */

static void respond(struct sim_katapult *k, uint8_t code, const uint8_t *payload, size_t words)
{
    uint8_t frame[KATAPULT_FRAME_MAX + 64];
    size_t n = 0;
    frame[n++] = STX1;
    frame[n++] = STX2;
    frame[n++] = code;
    frame[n++] = (uint8_t)words;
    if (words)
        memcpy(frame + n, payload, words * 4);
    n += words * 4;
    uint16_t crc = kl_crc16(frame + 2, n - 2);
    frame[n++] = (uint8_t)crc;
    frame[n++] = (uint8_t)(crc >> 8);
    frame[n++] = SYNC2;
    frame[n++] = SYNC;
    if (code == RESP_NACK)
        k->nacks++;
    else if (code == RESP_ERROR)
        k->errors++;
    if (k->emit)
        k->emit(k->emit_ctx, frame, n, code != RESP_NACK);
}

/* An ACK: the acknowledged command in the first word, then words-1 more. */
static void ack(struct sim_katapult *k, uint8_t cmd, uint8_t *payload, size_t words)
{
    put_le32(payload, cmd);
    respond(k, RESP_ACK, payload, words);
}

static void command_error(struct sim_katapult *k)
{
    respond(k, RESP_ERROR, NULL, 0);
}

/* --- commands (flashcmd.c) --- */

static void cmd_connect(struct sim_katapult *k)
{
    const struct katapult_build *b = &k->build;
    size_t mcu_words = WORDS(strlen(b->mcu));
    bool with_version = b->proto >= KATAPULT_PROTO_1_1_0;
    size_t version_words = with_version ? WORDS(strlen(b->version)) : 0;
    /* flashcmd.c's out[] less its header and trailer words: the MCU string
     * from word 4, and from 1.1.0 one more zero word and the version. */
    size_t words = 4 + mcu_words + (with_version ? 1 + version_words : 0);
    uint8_t payload[4 * 40] = { 0 };
    put_le32(payload + 4, b->proto);
    put_le32(payload + 8, b->start);
    put_le32(payload + 12, KATAPULT_BLOCK_SIZE);
    memcpy(payload + 16, b->mcu, strlen(b->mcu));
    if (with_version)
        memcpy(payload + 16 + 4 * (mcu_words + 1), b->version, strlen(b->version));
    ack(k, CMD_CONNECT, payload, words);
}

static bool in_block(uint32_t addr, uint32_t block)
{
    return addr >= block && addr - block < KATAPULT_BLOCK_SIZE;
}

/* The bad cell waiting in this block: its index in the list, or -1. */
static int bad_cell_in(const struct katapult_faults *f, uint32_t block)
{
    for (size_t i = 0; i < f->nbad_cells; i++)
        if (in_block(f->bad_cells[i], block))
            return (int)i;
    return -1;
}

static bool refused(struct sim_katapult *k)
{
    struct katapult_faults *f = &k->faults;
    if (!f->refuse_at || k->sends < f->refuse_at)
        return false;
    if (f->refuse_left && --f->refuse_left == 0)
        f->refuse_at = 0;
    return true;
}

static void cmd_send_block(struct sim_katapult *k, const uint8_t *frame)
{
    k->sends++;
    if (frame[3] != KATAPULT_BLOCK_SIZE / 4 + 1) {
        command_error(k);
        return;
    }
    uint32_t addr = get_le32(frame + 4);
    if (addr < k->build.start || refused(k)) {
        command_error(k);
        return;
    }
    struct flash_write_stats st = { 0 };
    struct katapult_faults *f = &k->faults;
    int bad = bad_cell_in(f, addr);
    int flip_at = bad < 0 ? -1 : (int)(f->bad_cells[bad] - addr);
    int rc = flash_write_block(k->flash, k->fam, addr, frame + 8, flip_at, &st);
    if (bad >= 0 && st.programmed) /* the bad cell has shown itself */
        f->bad_cells[bad] = f->bad_cells[--f->nbad_cells];
    k->page_writes += st.page_writes;
    k->erases += st.erases;
    if (k->model_time)
        k->busy_ns += st.busy_ns;
    if (rc < 0) {
        command_error(k);
        return;
    }
    k->blocks_written++;
    uint8_t payload[8];
    put_le32(payload + 4, addr);
    ack(k, CMD_SEND_BLOCK, payload, 2);
}

static void cmd_eof(struct sim_katapult *k)
{
    uint8_t payload[8];
    put_le32(payload + 4, k->page_writes);
    ack(k, CMD_SEND_EOF, payload, 2);
}

static void cmd_request_block(struct sim_katapult *k, const uint8_t *frame)
{
    uint32_t addr = frame[3] >= 1 ? get_le32(frame + 4) : 0;
    uint8_t payload[8 + KATAPULT_BLOCK_SIZE];
    put_le32(payload + 4, addr);
    flash_read_block(k->flash, addr, payload + 8);
    for (size_t i = 0; i < k->faults.nbad_reads; i++)
        if (in_block(k->faults.bad_reads[i], addr))
            payload[8 + k->faults.bad_reads[i] - addr] ^= 0x01;
    k->blocks_read++;
    ack(k, CMD_REQUEST_BLOCK, payload, 2 + KATAPULT_BLOCK_SIZE / 4);
}

static void cmd_complete(struct sim_katapult *k, uint64_t now_us)
{
    uint8_t payload[4];
    ack(k, CMD_COMPLETE, payload, 1);
    k->completes++;
    k->completed_at_us = now_us;
    k->complete = true;
    k->start_app_at_us = now_us + KATAPULT_COMPLETE_DELAY_US;
}

static void cmd_get_canbus_id(struct sim_katapult *k)
{
    uint8_t payload[12] = { 0 };
    memcpy(payload + 4, k->build.uuid, 6);
    ack(k, CMD_GET_CANBUS_ID, payload, 3);
}

static void dispatch(struct sim_katapult *k, const uint8_t *frame, uint64_t now_us)
{
    switch (frame[2]) {
    case CMD_CONNECT:
        cmd_connect(k);
        break;
    case CMD_SEND_BLOCK:
        cmd_send_block(k, frame);
        break;
    case CMD_SEND_EOF:
        cmd_eof(k);
        break;
    case CMD_REQUEST_BLOCK:
        cmd_request_block(k, frame);
        break;
    case CMD_COMPLETE:
        cmd_complete(k, now_us);
        break;
    case CMD_GET_CANBUS_ID:
        if (k->build.can)
            cmd_get_canbus_id(k);
        else
            command_error(k); /* not a CAN build */
        break;
    default:
        command_error(k);
    }
}

/* --- framing (command_find_block) --- */

size_t katapult_receive(struct sim_katapult *k, const uint8_t *buf, size_t len)
{
    size_t room = k->rx_limit > k->rx_len ? k->rx_limit - k->rx_len : 0;
    if (len > room)
        len = room;
    memcpy(k->rx + k->rx_len, buf, len);
    k->rx_len += len;
    return len;
}

static void pop(struct sim_katapult *k, size_t n)
{
    memmove(k->rx, k->rx + n, k->rx_len - n);
    k->rx_len -= n;
}

/* 1: a frame of *n bytes at the front; 0: need more; -1: *n bytes dropped. */
static int find_frame(struct sim_katapult *k, size_t *n)
{
    const uint8_t *b = k->rx;
    size_t avail = k->rx_len, len = 0, from = 0;
    if (avail && k->need_sync)
        goto need_sync;
    if (avail < FRAME_MIN)
        return 0;
    if (b[0] != STX1 || b[1] != STX2)
        goto error;
    len = (size_t)b[3] * 4 + 8;
    if (len > KATAPULT_FRAME_MAX)
        goto error;
    if (avail < len)
        return 0;
    if (b[len - 2] != SYNC2 || b[len - 1] != SYNC ||
        kl_crc16(b + 2, len - 6) != (uint16_t)(b[len - 4] | b[len - 3] << 8))
        goto error;
    k->need_valid = false;
    *n = len;
    return 1;
error:
    k->need_sync = true;
    from = 1; /* the bad frame's own first byte is no new start */
need_sync:;
    /* Drop up to the next possible start of a frame. */
    const uint8_t *next = memchr(b + from, STX1, avail - from);
    if (next) {
        k->need_sync = false;
        *n = (size_t)(next - b);
    } else {
        *n = avail;
    }
    if (!k->need_valid) {
        k->need_valid = true;
        respond(k, RESP_NACK, NULL, 0);
    }
    return -1;
}

bool katapult_process(struct sim_katapult *k, uint64_t now_us)
{
    for (;;) {
        size_t n = 0;
        int rc = find_frame(k, &n);
        if (rc == 0)
            return false;
        if (rc > 0)
            dispatch(k, k->rx, now_us);
        pop(k, n);
        if (k->busy_ns)
            return true;
    }
}

bool katapult_app_due(const struct sim_katapult *k, uint64_t now_us)
{
    return k->complete && now_us >= k->start_app_at_us;
}

/* --- control socket faults --- */

static int parse_addr(const char *s, uint32_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || (*end && *end != ' ') || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

int katapult_fault_command(struct sim_katapult *k, const char *args, char *why, size_t cap)
{
    struct katapult_faults *f = &k->faults;
    char verb[32];
    int used = 0;
    if (sscanf(args, "%31s %n", verb, &used) != 1) {
        snprintf(why, cap, "katapult takes refuse-write N [once | times K], corrupt ADDR or corrupt-read ADDR");
        return -1;
    }
    const char *rest = args + used;
    uint32_t v;
    if (!strcmp(verb, "refuse-write")) {
        if (parse_addr(rest, &v) < 0 || v == 0) {
            snprintf(why, cap, "refuse-write needs N >= 1 (the N-th SEND_BLOCK from now)");
            return -1;
        }
        const char *opt = strchr(rest, ' ');
        while (opt && *opt == ' ')
            opt++;
        unsigned long times = 0;
        char *end;
        if (opt && *opt && !strcmp(opt, "once"))
            times = 1;
        else if (opt && *opt && !strncmp(opt, "times ", 6) && (times = strtoul(opt + 6, &end, 10)) > 0 && !*end)
            ;
        else if (opt && *opt) {
            snprintf(why, cap, "refuse-write N takes 'once' or 'times K' after N");
            return -1;
        }
        f->refuse_at = k->sends + v;
        f->refuse_left = times;
        return 0;
    }
    bool cell = !strcmp(verb, "corrupt"), read = !strcmp(verb, "corrupt-read");
    if (!cell && !read) {
        snprintf(why, cap, "unknown katapult fault '%s' (refuse-write, corrupt, corrupt-read)", verb);
        return -1;
    }
    size_t *n = cell ? &f->nbad_cells : &f->nbad_reads;
    uint32_t *list = cell ? f->bad_cells : f->bad_reads;
    if (parse_addr(rest, &v) < 0) {
        snprintf(why, cap, "%s needs a flash address (e.g. 0x08002040)", verb);
        return -1;
    }
    if (*n >= KATAPULT_FAULT_ADDRS) {
        snprintf(why, cap, "at most %d %s addresses at once", KATAPULT_FAULT_ADDRS, verb);
        return -1;
    }
    list[(*n)++] = v;
    return 0;
}
