#include "sd_checks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sd_read_matches(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count)
{
    uint8_t *got = malloc((size_t)count * 512), *want = malloc((size_t)count * 512);
    struct mf_err err;
    int ok = sd_read_sectors(sd, lba, count, got, &err) == 0 &&
             model_rig_file_read(rig, lba, count, want) == 0 &&
             memcmp(got, want, (size_t)count * 512) == 0;
    free(got);
    free(want);
    return ok;
}

int sd_write_lands(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count,
                       uint32_t seed)
{
    uint8_t *data = malloc((size_t)count * 512), *file = malloc((size_t)count * 512);
    model_fill(data, (size_t)count * 512, seed);
    struct mf_err err;
    int ok = sd_write_sectors(sd, lba, count, data, &err) == 0;
    if (!ok)
        fprintf(stderr, "  write %u+%u: %s\n", lba, count, err.msg);
    ok = ok && model_rig_file_read(rig, lba, count, file) == 0 &&
         memcmp(file, data, (size_t)count * 512) == 0;
    free(data);
    free(file);
    return ok;
}
