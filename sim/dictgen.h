/* The data dictionary a Klipper build for a given MCU would carry,
 * generated from the command table (command.h) and the MCU tables
 * (mcutypes.h), serialised the way buildcommands.py does: compact JSON
 * with sorted keys, then zlib level 9. */
#ifndef SIM_DICTGEN_H
#define SIM_DICTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcutypes.h"

#define SIM_DEFAULT_VERSION "v0.13.0-123-gabcdef12-sim"
#define SIM_BUILD_VERSIONS "gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: (2.40-2+18+b1) 2.40"

struct dictgen_params {
    const struct mcu_type *type;
    const char *version;   /* NULL: SIM_DEFAULT_VERSION */
    uint32_t serial_baud;  /* a UART build at this baud (0: not UART) */
    uint32_t can_frequency; /* a CAN build for this bus frequency (0: not CAN) */
    bool usb_can_bridge;   /* with can_frequency: a "USB to CAN bus bridge" build */
};

/* The JSON text (no trailing newline), malloc'ed; NULL if out of memory. */
char *dictgen_json(const struct dictgen_params *p, size_t *len);

/* zlib.compress(data, 9); 0 or -1. */
int sim_zlib_compress(const char *data, size_t len, uint8_t **out, size_t *out_len);

/* Klipper's dictionary id for an encoded (wire) message id, and back. */
int32_t dict_id_from_encoded(uint16_t encoded);
uint16_t dict_id_to_encoded(int32_t id);

#endif
