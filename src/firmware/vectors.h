/* The address an image was linked for, read from its Cortex-M vector
 * table: word 0 is the initial stack pointer (in RAM), word 1 the reset
 * handler (a Thumb address inside the image).  An image linked for another
 * address than the one its bootloader starts jumps into the wrong code at
 * its first instruction. */
#ifndef MF_FIRMWARE_VECTORS_H
#define MF_FIRMWARE_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "firmware/mcu.h"

/* The 16 entries of the core exceptions every Cortex-M table has. */
#define FW_VECTOR_CORE_BYTES 64
#define FW_LINK_MAX_CANDIDATES 8

enum fw_link_status {
    FW_LINK_NO_VECTORS, /* no vector table for this MCU at any address tried */
    FW_LINK_KNOWN,      /* the file said where it goes (ELF, HEX, UF2) and the table agrees */
    FW_LINK_INFERRED,   /* one address fits the table (and the code's pointers) */
    FW_LINK_AMBIGUOUS,  /* several addresses fit equally: candidates[] */
};

struct fw_link {
    enum fw_link_status status;
    uint32_t address;        /* KNOWN, INFERRED */
    uint32_t candidates[FW_LINK_MAX_CANDIDATES];
    size_t ncandidates;
    uint32_t initial_sp, reset; /* as read at the start of the table (0 if the image is too short) */
};

/* True if img, placed at base, starts (after any boot stage) with a vector
 * table whose stack pointer is in m's RAM and whose handlers lie in img. */
bool fw_vectors_fit(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t base);

/* The link address of a raw image for m: tried at every bootloader offset
 * Klipper offers and at extra[0..nextra) (the boards' addresses). */
void fw_link_infer(const struct fw_mcu *m, const uint8_t *img, size_t len, const uint32_t *extra, size_t nextra,
                   struct fw_link *out);
/* The same for an image whose file gave its address: KNOWN if the table fits
 * there, else NO_VECTORS. */
void fw_link_check(const struct fw_mcu *m, const uint8_t *img, size_t len, uint32_t base, struct fw_link *out);

#endif
