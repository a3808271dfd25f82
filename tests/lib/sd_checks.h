/* Checks of the host's SD code against the card model's image file. */
#ifndef MF_TEST_SD_CHECKS_H
#define MF_TEST_SD_CHECKS_H

#include <stdint.h>

#include "cardbus_model.h"
#include "sd/sd.h"

/* Reading count sectors at lba through sd gives what the image holds. */
int sd_read_matches(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count);
/* Writing count sectors of seeded data at lba through sd lands in the image. */
int sd_write_lands(struct model_rig *rig, struct sd_card *sd, uint32_t lba, uint32_t count, uint32_t seed);

#endif
