/* Text: UTF-8 <-> UTF-16 for long names, code page 437 for short names, and
 * the simple upper-casing used for case-insensitive lookups. */
#include "fat/fat_priv.h"

int utf8_to_utf16(const char *s, size_t len, uint16_t *out, uint32_t max, uint32_t *out_len)
{
    static const uint32_t min_for[4] = { 0, 0x80, 0x800, 0x10000 };
    const unsigned char *p = (const unsigned char *)s;
    uint32_t n = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t c = p[i];
        uint32_t more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (more == 9)
            return -1;
        if (more) {
            c &= 0x3Fu >> more;
            for (uint32_t k = 1; k <= more; k++) {
                if (i + k >= len || (p[i + k] & 0xC0) != 0x80)
                    return -1;
                c = c << 6 | (p[i + k] & 0x3F);
            }
            if (c < min_for[more] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return -1;
        }
        i += more + 1;
        uint32_t units = c >= 0x10000 ? 2 : 1;
        if (n + units > max)
            return -2;
        if (units == 2) {
            c -= 0x10000;
            out[n++] = (uint16_t)(0xD800 | c >> 10);
            out[n++] = (uint16_t)(0xDC00 | (c & 0x3FF));
        } else {
            out[n++] = (uint16_t)c;
        }
    }
    *out_len = n;
    return 0;
}

static size_t put_utf8(uint32_t c, char *out)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

size_t utf16_to_utf8(const uint16_t *s, uint32_t len, char *out, size_t cap)
{
    size_t n = 0;
    for (uint32_t i = 0; i < len; i++) {
        uint32_t c = s[i];
        if (c >= 0xD800 && c <= 0xDBFF && i + 1 < len && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
            c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00u);
            i++;
        } else if (c >= 0xD800 && c <= 0xDFFF) {
            c = 0xFFFD;  /* unpaired surrogate */
        }
        char buf[4];
        size_t k = put_utf8(c, buf);
        if (n + k + 1 > cap)
            break;
        for (size_t j = 0; j < k; j++)
            out[n++] = buf[j];
    }
    if (cap)
        out[n] = '\0';
    return n;
}

uint16_t fat_upcase(uint16_t c)
{
    if (c >= 'a' && c <= 'z')
        return (uint16_t)(c - 32);
    if (c < 0xE0)
        return c;
    if (c <= 0xFE)
        return c == 0xF7 ? c : (uint16_t)(c - 32);       /* Latin-1 */
    if (c == 0xFF)
        return 0x178;
    if ((c >= 0x100 && c <= 0x137) || (c >= 0x14A && c <= 0x177))
        return (uint16_t)(c & ~1u);                        /* Latin Extended-A pairs */
    if ((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E))
        return (c & 1) ? c : (uint16_t)(c - 1);
    if (c >= 0x3B1 && c <= 0x3C9 && c != 0x3C2)
        return (uint16_t)(c - 32);                         /* Greek */
    if (c == 0x3C2)
        return 0x3A3;
    if (c >= 0x430 && c <= 0x44F)
        return (uint16_t)(c - 32);                         /* Cyrillic */
    if (c >= 0x450 && c <= 0x45F)
        return (uint16_t)(c - 80);
    if (c >= 0xFF41 && c <= 0xFF5A)
        return (uint16_t)(c - 32);                         /* full-width Latin */
    return c;
}

void fat_upcase_str(uint16_t *s, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        s[i] = fat_upcase(s[i]);
}

bool name_equal_ci(const uint16_t *a, uint32_t alen, const uint16_t *b, uint32_t blen)
{
    if (alen != blen)
        return false;
    for (uint32_t i = 0; i < alen; i++)
        if (fat_upcase(a[i]) != fat_upcase(b[i]))
            return false;
    return true;
}

/* Code page 437, bytes 0x80..0xFF (short names written by other systems). */
static const uint16_t cp437_high[128] = {
    0x00C7, 0x00FC, 0x00E9, 0x00E2, 0x00E4, 0x00E0, 0x00E5, 0x00E7,
    0x00EA, 0x00EB, 0x00E8, 0x00EF, 0x00EE, 0x00EC, 0x00C4, 0x00C5,
    0x00C9, 0x00E6, 0x00C6, 0x00F4, 0x00F6, 0x00F2, 0x00FB, 0x00F9,
    0x00FF, 0x00D6, 0x00DC, 0x00A2, 0x00A3, 0x00A5, 0x20A7, 0x0192,
    0x00E1, 0x00ED, 0x00F3, 0x00FA, 0x00F1, 0x00D1, 0x00AA, 0x00BA,
    0x00BF, 0x2310, 0x00AC, 0x00BD, 0x00BC, 0x00A1, 0x00AB, 0x00BB,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556,
    0x2555, 0x2563, 0x2551, 0x2557, 0x255D, 0x255C, 0x255B, 0x2510,
    0x2514, 0x2534, 0x252C, 0x251C, 0x2500, 0x253C, 0x255E, 0x255F,
    0x255A, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256C, 0x2567,
    0x2568, 0x2564, 0x2565, 0x2559, 0x2558, 0x2552, 0x2553, 0x256B,
    0x256A, 0x2518, 0x250C, 0x2588, 0x2584, 0x258C, 0x2590, 0x2580,
    0x03B1, 0x00DF, 0x0393, 0x03C0, 0x03A3, 0x03C3, 0x00B5, 0x03C4,
    0x03A6, 0x0398, 0x03A9, 0x03B4, 0x221E, 0x03C6, 0x03B5, 0x2229,
    0x2261, 0x00B1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00F7, 0x2248,
    0x00B0, 0x2219, 0x00B7, 0x221A, 0x207F, 0x00B2, 0x25A0, 0x00A0,
};

static uint16_t sfn_char(uint8_t b, bool lower)
{
    if (b >= 0x80)
        return cp437_high[b - 0x80];
    if (lower && b >= 'A' && b <= 'Z')
        return (uint16_t)(b + 32);
    return b;
}

uint32_t sfn_to_utf16(const uint8_t *ent, bool apply_case, uint16_t *out)
{
    uint8_t nt = apply_case ? ent[12] : 0;
    uint32_t blen = 8, elen = 3, n = 0;
    while (blen && ent[blen - 1] == ' ')
        blen--;
    while (elen && ent[8 + elen - 1] == ' ')
        elen--;
    for (uint32_t i = 0; i < blen; i++) {
        uint8_t b = (i == 0 && ent[0] == 0x05) ? 0xE5 : ent[i];
        out[n++] = sfn_char(b, nt & NT_LOWER_BASE);
    }
    if (elen) {
        out[n++] = '.';
        for (uint32_t i = 0; i < elen; i++)
            out[n++] = sfn_char(ent[8 + i], nt & NT_LOWER_EXT);
    }
    return n;
}

void sfn_to_text(const uint8_t *ent, char *out, size_t cap)
{
    uint16_t u[12];
    uint32_t n = sfn_to_utf16(ent, false, u);
    utf16_to_utf8(u, n, out, cap);
}
