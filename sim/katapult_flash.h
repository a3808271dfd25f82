/* Katapult's flash driver on the virtual board: the block-write rules of
 * src/stm32/flash.c (and lpc176x/flash.c) on the board's flash bytes, and
 * how long a real chip takes to erase and program (datasheet typicals). */
#ifndef SIM_KATAPULT_FLASH_H
#define SIM_KATAPULT_FLASH_H

#include <stdint.h>

#include "flashmem.h"

#define KATAPULT_BLOCK_SIZE 64

struct flash_erase_time {
    uint32_t size;    /* bytes of the erase unit */
    uint32_t us;      /* typical time to erase it */
};

/* One chip family's flash, as Katapult's driver sees it. */
struct flash_family {
    const char *name;       /* "stm32f4", ... */
    const char *mcu_prefix; /* matched against the dictionary's MCU */
    uint32_t katapult_start_offset; /* Katapult's default application start, from the flash base */
    /* The erase unit (page or sector) holding offset off of a chip with
     * flash_size bytes. */
    uint32_t (*unit_size)(uint32_t off, uint32_t flash_size);
    struct flash_erase_time erase[3]; /* by unit size; the last entry is used for larger units */
    uint32_t program_bytes; /* the unit the chip programs at once */
    uint32_t program_ns;    /* typical time for one such unit */
};

/* The family of an MCU; NULL if the simulator has none for it. */
const struct flash_family *flash_family_for(const char *mcu);

/* What a block write did (for status and timing). */
struct flash_write_stats {
    uint64_t erases;
    uint32_t page_writes;  /* blocks written at the start of a page: SEND_EOF's count */
    uint64_t busy_ns;      /* erase and program time spent */
    bool programmed;       /* the block was programmed (not refused, not a retransmission) */
};

/* flash_write_block() of Katapult: 0 (written, or an identical block
 * again), -1 misaligned or outside the flash, -2 a block in the middle of
 * a page that is not erased ("out of order"), -3 the read-back after
 * programming differs.  flip_at >= 0 makes that byte of the block come out
 * of programming with one bit flipped, as a bad cell would. */
int flash_write_block(struct sim_flash *f, const struct flash_family *fam, uint32_t addr, const uint8_t *data,
                      int flip_at, struct flash_write_stats *st);

/* Read a block (erased or outside the flash: 0xff). */
void flash_read_block(const struct sim_flash *f, uint32_t addr, uint8_t *out);

#endif
