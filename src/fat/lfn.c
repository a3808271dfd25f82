/* Long-name (VFAT) slots: 13 UTF-16 units each, stored last part first,
 * right before their short entry, all carrying its checksum. */
#include "fat/fat_priv.h"

#include <string.h>

static const uint8_t unit_offset[LFN_CHARS_PER_SLOT] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };

void lfn_reset(struct lfn_state *st)
{
    st->expect = 0;
    st->slots = 0;
}

static void store_units(struct lfn_state *st, const uint8_t *ent, uint32_t seq)
{
    for (uint32_t j = 0; j < LFN_CHARS_PER_SLOT; j++)
        st->name[(seq - 1) * LFN_CHARS_PER_SLOT + j] = get16(ent + unit_offset[j]);
}

void lfn_feed(struct lfn_state *st, const uint8_t *ent, uint32_t ordinal)
{
    uint32_t seq = ent[0] & 0x1F;
    if (ent[0] & 0x40) {
        lfn_reset(st);
        if (seq == 0 || seq > 20)
            return;
        st->slots = (uint8_t)seq;
        st->sum = ent[13];
        st->first = ordinal;
    } else if (st->expect == 0 || seq != st->expect - 1u || ent[13] != st->sum) {
        lfn_reset(st);  /* out of sequence: the name is not trusted */
        return;
    }
    store_units(st, ent, seq);
    st->expect = (uint8_t)seq;
}

uint32_t lfn_take(struct lfn_state *st, const uint8_t *sfn_ent, uint16_t *out, uint32_t *first)
{
    uint32_t len = 0;
    if (st->expect == 1 && st->sum == sfn_checksum(sfn_ent)) {
        uint32_t cap = st->slots * LFN_CHARS_PER_SLOT;
        while (len < cap && st->name[len] != 0)
            len++;
        if (len > LFN_MAX)
            len = 0;
        memcpy(out, st->name, len * sizeof(uint16_t));
        *first = st->first;
    }
    lfn_reset(st);
    return len;
}

uint32_t lfn_build(const uint16_t *name, uint32_t len, uint8_t sum, uint8_t slots[][DIRENT])
{
    uint32_t count = (len + LFN_CHARS_PER_SLOT - 1) / LFN_CHARS_PER_SLOT;
    for (uint32_t k = count; k >= 1; k--) {
        uint8_t *e = slots[count - k];
        memset(e, 0, DIRENT);
        e[0] = (uint8_t)(k | (k == count ? 0x40 : 0));
        e[11] = ATTR_LFN;
        e[13] = sum;
        for (uint32_t j = 0; j < LFN_CHARS_PER_SLOT; j++) {
            uint32_t pos = (k - 1) * LFN_CHARS_PER_SLOT + j;
            put16(e + unit_offset[j], pos < len ? name[pos] : pos == len ? 0x0000 : 0xFFFF);
        }
    }
    return count;
}
