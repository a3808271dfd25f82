/* The MCU's identity: its dictionary text, generated for an MCU type or
 * read byte for byte from a klipper.dict. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dictgen.h"
#include "sim.h"

#define DICT_FILE_MAX (4u << 20)

static int read_dict_file(const char *path, char **json, size_t *len, struct mf_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return mf_fail(err, MF_E_INPUT, "Cannot open the dictionary %s (%s); nothing was started.", path,
                       strerror(errno));
    char *buf = malloc(DICT_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, DICT_FILE_MAX + 1, f) : 0;
    int bad = !buf || ferror(f) || n > DICT_FILE_MAX;
    fclose(f);
    if (bad) {
        free(buf);
        return mf_fail(err, MF_E_INPUT, "Cannot read the dictionary %s (unreadable or over 4 MiB); nothing was started.",
                       path);
    }
    buf[n] = '\0';
    *json = buf;
    *len = n;
    return 0;
}

int sim_identity_json(const char *mcu, const char *dict_path, const char *version, enum sim_link_kind link,
                      uint32_t baud, char **json, size_t *len, struct mf_err *err)
{
    if (dict_path) {
        if (version)
            return mf_fail(err, MF_E_USAGE,
                           "--version-string applies to --mcu only (a given dictionary carries its own version); "
                           "nothing was started.");
        return read_dict_file(dict_path, json, len, err);
    }
    const struct mcu_type *t = mcu_type_find(mcu);
    if (!t)
        return mf_fail(err, MF_E_USAGE, "Unknown MCU type '%s'; nothing was started. Known types: %s.", mcu,
                       mcu_type_names());
    bool can = link == SIM_LINK_CAN || link == SIM_LINK_USBCAN;
    struct dictgen_params p = { t, version, link == SIM_LINK_UART ? baud : 0, can ? baud : 0,
                                link == SIM_LINK_USBCAN };
    *json = dictgen_json(&p, len);
    if (!*json)
        return mf_fail(err, MF_E_FAIL, "Out of memory while generating the dictionary; nothing was started.");
    return 0;
}
