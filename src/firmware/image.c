#include "firmware/image.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/readfile.h"

static const struct fw_file_kind firmware_kind = {
    .noun = "Firmware file",
    .missing_hint = "build it with 'make' in ~/klipper, or check the path.",
    .fix_hint = "give the path of the klipper.bin that 'make' wrote (usually ~/klipper/out/klipper.bin).",
    .too_big_reason = "more than any board's flash holds",
    .max_bytes = FW_IMAGE_MAX_BYTES,
};

int fw_sha1(const uint8_t *data, size_t len, uint8_t out[FW_SHA1_LEN])
{
    unsigned int n = 0;
    if (!EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) || n != FW_SHA1_LEN)
        return -1;
    return 0;
}

void fw_hex(const uint8_t *bytes, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[bytes[i] >> 4];
        hex[2 * i + 1] = digits[bytes[i] & 15];
    }
    hex[2 * n] = '\0';
}

int fw_image_adopt(const char *name, uint8_t *data, size_t size, struct fw_image *img, struct mf_err *err)
{
    memset(img, 0, sizeof(*img));
    img->path = strdup(name);
    img->data = data;
    img->size = size;
    if (!img->path) {
        fw_image_free(img);
        return mf_fail(err, MF_E_FAIL, "Out of memory while loading %s; nothing was changed.", name);
    }
    if (fw_sha1(data, size, img->sha1) < 0) {
        fw_image_free(img);
        return mf_fail(err, MF_E_FAIL, "SHA-1 is not available from the crypto library, so %s "
                       "cannot be checked; nothing was changed; check the OpenSSL installation.", name);
    }
    fw_hex(img->sha1, FW_SHA1_LEN, img->sha1_hex);
    return 0;
}

int fw_image_load(const char *path, struct fw_image *img, struct mf_err *err)
{
    uint8_t *data;
    size_t size;
    memset(img, 0, sizeof(*img));
    if (fw_read_file(path, &firmware_kind, &data, &size, err) < 0)
        return -1;
    return fw_image_adopt(path, data, size, img, err);
}

void fw_image_free(struct fw_image *img)
{
    if (!img)
        return;
    free(img->path);
    free(img->data);
    memset(img, 0, sizeof(*img));
}
