/* A card bus that drives the SD card model in-process, for unit tests.
 *
 * SPI kind: each spi_op is one chip-select window on the model.  SDIO kind:
 * sd_* calls go straight to the model's SD-mode functions; the pipelined
 * SDIO bus also runs batches of steps (sd_batch) through a one-block
 * buffer, as Klipper's MCU does.  Faults: a chosen call can lose its reply
 * (CARDBUS_LOST) after running some of its ops; a chosen step of a batch
 * can lose its reply, and the steps after it still run. */
#ifndef MF_TEST_CARDBUS_MODEL_H
#define MF_TEST_CARDBUS_MODEL_H

#include "sd/cardbus.h"
#include "sim/card/sdcard.h"

struct cardbus_model_stats {
    uint64_t calls;         /* spi_batch or sd_* calls */
    uint64_t ops;           /* spi ops run */
    uint16_t max_op_len;    /* longest spi op seen */
    uint64_t oversize_ops;  /* ops longer than max_spi_chunk (refused) */
    uint64_t lost;          /* calls answered with CARDBUS_LOST */
    uint32_t speed_hz;      /* last sd_set_speed */
    uint64_t batches;       /* sd_batch calls */
    uint64_t replies;       /* batch steps with a reply (all but FILL) */
};

struct cardbus *cardbus_model_new(struct sdcard *card, enum cardbus_kind kind, uint16_t max_chunk);
/* An SDIO bus that pipelines (sd_batch). */
struct cardbus *cardbus_model_new_pipelined(struct sdcard *card);
void cardbus_model_free(struct cardbus *bus);

/* The k-th call from now (1 = the next) loses its reply after running its
 * first `ran` ops (-1: all of them; SD kind: the command runs unless ran is 0). */
void cardbus_model_lose(struct cardbus *bus, unsigned k, int ran);
/* The k-th batch step with a reply from now loses it (0: none); ran: the
 * step ran on the card all the same. */
void cardbus_model_lose_step(struct cardbus *bus, unsigned k, bool ran);
/* Every n-th call loses its reply after running all its ops (0: off). */
void cardbus_model_lose_every(struct cardbus *bus, unsigned n);

const struct cardbus_model_stats *cardbus_model_stats(const struct cardbus *bus);

/* A card image of deterministic bytes in $MF_TMP, the model on it and a bus
 * of the given kind to it. */
struct model_rig {
    char path[512];
    struct sdcard *card;
    struct cardbus *bus;
};

int model_rig_open(struct model_rig *rig, const char *tag, uint32_t sectors,
                   const struct sdcard_config *cfg, enum cardbus_kind kind, uint16_t max_chunk);
/* Another bus of the other (or same) kind to the rig's card. */
struct cardbus *model_rig_bus(struct model_rig *rig, enum cardbus_kind kind, uint16_t max_chunk);
void model_rig_close(struct model_rig *rig);  /* frees all, removes the image */

/* Read sectors straight from the image file, bypassing every layer. */
int model_rig_file_read(const struct model_rig *rig, uint32_t lba, uint32_t count, uint8_t *buf);
/* Deterministic pseudo-random bytes. */
void model_fill(uint8_t *buf, size_t len, uint32_t seed);

#endif
