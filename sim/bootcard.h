/* The bootloader's own card driver: it reaches the card model the way a
 * board's bootloader does, in SPI mode (CMD0 with chip select low, so the
 * card stays in SPI mode afterwards) or in SD mode through the SDIO
 * peripheral (impossible while the card is in SPI mode), and hands the
 * FAT engine a block device.  It counts what it moved for the timing
 * model. */
#ifndef SIM_BOOTCARD_H
#define SIM_BOOTCARD_H

#include <stdbool.h>
#include <stdint.h>

#include "blockdev/blockdev.h"
#include "sim/card/sdcard.h"

struct bootcard {
    struct blockdev bd;   /* first: the FAT engine sees only this */
    struct sdcard *card;
    bool sd_mode;
    bool block_addressed; /* SDHC: sector numbers, else byte addresses */
    uint16_t rca;
    uint64_t bus_bytes;   /* bytes moved on the bus (SPI: every clocked byte) */
    uint64_t blocks;      /* data blocks read or written */
};

/* Initialise the card as the bootloader does.  Fails with MF_E_CARD when
 * the card does not answer in that mode. */
int bootcard_open(struct bootcard *bc, struct sdcard *card, bool sd_mode, struct mf_err *err);

/* Time the bootloader spent on the card so far, in microseconds. */
uint64_t bootcard_time_us(const struct bootcard *bc);

#endif
