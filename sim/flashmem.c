/* The board's flash memory and its optional state file (JSON: the
 * dictionary text, the remembered name, counters). */
#include "flashmem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "firmware/image.h"

static int set_dict(struct sim_flash *f, const char *dict, size_t len)
{
    char *copy = NULL;
    if (dict) {
        copy = malloc(len + 1);
        if (!copy)
            return -1;
        memcpy(copy, dict, len);
        copy[len] = '\0';
    }
    free(f->dict);
    f->dict = copy;
    f->dict_len = dict ? len : 0;
    return 0;
}

static int bad_state(const char *path, const char *why, struct mf_err *err)
{
    return mf_fail(err, MF_E_INPUT,
                   "The flash state file %s is not usable (%s); nothing was started. Remove it to start "
                   "with the board's original firmware.", path, why);
}

static int load_state(struct sim_flash *f, const char *path, struct mf_err *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bad_state(path, jerr.text, err);
    json_t *dict = json_object_get(root, "dict");
    const char *last = json_string_value(json_object_get(root, "last_name"));
    const char *sha1 = json_string_value(json_object_get(root, "image_sha1"));
    json_t *flashes = json_object_get(root, "flashes"), *size = json_object_get(root, "image_size");
    int rc = 0;
    if (!json_is_object(root) || !(json_is_string(dict) || json_is_null(dict)) || !last || !sha1 ||
        strlen(last) >= sizeof(f->last_name) || strlen(sha1) >= sizeof(f->image_sha1) ||
        !json_is_integer(flashes) || json_integer_value(flashes) < 0 || !json_is_integer(size) ||
        json_integer_value(size) < 0 || json_integer_value(size) > UINT32_MAX) {
        rc = bad_state(path, "a field is missing or has the wrong type", err);
    } else if (set_dict(f, json_string_value(dict), json_string_length(dict)) < 0) {
        rc = mf_fail(err, MF_E_FAIL, "Out of memory while reading %s; nothing was started.", path);
    } else {
        snprintf(f->last_name, sizeof(f->last_name), "%s", last);
        snprintf(f->image_sha1, sizeof(f->image_sha1), "%s", sha1);
        f->flashes = (uint64_t)json_integer_value(flashes);
        f->image_size = (uint32_t)json_integer_value(size);
    }
    json_decref(root);
    return rc;
}

int flash_init(struct sim_flash *f, const char *path, const char *dict, size_t len, struct mf_err *err)
{
    memset(f, 0, sizeof(*f));
    f->path = path;
    if (path && access(path, F_OK) == 0)
        return load_state(f, path, err);
    if (set_dict(f, dict, len) < 0)
        return mf_fail(err, MF_E_FAIL, "Out of memory; nothing was started.");
    return 0;
}

void flash_free(struct sim_flash *f)
{
    free(f->dict);
    f->dict = NULL;
}

int flash_program(struct sim_flash *f, const char *dict, size_t dict_len, const uint8_t *image, size_t size)
{
    if (set_dict(f, dict, dict_len) < 0)
        return -1;
    uint8_t sha1[FW_SHA1_LEN];
    if (fw_sha1(image, size, sha1) == 0)
        fw_hex(sha1, FW_SHA1_LEN, f->image_sha1);
    else
        f->image_sha1[0] = '\0';
    f->image_size = (uint32_t)size;
    f->flashes++;
    return 0;
}

int flash_save(const struct sim_flash *f, struct mf_err *err)
{
    if (!f->path)
        return 0;
    json_t *root = json_pack("{s:o,s:s,s:I,s:I,s:s}", "dict",
                             f->dict ? json_stringn(f->dict, f->dict_len) : json_null(), "last_name", f->last_name,
                             "flashes", (json_int_t)f->flashes, "image_size", (json_int_t)f->image_size,
                             "image_sha1", f->image_sha1);
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", f->path);
    /* Written aside and renamed, so a crash leaves the old state or the new. */
    int rc = root ? json_dump_file(root, tmp, JSON_COMPACT | JSON_SORT_KEYS) : -1;
    json_decref(root);
    if (rc < 0 || rename(tmp, f->path) < 0) {
        unlink(tmp);
        return mf_fail(err, MF_E_FAIL, "Could not save the flash state to %s (%s); the board runs the new "
                       "firmware but a restart will forget it.", f->path, strerror(errno));
    }
    return 0;
}
