/* Reading the link address out of a Cortex-M vector table. */
#include "firmware/vectors.h"

#include <string.h>

/* Every "Bootloader offset" choice in Klipper's stm32, lpc176x and rp2040
 * Kconfig files. */
static const uint32_t klipper_offsets[] = {
    0x0, 0x800, 0x1000, 0x2000, 0x4000, 0x5000, 0x7000, 0x8000, 0x8800, 0x9000, 0xc000, 0x10000,
    0x20000, 0x20200,
};

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Where the table starts in an image placed at base. */
static uint32_t table_offset(const struct fw_mcu *m, uint32_t base)
{
    return base == m->flash_base ? m->boot_stage_bytes : 0;
}

/* A handler: a Thumb address (odd) past the core table, inside the image. */
static bool handler_fits(uint32_t v, uint32_t table, uint64_t end)
{
    return (v & 1) && (v & ~1u) >= table + FW_VECTOR_CORE_BYTES && (v & ~1u) < end;
}

bool fw_vectors_fit(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t base)
{
    uint32_t off = table_offset(m, base);
    if (m->arch != FW_ARCH_CORTEX_M || len < (size_t)off + FW_VECTOR_CORE_BYTES)
        return false;
    const uint8_t *t = img + off;
    uint32_t table = base + off;
    uint64_t end = (uint64_t)base + len;
    if (!fw_mcu_stack_ok(m, le32(t)) || !handler_fits(le32(t + 4), table, end))
        return false;
    /* The other core exceptions: a handler or a reserved zero. */
    for (size_t i = 2; i < FW_VECTOR_CORE_BYTES / 4; i++) {
        uint32_t v = le32(t + 4 * i);
        if (v && !handler_fits(v, table, end))
            return false;
    }
    return true;
}

/* Words in the code that point, as Thumb function pointers, at a function
 * prologue (push {..., lr} or push.w) when the image sits at base: many at
 * the right address, next to none at a wrong one. */
static size_t pointer_score(const uint8_t *img, size_t len, uint32_t base)
{
    size_t score = 0;
    for (size_t i = 0; i + 4 <= len; i += 4) {
        uint32_t v = le32(img + i);
        if (!(v & 1) || v - 1 < base || v - 1 - base + 4 > len)
            continue;
        size_t at = v - 1 - base;
        uint16_t op = (uint16_t)(img[at] | img[at + 1] << 8);
        if ((op & 0xff00) == 0xb500 || op == 0xe92d)
            score++;
    }
    return score;
}

static void read_words(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t base, struct fw_link *out)
{
    uint32_t off = table_offset(m, base);
    if (len >= (size_t)off + 8) {
        out->initial_sp = le32(img + off);
        out->reset = le32(img + off + 4);
    }
}

void fw_link_check(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t base, struct fw_link *out)
{
    memset(out, 0, sizeof(*out));
    read_words(m, img, len, base, out);
    if (fw_vectors_fit(m, img, len, base)) {
        out->status = FW_LINK_KNOWN;
        out->address = base;
    }
}

static void add_candidate(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t addr, struct fw_link *out)
{
    for (size_t i = 0; i < out->ncandidates; i++)
        if (out->candidates[i] == addr)
            return;
    if (out->ncandidates < FW_LINK_MAX_CANDIDATES && fw_mcu_room(m, addr) && fw_vectors_fit(m, img, len, addr))
        out->candidates[out->ncandidates++] = addr;
}

void fw_link_infer(const struct fw_mcu *m, const uint8_t *img, size_t len, const uint32_t *extra, size_t nextra,
                   struct fw_link *out)
{
    memset(out, 0, sizeof(*out));
    if (m->arch != FW_ARCH_CORTEX_M)
        return;
    for (size_t i = 0; i < sizeof(klipper_offsets) / sizeof(klipper_offsets[0]); i++)
        add_candidate(m, img, len, m->flash_base + klipper_offsets[i], out);
    for (size_t i = 0; i < nextra; i++)
        add_candidate(m, img, len, extra[i], out);
    read_words(m, img, len, out->ncandidates ? out->candidates[0] : m->flash_base, out);
    if (out->ncandidates == 0)
        return;
    if (out->ncandidates == 1) {
        out->status = FW_LINK_INFERRED;
        out->address = out->candidates[0];
        return;
    }
    size_t best = 0, best_score = 0, ties = 0;
    for (size_t i = 0; i < out->ncandidates; i++) {
        size_t s = pointer_score(img, len, out->candidates[i]);
        if (s > best_score)
            best = i, best_score = s, ties = 0;
        else if (s == best_score)
            ties++;
    }
    out->status = best_score && !ties ? FW_LINK_INFERRED : FW_LINK_AMBIGUOUS;
    if (out->status == FW_LINK_INFERRED)
        out->address = out->candidates[best];
}
