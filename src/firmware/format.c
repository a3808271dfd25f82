/* Recognising a firmware file's format and laying out what its readers
 * report as one binary image. */
#include "firmware/format.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/image.h"

const char *fw_format_id(enum fw_format f)
{
    switch (f) {
    case FW_FORMAT_ELF: return "elf";
    case FW_FORMAT_HEX: return "hex";
    case FW_FORMAT_UF2: return "uf2";
    case FW_FORMAT_BIN: break;
    }
    return "bin";
}

static bool is_hex_digit(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

/* ":10" then hex digits up to the end of the first line. */
static bool looks_like_hex(const uint8_t *data, size_t len)
{
    if (len < 11 || data[0] != ':')
        return false;
    size_t i = 1;
    while (i < len && is_hex_digit(data[i]))
        i++;
    return i >= 11 && (i == len || data[i] == '\r' || data[i] == '\n');
}

enum fw_format fw_format_detect(const uint8_t *data, size_t len)
{
    if (len >= 4 && !memcmp(data, "\x7f" "ELF", 4))
        return FW_FORMAT_ELF;
    if (len >= 8 && !memcmp(data, "UF2\n\x57\x51\x5d\x9e", 8))
        return FW_FORMAT_UF2;
    if (looks_like_hex(data, len))
        return FW_FORMAT_HEX;
    return FW_FORMAT_BIN;
}

/* Pass one finds the lowest and highest address, pass two copies. */
struct layout {
    uint64_t lo, hi;     /* [lo, hi) */
    uint8_t *out;        /* NULL in pass one */
};

static int measure(void *ctx, uint64_t addr, const uint8_t *bytes, size_t n)
{
    struct layout *l = ctx;
    if (!n)
        return 0;
    if (addr < l->lo)
        l->lo = addr;
    if (addr + n > l->hi)
        l->hi = addr + n;
    return 0;
}

static int place(void *ctx, uint64_t addr, const uint8_t *bytes, size_t n)
{
    struct layout *l = ctx;
    memcpy(l->out + (addr - l->lo), bytes, n);
    return 0;
}

static int walk(enum fw_format f, const uint8_t *data, size_t len, fw_chunk_fn fn, struct layout *l,
                uint32_t *family, char *why, size_t cap)
{
    switch (f) {
    case FW_FORMAT_ELF: return fw_elf_walk(data, len, fn, l, why, cap);
    case FW_FORMAT_HEX: return fw_hex_walk(data, len, fn, l, why, cap);
    case FW_FORMAT_UF2: return fw_uf2_walk(data, len, fn, l, family, why, cap);
    case FW_FORMAT_BIN: break;
    }
    snprintf(why, cap, "it is a raw binary already");
    return -1;
}

int fw_to_binary(enum fw_format f, const char *name, const uint8_t *data, size_t len,
                 struct fw_binary *out, struct mf_err *err)
{
    memset(out, 0, sizeof(*out));
    char why[256] = "";
    struct layout l = { .lo = UINT64_MAX, .hi = 0 };
    if (walk(f, data, len, measure, &l, &out->uf2_family, why, sizeof(why)) < 0)
        return mf_fail(err, MF_E_INPUT, "%s is not a usable %s file: %s.", name, fw_format_id(f), why);
    if (l.hi <= l.lo)
        return mf_fail(err, MF_E_INPUT, "%s is a %s file with nothing to flash in it.", name, fw_format_id(f));
    if (l.hi > (uint64_t)UINT32_MAX + 1 || l.hi - l.lo > FW_IMAGE_MAX_BYTES)
        return mf_fail(err, MF_E_INPUT, "%s places data from 0x%llx to 0x%llx, more than any flash holds "
                       "in one piece (RAM contents or debug data, not a flash image).", name,
                       (unsigned long long)l.lo, (unsigned long long)l.hi);
    out->size = (size_t)(l.hi - l.lo);
    out->base = (uint32_t)l.lo;
    out->data = calloc(1, out->size);
    if (!out->data)
        return mf_fail(err, MF_E_FAIL, "Out of memory converting %s.", name);
    l.out = out->data;
    walk(f, data, len, place, &l, &out->uf2_family, why, sizeof(why));
    return 0;
}

void fw_binary_free(struct fw_binary *b)
{
    if (!b)
        return;
    free(b->data);
    memset(b, 0, sizeof(*b));
}
