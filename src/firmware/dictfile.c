/* klipper.dict: the dictionary text as the build wrote it. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/image.h"
#include "firmware/readfile.h"

static const struct fw_file_kind dict_kind = {
    .noun = "Dictionary file",
    .missing_hint = "'make' in ~/klipper writes it as out/klipper.dict next to klipper.bin; give that "
                    "path, or leave the option out to skip the exact comparison.",
    .fix_hint = "give the path of the klipper.dict that 'make' wrote (usually ~/klipper/out/klipper.dict).",
    .too_big_reason = "far more than any Klipper dictionary",
    .max_bytes = FW_DICT_FILE_MAX_BYTES,
};

bool fw_json_looks_like_dict(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    bool ok = json_is_object(root) && json_is_string(json_object_get(root, "version"))
              && json_is_object(json_object_get(root, "commands"));
    json_decref(root);
    return ok;
}

int fw_dict_file_load(const char *path, struct fw_dict_file *df, struct mf_err *err)
{
    uint8_t *data;
    size_t size;
    memset(df, 0, sizeof(*df));
    if (fw_read_file(path, &dict_kind, &data, &size, err) < 0)
        return -1;
    if (!fw_json_looks_like_dict((const char *)data, size)) {
        free(data);
        return mf_fail(err, MF_E_INPUT, "Dictionary file %s is not a Klipper data dictionary (JSON "
                       "with \"version\" and \"commands\"); nothing was changed; %s", path,
                       dict_kind.fix_hint);
    }
    df->path = strdup(path);
    if (!df->path) {
        free(data);
        return mf_fail(err, MF_E_FAIL, "Out of memory while loading %s; nothing was changed.", path);
    }
    df->json = (char *)data; /* fw_read_file left a NUL after the data */
    df->json_len = size;
    return 0;
}

void fw_dict_file_free(struct fw_dict_file *df)
{
    if (!df)
        return;
    free(df->path);
    free(df->json);
    memset(df, 0, sizeof(*df));
}
