/* Firmware image files: loading, SHA-1, and the Klipper data dictionary
 * embedded in a klipper.bin; also the klipper.dict text file. */
#ifndef MF_FIRMWARE_IMAGE_H
#define MF_FIRMWARE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klipper/dict.h"
#include "util/err.h"

/* Larger than the flash of any board Klipper runs on; anything bigger is not
 * a firmware image. */
#define FW_IMAGE_MAX_BYTES ((size_t)32 << 20)
/* A klipper.dict is a few tens of KB; spi_flash reads at most 32 KiB of it. */
#define FW_DICT_FILE_MAX_BYTES ((size_t)8 << 20)

#define FW_SHA1_LEN 20

struct fw_image {
    char *path;
    uint8_t *data;
    size_t size;
    uint8_t sha1[FW_SHA1_LEN];
    char sha1_hex[2 * FW_SHA1_LEN + 1];
};

/* Read a whole firmware file.  Missing, empty, unreadable, directory and
 * oversized files fail with MF_E_INPUT and a sentence naming the path. */
int fw_image_load(const char *path, struct fw_image *img, struct mf_err *err);
/* Wrap bytes already in memory, taking them: they are freed with the
 * image, or at once if this fails. */
int fw_image_adopt(const char *name, uint8_t *data, size_t size, struct fw_image *img, struct mf_err *err);
void fw_image_free(struct fw_image *img);

/* SHA-1 through libcrypto; hex is lower case and NUL-terminated. */
int fw_sha1(const uint8_t *data, size_t len, uint8_t out[FW_SHA1_LEN]);
void fw_hex(const uint8_t *bytes, size_t n, char *hex);

enum fw_dict_status {
    FW_DICT_NONE,      /* no zlib stream in the image inflates to a dictionary */
    FW_DICT_FOUND,     /* dict is set */
    FW_DICT_TRUNCATED, /* a stream starting like a dictionary runs past the end of the image */
    FW_DICT_INVALID,   /* a dictionary was found but could not be parsed (reason in .problem) */
};

struct fw_dict_info {
    enum fw_dict_status status;
    size_t offset;      /* where the zlib stream starts in the scanned bytes */
    size_t zlen;        /* its compressed length (0 if truncated) */
    struct kl_dict *dict;   /* owned; set only when FOUND */
    /* Borrowed from dict (NULL if absent): */
    const char *mcu, *version, *app, *build_versions;
    char problem[sizeof(((struct mf_err *)0)->msg)]; /* why an INVALID dictionary was rejected */
};

/* Look for the zlib-compressed dictionary anywhere in data.  Never fails on
 * content: the outcome is in info->status.  Returns -1 only when memory runs
 * out.  The work is bounded for any input. */
int fw_find_dict(const uint8_t *data, size_t len, struct fw_dict_info *info, struct mf_err *err);
/* The same, for streams starting before max_start only (they may run past it). */
int fw_find_dict_before(const uint8_t *data, size_t len, size_t max_start, struct fw_dict_info *info,
                        struct mf_err *err);
void fw_dict_info_free(struct fw_dict_info *info);

/* A klipper.dict file: the uncompressed JSON text, kept exactly as written so
 * it can be compared byte for byte with what a board sends.  It must be a JSON
 * object with "version" and "commands". */
struct fw_dict_file {
    char *path;
    char *json;   /* NUL-terminated for convenience; json_len excludes the NUL */
    size_t json_len;
};

int fw_dict_file_load(const char *path, struct fw_dict_file *df, struct mf_err *err);
void fw_dict_file_free(struct fw_dict_file *df);

/* True if text is a JSON object carrying "version" (string) and "commands"
 * (object): the shape of every Klipper data dictionary. */
bool fw_json_looks_like_dict(const char *text, size_t len);

#endif
