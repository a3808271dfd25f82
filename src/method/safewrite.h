/* Putting a file on a card so that the name never holds partial content:
 * write under a temporary name, read back and compare, then rename over
 * the target in one directory-sector write. */
#ifndef MF_METHOD_SAFEWRITE_H
#define MF_METHOD_SAFEWRITE_H

#include <stdint.h>

#include "fat/fat.h"
#include "method/progress.h"

#define MF_TEMP_NAME "MCUFLASH.TMP"

int mf_fat_put(struct fat_volume *vol, const char *path, const uint8_t *data, uint32_t size,
               const struct mf_progress *p, struct mf_err *err);

/* Read a whole file (up to max bytes) into a new buffer; *out is malloc'd. */
int mf_fat_get(struct fat_volume *vol, const char *path, uint32_t max, uint8_t **out, uint32_t *size,
               const struct mf_progress *p, struct mf_err *err);

/* Compare a file on the card with data; 1 equal, 0 different, -1 error. */
int mf_fat_compare(struct fat_volume *vol, const char *path, const uint8_t *data, uint32_t size,
                   const struct mf_progress *p, struct mf_err *err);

#endif
