/* The application in the board's flash as a Cortex-M core sees it at
 * reset: word 0 the initial stack pointer, word 1 the reset handler.  What
 * a bootloader checks before starting it, and what happens when it runs. */
#ifndef SIM_APPIMAGE_H
#define SIM_APPIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flashmem.h"

/* What starting the application leads to. */
enum app_outcome {
    APP_KLIPPER,      /* a valid vector table and a Klipper dictionary */
    APP_NOT_KLIPPER,  /* it runs, but nothing in it speaks Klipper: silent */
    APP_CRASHES,      /* linked for another address (or no code at all) */
};

/* Katapult's application_check_valid(): word 0 is neither 0 nor erased. */
bool app_present(const struct sim_flash *f);

/* Start the application: for APP_KLIPPER *dict gets its dictionary
 * (malloc'ed JSON).  ram_lo..ram_top is where a stack pointer may point. */
enum app_outcome app_start(const struct sim_flash *f, uint32_t ram_lo, uint32_t ram_top, char **dict,
                           size_t *len);

/* Lay out a small image of a Klipper build linked at app_base in dst: a
 * vector table, a little code, the zlib dictionary.  -1 if it does not
 * fit in room bytes or memory runs out. */
int app_image_build(uint8_t *dst, size_t room, uint32_t app_base, uint32_t ram_top, const char *dict, size_t len);

#endif
