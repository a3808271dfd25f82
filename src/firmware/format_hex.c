/* Intel HEX: data records (00) placed by the extended segment (02) and
 * extended linear (04) address records, up to the end record (01). */
#include "firmware/format.h"

#include <stdbool.h>
#include <stdio.h>

static int nibble(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode the hex digits of one record (after ':') into bytes; -1 if any
 * character is not a hex digit or the count is odd. */
static int decode_line(const uint8_t *p, size_t n, uint8_t *out, size_t cap)
{
    if (n % 2 || n / 2 > cap)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = nibble(p[i]), lo = nibble(p[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(n / 2);
}

struct hex_state {
    uint64_t upper;   /* from 02 or 04 records */
    bool ended;
};

static int record(struct hex_state *s, const uint8_t *r, int n, int line, fw_chunk_fn fn, void *ctx,
                  char *why, size_t cap)
{
    uint8_t sum = 0;
    for (int i = 0; i < n; i++)
        sum = (uint8_t)(sum + r[i]);
    if (n < 5 || r[0] != n - 5 || sum != 0) {
        snprintf(why, cap, "line %d is %s", line, n < 5 || r[0] != n - 5 ? "not a whole record" : "damaged (checksum)");
        return -1;
    }
    uint32_t offset = (uint32_t)r[1] << 8 | r[2];
    switch (r[3]) {
    case 0x00: return fn(ctx, s->upper + offset, r + 4, r[0]);
    case 0x01: s->ended = true; return 0;
    case 0x02: s->upper = ((uint64_t)r[4] << 8 | r[5]) << 4; return r[0] == 2 ? 0 : -1;
    case 0x04: s->upper = ((uint64_t)r[4] << 8 | r[5]) << 16; return r[0] == 2 ? 0 : -1;
    case 0x03:
    case 0x05: return 0;  /* start address: the vector table says it */
    }
    snprintf(why, cap, "line %d has the unknown record type %02x", line, r[3]);
    return -1;
}

int fw_hex_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, char *why, size_t cap)
{
    struct hex_state s = { 0 };
    size_t pos = 0;
    int line = 0;
    while (pos < len && !s.ended) {
        size_t end = pos;
        while (end < len && data[end] != '\n')
            end++;
        size_t stop = end;
        if (stop > pos && data[stop - 1] == '\r')
            stop--;
        line++;
        if (stop > pos) {
            uint8_t rec[5 + 255];
            int n = data[pos] == ':' ? decode_line(data + pos + 1, stop - pos - 1, rec, sizeof(rec)) : -1;
            if (n < 0) {
                snprintf(why, cap, "line %d is not an Intel HEX record", line);
                return -1;
            }
            if (record(&s, rec, n, line, fn, ctx, why, cap) < 0) {
                if (!why[0])
                    snprintf(why, cap, "line %d has a malformed address record", line);
                return -1;
            }
        }
        pos = end + 1;
    }
    if (!s.ended) {
        snprintf(why, cap, "it has no end record (the file is cut off)");
        return -1;
    }
    return 0;
}
