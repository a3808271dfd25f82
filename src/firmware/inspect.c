#include "firmware/inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/convert.h"

const char *fw_encoding_id(enum fw_encoding e)
{
    switch (e) {
    case FW_ENC_PLAIN: return "plain";
    case FW_ENC_ROBIN: return "mks-robin";
    case FW_ENC_CHITU: return "chitu";
    case FW_ENC_UNKNOWN: break;
    }
    return NULL;
}

static int inspect_chitu(const uint8_t *data, size_t len, struct fw_inspection *in, struct mf_err *err)
{
    struct mf_err derr = { 0 };
    in->encoding = FW_ENC_CHITU;
    if (fw_chitu_decode(data, len, &in->decoded, &in->decoded_size, &derr) < 0) {
        if (derr.code != MF_E_INPUT)
            return mf_fail(err, derr.code, "%s", derr.msg);
        snprintf(in->decode_problem, sizeof(in->decode_problem), "%s", derr.msg);
        return 0;
    }
    return fw_find_dict(in->decoded, in->decoded_size, &in->dict, err);
}

/* A copy with the Robin XOR undone (free() it); NULL when memory runs out. */
static uint8_t *robin_decoded(const uint8_t *data, size_t len, struct mf_err *err)
{
    uint8_t *copy = malloc(len);
    if (!copy) {
        mf_fail(err, MF_E_FAIL, "Out of memory while reading the firmware image; nothing was changed.");
        return NULL;
    }
    memcpy(copy, data, len);
    fw_robin_xor(copy, len);
    return copy;
}

/* The Robin window is scrambled; a dictionary that starts in or before it
 * only shows after undoing the XOR (later ones were seen by the plain scan). */
static int inspect_robin(const uint8_t *data, size_t len, struct fw_inspection *in, struct mf_err *err)
{
    uint8_t *copy = robin_decoded(data, len, err);
    if (!copy)
        return -1;
    struct fw_dict_info found;
    if (fw_find_dict_before(copy, len, FW_ROBIN_END, &found, err) < 0) {
        free(copy);
        return -1;
    }
    if (found.status != FW_DICT_FOUND) {
        fw_dict_info_free(&found);
        free(copy);
        return 0;
    }
    fw_dict_info_free(&in->dict);
    in->dict = found;
    in->encoding = FW_ENC_ROBIN;
    in->decoded = copy;
    in->decoded_size = len;
    return 0;
}

/* Halfwords Thumb code is full of: bx lr, push {..., lr}, pop {..., pc}.
 * Random or scrambled bytes hold about one in 128 of them. */
static size_t thumb_marks(const uint8_t *p, size_t n)
{
    size_t marks = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        uint16_t op = (uint16_t)(p[i] | p[i + 1] << 8);
        marks += op == 0x4770 || (op & 0xff00) == 0xb500 || (op & 0xff00) == 0xbd00;
    }
    return marks;
}

/* The image is Robin-encoded if undoing the XOR turns the window into
 * code: clearly more of its marks than the bytes as they are. */
static int robin_by_code(const uint8_t *data, size_t len, struct fw_inspection *in, struct mf_err *err)
{
    size_t end = len < FW_ROBIN_END ? len : FW_ROBIN_END;
    if (end <= FW_ROBIN_START)
        return 0;
    uint8_t *copy = robin_decoded(data, len, err);
    if (!copy)
        return -1;
    size_t raw = thumb_marks(data + FW_ROBIN_START, end - FW_ROBIN_START);
    size_t decoded = thumb_marks(copy + FW_ROBIN_START, end - FW_ROBIN_START);
    if (decoded < 2 * raw + 32) {
        free(copy);
        return 0;
    }
    in->encoding = FW_ENC_ROBIN;
    in->decoded = copy;
    in->decoded_size = len;
    return 0;
}

int fw_inspect(const uint8_t *data, size_t len, struct fw_inspection *in, struct mf_err *err)
{
    memset(in, 0, sizeof(*in));
    if (fw_chitu_has_magic(data, len))
        return inspect_chitu(data, len, in, err);
    if (fw_find_dict(data, len, &in->dict, err) < 0)
        return -1;
    if (in->dict.status == FW_DICT_FOUND) {
        in->encoding = FW_ENC_PLAIN;
        /* A dictionary past the Robin window reads the same either way: the
         * code inside the window tells. */
        if (in->dict.offset >= FW_ROBIN_END)
            return robin_by_code(data, len, in, err);
        return 0;
    }
    if (len > FW_ROBIN_START)
        return inspect_robin(data, len, in, err);
    return 0;
}

void fw_inspection_free(struct fw_inspection *in)
{
    if (!in)
        return;
    fw_dict_info_free(&in->dict);
    free(in->decoded);
    memset(in, 0, sizeof(*in));
}
