/* Finding the data dictionary inside a firmware image.
 *
 * The build stores the zlib-compressed JSON verbatim somewhere in the image
 * with no marker, so every zlib header is a candidate.  Each candidate is
 * first inflated into a small scratch window while the output is checked to
 * still look like the start of a JSON object; most false candidates die
 * within a few bytes.  Only a stream that completes this way is inflated for
 * real and parsed.  Candidates and total inflated bytes are both capped, so
 * no image can make the scan slow. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "firmware/image.h"

#define SCAN_MAX_CANDIDATES 20000
#define SCAN_OUTPUT_BUDGET ((size_t)8 << 20)    /* bytes inflated over the whole scan */
#define DICT_MAX_TEXT ((size_t)1 << 20)         /* largest dictionary text accepted (real ones: < 100 KB) */
#define TRUNCATED_MIN_TEXT 64                   /* JSON-like output needed to call a cut stream a dictionary */

enum probe_result { PROBE_REJECT, PROBE_COMPLETE, PROBE_TRUNCATED };

/* Tracks whether the inflated text can still be a JSON object: optional
 * whitespace, '{', optional whitespace, '"', then no control characters
 * other than whitespace. */
struct json_shape {
    int stage;   /* 0: before '{', 1: before first key, 2: inside */
    size_t produced;
};

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool shape_accepts(struct json_shape *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 && !is_ws(c))
            return false;
        if (s->stage < 2 && !is_ws(c)) {
            if (c != (s->stage == 0 ? '{' : '"'))
                return false;
            s->stage++;
        }
    }
    s->produced += n;
    return true;
}

static bool is_zlib_header(const uint8_t *p)
{
    /* 32 KiB window deflate; 01, 5E, 9C, DA are the four compression-level
     * flags zlib writes (Klipper uses level 9, DA). */
    return p[0] == 0x78 && (p[1] == 0x01 || p[1] == 0x5E || p[1] == 0x9C || p[1] == 0xDA);
}

/* Inflate the stream at p into a scratch window, checking its shape; report
 * the compressed length of a complete stream in *consumed. */
static enum probe_result probe(z_stream *zs, const uint8_t *p, size_t avail, size_t *consumed,
                               size_t *budget)
{
    uint8_t window[4096];
    struct json_shape shape = { 0 };
    uInt given = avail > UINT_MAX ? UINT_MAX : (uInt)avail;
    if (inflateReset(zs) != Z_OK)
        return PROBE_REJECT;
    zs->next_in = (Bytef *)p;
    zs->avail_in = given;
    for (;;) {
        zs->next_out = window;
        zs->avail_out = sizeof(window);
        int rc = inflate(zs, Z_NO_FLUSH);
        size_t got = sizeof(window) - zs->avail_out;
        if (got > *budget) {
            *budget = 0; /* spent: the scan stops here */
            return PROBE_REJECT;
        }
        *budget -= got;
        if (!shape_accepts(&shape, window, got) || shape.produced > DICT_MAX_TEXT)
            return PROBE_REJECT;
        if (rc == Z_STREAM_END) {
            *consumed = given - zs->avail_in;
            return shape.stage == 2 ? PROBE_COMPLETE : PROBE_REJECT;
        }
        if (rc == Z_BUF_ERROR && zs->avail_in == 0)
            return shape.stage == 2 && shape.produced >= TRUNCATED_MIN_TEXT ? PROBE_TRUNCATED
                                                                            : PROBE_REJECT;
        if (rc != Z_OK)
            return PROBE_REJECT;
    }
}

/* Keep the first finding of each kind; a found dictionary beats all. */
static bool note(struct fw_dict_info *info, enum fw_dict_status status, size_t offset, size_t zlen)
{
    static const int rank[] = { [FW_DICT_NONE] = 0, [FW_DICT_TRUNCATED] = 1, [FW_DICT_INVALID] = 2,
                                [FW_DICT_FOUND] = 3 };
    if (rank[status] > rank[info->status]) {
        info->status = status;
        info->offset = offset;
        info->zlen = zlen;
        return true;
    }
    return false;
}

/* A complete stream: inflate it for real and parse it; true when it is the
 * dictionary. */
static bool try_stream(const uint8_t *p, size_t zlen, size_t offset, struct fw_dict_info *info)
{
    char *text = NULL;
    size_t text_len = 0, used = 0;
    if (kl_zlib_inflate(p, zlen, &text, &text_len, &used) < 0)
        return false;
    bool found = false;
    if (fw_json_looks_like_dict(text, text_len)) {
        struct mf_err perr = { 0 };
        struct kl_dict *dict = NULL;
        if (kl_dict_parse(text, text_len, &dict, &perr) == 0) {
            info->dict = dict;
            found = note(info, FW_DICT_FOUND, offset, zlen);
        } else if (note(info, FW_DICT_INVALID, offset, zlen)) {
            snprintf(info->problem, sizeof(info->problem), "%s", perr.msg);
        }
    }
    free(text);
    return found;
}

static void fill_fields(struct fw_dict_info *info)
{
    const struct kl_dict *d = info->dict;
    info->mcu = kl_dict_const(d, "MCU");
    info->version = d->version;
    info->app = d->app;
    info->build_versions = d->build_versions;
}

int fw_find_dict(const uint8_t *data, size_t len, struct fw_dict_info *info, struct mf_err *err)
{
    return fw_find_dict_before(data, len, len, info, err);
}

int fw_find_dict_before(const uint8_t *data, size_t len, size_t max_start, struct fw_dict_info *info,
                        struct mf_err *err)
{
    memset(info, 0, sizeof(*info));
    info->status = FW_DICT_NONE;
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        return mf_fail(err, MF_E_FAIL, "Out of memory while reading the firmware image; nothing was "
                       "changed.");
    size_t budget = SCAN_OUTPUT_BUDGET;
    int candidates = 0;
    /* Candidates start in [0, end) and need their second header byte. */
    size_t end = len < 2 ? 0 : max_start < len - 1 ? max_start : len - 1;
    for (size_t off = 0; off < end && candidates < SCAN_MAX_CANDIDATES && budget; off++) {
        const uint8_t *hit = memchr(data + off, 0x78, end - off);
        if (!hit)
            break;
        off = (size_t)(hit - data);
        if (!is_zlib_header(hit))
            continue;
        candidates++;
        size_t zlen = 0;
        enum probe_result pr = probe(&zs, hit, len - off, &zlen, &budget);
        if (pr == PROBE_TRUNCATED)
            note(info, FW_DICT_TRUNCATED, off, 0);
        if (pr != PROBE_COMPLETE)
            continue;
        if (try_stream(hit, zlen, off, info))
            break;
    }
    inflateEnd(&zs);
    if (info->status == FW_DICT_FOUND)
        fill_fields(info);
    return 0;
}

void fw_dict_info_free(struct fw_dict_info *info)
{
    if (!info)
        return;
    kl_dict_free(info->dict);
    memset(info, 0, sizeof(*info));
}
