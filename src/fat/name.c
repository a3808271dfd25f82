/* New names: validity, and the short (8.3) form.
 *
 * A name that fits 8.3 exactly and is single-case in each part is stored as
 * a short entry only, with the NT case flags (firmware.bin -> FIRMWAREBIN,
 * 0x18), as FatFs and Windows do.  A name that fits but mixes case gets long
 * slots and the upper-cased short name.  Anything else gets long slots and a
 * short name with a numeric tail (~1, ~2, ...) made unique in the directory.
 */
#include "fat/fat_priv.h"

#include <stdio.h>
#include <string.h>

static bool forbidden_in_name(uint16_t c)
{
    return c < 0x20 || c == 0x7F || (c < 0x80 && strchr("\"*/:<>?\\|", (int)c));
}

/* Characters a short name may hold as they are (letters in either case). */
static bool short_char(uint16_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c < 0x80 && c > ' ' && strchr("!#$%&'()-@^_`{}~", (int)c));
}

static bool is_lower(uint16_t c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(uint16_t c) { return c >= 'A' && c <= 'Z'; }

static int invalid(struct mf_err *err, const char *name, size_t len, const char *why)
{
    return mf_fail(err, MF_E_INPUT, "The name \"%.*s\" cannot be used on a FAT card: %s; nothing was "
                   "changed; choose another name.", (int)(len > 80 ? 80 : len), name, why);
}

/* Exactly 8.3 with at most one dot?  Sets the case facts of each part. */
static bool fits_83(const uint16_t *s, uint32_t n, uint32_t *dot, bool lower[2], bool upper[2])
{
    *dot = n;
    for (uint32_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (*dot != n || i == 0)
                return false;
            *dot = i;
        } else if (!short_char(s[i])) {
            return false;
        }
    }
    if (*dot > 8 || (*dot < n && n - *dot - 1 > 3) || (*dot < n && n - *dot - 1 == 0))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        int part = i > *dot;
        lower[part] |= is_lower(s[i]);
        upper[part] |= is_upper(s[i]);
    }
    return true;
}

/* Copy one part into the short name, upper-cased; returns true if lossy. */
static bool basis_part(const uint16_t *s, uint32_t n, uint8_t *out, uint32_t room)
{
    bool lossy = false;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint16_t c = s[i];
        if (c == ' ' || c == '.') {
            lossy = true;
            continue;
        }
        if (k == room) {
            lossy = true;
            break;
        }
        if (short_char(c)) {
            out[k++] = (uint8_t)fat_upcase(c);
        } else {
            out[k++] = '_';
            lossy = true;
        }
    }
    return lossy;
}

int name_plan_make(const char *name, size_t len, struct name_plan *p, struct mf_err *err)
{
    memset(p, 0, sizeof(*p));
    int rc = utf8_to_utf16(name, len, p->lfn, LFN_MAX, &p->lfn_len);
    if (rc == -1)
        return invalid(err, name, len, "it is not valid UTF-8");
    if (rc == -2)
        return invalid(err, name, len, "it is longer than 255 characters");
    const uint16_t *s = p->lfn;
    uint32_t n = p->lfn_len;
    if (n == 0)
        return invalid(err, name, len, "it is empty");
    for (uint32_t i = 0; i < n; i++)
        if (forbidden_in_name(s[i]))
            return invalid(err, name, len, "it contains a control character or one of \" * / : < > ? \\ |");
    if (s[0] == ' ' || s[n - 1] == ' ' || s[n - 1] == '.')
        return invalid(err, name, len, "it begins or ends with a space, or ends with a dot");

    memset(p->sfn, ' ', sizeof(p->sfn));
    uint32_t dot;
    bool lower[2] = { false, false }, upper[2] = { false, false };
    if (fits_83(s, n, &dot, lower, upper)) {
        for (uint32_t i = 0; i < dot; i++)
            p->sfn[i] = (uint8_t)fat_upcase(s[i]);
        for (uint32_t i = dot + 1; i < n; i++)
            p->sfn[8 + i - dot - 1] = (uint8_t)fat_upcase(s[i]);
        if ((lower[0] && upper[0]) || (lower[1] && upper[1])) {
            p->need_lfn = true;
        } else {
            p->nt = (uint8_t)((lower[0] ? NT_LOWER_BASE : 0) | (lower[1] ? NT_LOWER_EXT : 0));
        }
        return 0;
    }
    /* Long or lossy: basis name from the part before the last dot (leading
     * dots skipped) and up to three characters after it, plus a tail. */
    uint32_t start = 0;
    while (start < n && s[start] == '.')
        start++;
    uint32_t last_dot = n;
    for (uint32_t i = start; i < n; i++)
        if (s[i] == '.')
            last_dot = i;
    basis_part(s + start, last_dot - start, p->sfn, 8);
    if (last_dot < n)
        basis_part(s + last_dot + 1, n - last_dot - 1, p->sfn + 8, 3);
    if (p->sfn[0] == ' ')
        p->sfn[0] = '_';
    p->need_lfn = true;
    p->need_tail = true;
    return 0;
}

void sfn_with_tail(const uint8_t sfn[11], uint32_t n, uint8_t out[11])
{
    char tail[12];
    int tlen = snprintf(tail, sizeof(tail), "~%u", n);
    uint32_t blen = 8;
    while (blen && sfn[blen - 1] == ' ')
        blen--;
    uint32_t keep = blen < 8u - (uint32_t)tlen ? blen : 8u - (uint32_t)tlen;
    memset(out, ' ', 8);
    memcpy(out, sfn, keep);
    memcpy(out + keep, tail, (size_t)tlen);
    memcpy(out + 8, sfn + 8, 3);
}

uint8_t sfn_checksum(const uint8_t sfn[11])
{
    uint8_t sum = 0;
    for (int i = 0; i < 11; i++)
        sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + sfn[i]);
    return sum;
}
