/* The 32-byte short directory entry. */
#include "fat/fat_priv.h"

#include <string.h>

uint32_t ent_cluster(const struct fat_volume *v, const uint8_t *e)
{
    uint32_t hi = v->type == FAT_TYPE_32 ? get16(e + 20) : 0;
    return hi << 16 | get16(e + 26);
}

void ent_set_cluster(const struct fat_volume *v, uint8_t *e, uint32_t c)
{
    put16(e + 20, v->type == FAT_TYPE_32 ? (uint16_t)(c >> 16) : 0);
    put16(e + 26, (uint16_t)c);
}

void ent_init(const struct fat_volume *v, uint8_t *e, const uint8_t sfn[11], uint8_t nt, uint8_t attr)
{
    uint16_t date, time;
    uint8_t tenth;
    fat_stamp(v, &date, &time, &tenth);
    memset(e, 0, DIRENT);
    memcpy(e, sfn, 11);
    e[11] = attr;
    e[12] = nt;
    e[13] = tenth;
    put16(e + 14, time);
    put16(e + 16, date);
    put16(e + 18, date);
    put16(e + 22, time);
    put16(e + 24, date);
}

void ent_to_public(const struct fat_volume *v, const uint8_t *sfn_ent, const uint16_t *lfn,
                   uint32_t lfn_len, struct fat_entry *out)
{
    memset(out, 0, sizeof(*out));
    if (lfn_len) {
        utf16_to_utf8(lfn, lfn_len, out->name, sizeof(out->name));
        out->has_long_name = true;
    } else {
        uint16_t u[12];
        uint32_t n = sfn_to_utf16(sfn_ent, true, u);
        utf16_to_utf8(u, n, out->name, sizeof(out->name));
    }
    sfn_to_text(sfn_ent, out->short_name, sizeof(out->short_name));
    out->attr = sfn_ent[11];
    out->size = (sfn_ent[11] & FAT_ATTR_DIRECTORY) ? 0 : get32(sfn_ent + 28);
    out->first_cluster = ent_cluster(v, sfn_ent);
    fat_time_decode(get16(sfn_ent + 24), get16(sfn_ent + 22), &out->modified);
    fat_time_decode(get16(sfn_ent + 16), get16(sfn_ent + 14), &out->created);
}
