/* Reading a whole input file with one clear sentence for each way it can be
 * unusable.  Internal to the firmware layer. */
#ifndef MF_FIRMWARE_READFILE_H
#define MF_FIRMWARE_READFILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct fw_file_kind {
    const char *noun;          /* "Firmware file" */
    const char *missing_hint;  /* what to do when it does not exist */
    const char *fix_hint;      /* what to do when it is empty, a directory or too big */
    const char *too_big_reason; /* why max_bytes is the limit */
    size_t max_bytes;
};

/* Read all of path into a new buffer (one spare NUL byte after the data).
 * Fails with MF_E_INPUT. */
int fw_read_file(const char *path, const struct fw_file_kind *kind, uint8_t **data, size_t *size,
                 struct mf_err *err);

#endif
