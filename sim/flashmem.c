/* The board's flash memory and its optional state file (JSON: the
 * dictionary text, the remembered name, counters, and the application's
 * bytes in hex up to the last programmed one). */
#include "flashmem.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "appimage.h"
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

static int hex_nibble(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The application bytes of a state file; false if malformed or too long. */
static bool load_app(struct sim_flash *f, const char *hex, size_t len)
{
    uint32_t room = f->mem_base + f->mem_size - f->app_base;
    if (len % 2 || len / 2 > room)
        return false;
    for (size_t i = 0; i < len; i += 2) {
        int hi = hex_nibble(hex[i]), lo = hex_nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        f->mem[f->app_base - f->mem_base + i / 2] = (uint8_t)(hi << 4 | lo);
    }
    return true;
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
    json_t *app = json_object_get(root, "app");
    int rc = 0;
    if (!json_is_object(root) || !(json_is_string(dict) || json_is_null(dict)) || !last || !sha1 ||
        strlen(last) >= sizeof(f->last_name) || strlen(sha1) >= sizeof(f->image_sha1) ||
        !json_is_integer(flashes) || json_integer_value(flashes) < 0 || !json_is_integer(size) ||
        json_integer_value(size) < 0 || json_integer_value(size) > UINT32_MAX) {
        rc = bad_state(path, "a field is missing or has the wrong type", err);
    } else if (app && (!json_is_string(app) || !load_app(f, json_string_value(app), json_string_length(app)))) {
        rc = bad_state(path, "its application bytes are not hex or do not fit the flash", err);
    } else if (set_dict(f, json_string_value(dict), json_string_length(dict)) < 0) {
        rc = mf_fail(err, MF_E_FAIL, "Out of memory while reading %s; nothing was started.", path);
    } else {
        snprintf(f->last_name, sizeof(f->last_name), "%s", last);
        snprintf(f->image_sha1, sizeof(f->image_sha1), "%s", sha1);
        f->flashes = (uint64_t)json_integer_value(flashes);
        f->image_size = (uint32_t)json_integer_value(size);
        if (!app && f->dict) /* written before the flash held bytes */
            app_image_build(f->mem + (f->app_base - f->mem_base), f->mem_size - (f->app_base - f->mem_base),
                            f->app_base, f->ram_top, f->dict, f->dict_len);
    }
    json_decref(root);
    return rc;
}

int flash_init(struct sim_flash *f, const char *path, const struct flash_layout *layout, const char *dict,
               size_t len, struct mf_err *err)
{
    memset(f, 0, sizeof(*f));
    f->path = path;
    f->mem_base = layout->base;
    f->mem_size = layout->size;
    f->app_base = layout->app_base;
    f->ram_top = layout->ram_top;
    if (f->app_base < f->mem_base || f->app_base - f->mem_base >= f->mem_size)
        return mf_fail(err, MF_E_USAGE, "The application address 0x%08x is outside the flash (0x%08x, %u KiB); "
                       "nothing was started.", f->app_base, f->mem_base, f->mem_size / 1024);
    f->mem = malloc(f->mem_size);
    if (!f->mem)
        return mf_fail(err, MF_E_FAIL, "Out of memory for the flash; nothing was started.");
    memset(f->mem, 0xff, f->mem_size);
    if (path && access(path, F_OK) == 0)
        return load_state(f, path, err);
    if (layout->empty)
        return 0;
    if (set_dict(f, dict, len) < 0)
        return mf_fail(err, MF_E_FAIL, "Out of memory; nothing was started.");
    uint32_t off = f->app_base - f->mem_base;
    if (app_image_build(f->mem + off, f->mem_size - off, f->app_base, f->ram_top, dict, len) < 0)
        return mf_fail(err, MF_E_FAIL, "The firmware's dictionary does not fit the flash; nothing was started.");
    return 0;
}

void flash_free(struct sim_flash *f)
{
    free(f->dict);
    f->dict = NULL;
    free(f->mem);
    f->mem = NULL;
}

uint32_t flash_app_extent(const struct sim_flash *f)
{
    uint32_t off = f->app_base - f->mem_base, n = f->mem_size - off;
    while (n && f->mem[off + n - 1] == 0xff)
        n--;
    return n;
}

static void note_image(struct sim_flash *f, const uint8_t *image, size_t size)
{
    uint8_t sha1[FW_SHA1_LEN];
    if (fw_sha1(image, size, sha1) == 0)
        fw_hex(sha1, FW_SHA1_LEN, f->image_sha1);
    else
        f->image_sha1[0] = '\0';
    f->image_size = (uint32_t)size;
}

int flash_adopt(struct sim_flash *f, const char *dict, size_t dict_len)
{
    if (set_dict(f, dict, dict_len) < 0)
        return -1;
    note_image(f, f->mem + (f->app_base - f->mem_base), flash_app_extent(f));
    return 0;
}

int flash_program(struct sim_flash *f, const char *dict, size_t dict_len, const uint8_t *image, size_t size)
{
    if (set_dict(f, dict, dict_len) < 0)
        return -1;
    uint32_t off = f->app_base - f->mem_base, room = f->mem_size - off;
    memset(f->mem + off, 0xff, room);
    memcpy(f->mem + off, image, size < room ? size : room);
    note_image(f, image, size);
    f->flashes++;
    return 0;
}

int flash_save(const struct sim_flash *f, struct mf_err *err)
{
    if (!f->path)
        return 0;
    uint32_t extent = flash_app_extent(f);
    char *hex = malloc((size_t)extent * 2 + 1);
    if (!hex)
        return mf_fail(err, MF_E_FAIL, "Out of memory saving the flash state to %s.", f->path);
    fw_hex(f->mem + (f->app_base - f->mem_base), extent, hex);
    json_t *root = json_pack("{s:o,s:s,s:I,s:I,s:s,s:s}", "dict",
                             f->dict ? json_stringn(f->dict, f->dict_len) : json_null(), "last_name", f->last_name,
                             "flashes", (json_int_t)f->flashes, "image_size", (json_int_t)f->image_size,
                             "image_sha1", f->image_sha1, "app", hex);
    free(hex);
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
