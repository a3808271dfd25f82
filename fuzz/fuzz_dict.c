/* Arbitrary bytes into the dictionary parser (as JSON text), the firmware
 * image scanner and inspector (as an image), and the Chitu codec; checks
 * that a dictionary compressed into an image is found intact and that Chitu
 * decoding undoes encoding. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "firmware/convert.h"
#include "firmware/image.h"
#include "firmware/inspect.h"
#include "klipper/dict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when the bytes are a usable dictionary. */
static bool parse_as_json(const uint8_t *data, size_t size)
{
    struct kl_dict *d = NULL;
    struct mf_err err = { 0 };
    if (kl_dict_parse((const char *)data, size, &d, &err) < 0)
        return false;
    kl_dict_const(d, "MCU");
    kl_dict_command(d, "identify");
    kl_dict_free(d);
    return fw_json_looks_like_dict((const char *)data, size);
}

static void scan_as_image(const uint8_t *data, size_t size)
{
    struct fw_inspection in;
    if (fw_inspect(data, size, &in, NULL) == 0)
        fw_inspection_free(&in);
}

/* Compress the text into a small image.  A dictionary must be found there,
 * intact; anything else found can only be a stream nested in the text (which
 * stored blocks copy verbatim). */
static void embed_and_find(const uint8_t *text, size_t size, bool is_dict)
{
    uLongf zcap = compressBound(size);
    size_t prefix = 7;
    uint8_t *img = malloc(prefix + zcap + 5);
    memset(img, 0x78, prefix);
    if (compress2(img + prefix, &zcap, text, size, 9) != Z_OK)
        abort();
    memset(img + prefix + zcap, 0xDA, 5);
    struct fw_dict_info info;
    if (fw_find_dict(img, prefix + zcap + 5, &info, NULL) < 0)
        abort();
    if (is_dict) {
        if (info.status != FW_DICT_FOUND || info.offset != prefix || info.zlen != zcap ||
            info.dict->json_len != size || memcmp(info.dict->json, text, size))
            abort();
    } else if (info.status == FW_DICT_FOUND && info.offset <= prefix) {
        abort();
    }
    fw_dict_info_free(&info);
    free(img);
}

static void chitu_round_trip(const uint8_t *data, size_t size)
{
    uint8_t *enc = NULL, *dec = NULL;
    size_t enc_len = 0, dec_len = 0;
    if (fw_chitu_encode(data, size, &enc, &enc_len, NULL) < 0)
        abort();
    if (fw_chitu_decode(enc, enc_len, &dec, &dec_len, NULL) < 0 || dec_len != size ||
        memcmp(dec, data, size))
        abort();
    free(enc);
    free(dec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bool is_dict = parse_as_json(data, size);
    scan_as_image(data, size);
    embed_and_find(data, size, is_dict);
    if (size <= 8192)
        chitu_round_trip(data, size);
    return 0;
}
