/* Firmware file formats: a raw binary (klipper.bin), an ELF executable
 * (klipper.elf), Intel HEX and UF2.  Everything but a raw binary is turned
 * into one: the bytes from the lowest address written to the highest, gaps
 * filled with zeros, as 'objcopy -O binary' does. */
#ifndef MF_FIRMWARE_FORMAT_H
#define MF_FIRMWARE_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum fw_format {
    FW_FORMAT_BIN,
    FW_FORMAT_ELF,
    FW_FORMAT_HEX,
    FW_FORMAT_UF2,
};

/* "bin", "elf", "hex", "uf2". */
const char *fw_format_id(enum fw_format f);
/* From the first bytes; anything not recognised is a raw binary. */
enum fw_format fw_format_detect(const uint8_t *data, size_t len);

/* A memory image and the address of its first byte. */
struct fw_binary {
    uint8_t *data;       /* owned */
    size_t size;
    uint32_t base;
    uint32_t uf2_family; /* UF2: the family id its blocks carry, 0 if none */
};

/* Convert an ELF, HEX or UF2 file.  A file that is damaged, holds nothing to
 * flash, or spans more than FW_IMAGE_MAX_BYTES fails with MF_E_INPUT and a
 * sentence naming name and the problem (advice is the caller's). */
int fw_to_binary(enum fw_format f, const char *name, const uint8_t *data, size_t len,
                 struct fw_binary *out, struct mf_err *err);
void fw_binary_free(struct fw_binary *b);

/* The readers behind fw_to_binary: each reports every chunk it finds. */
typedef int (*fw_chunk_fn)(void *ctx, uint64_t addr, const uint8_t *bytes, size_t n);
int fw_elf_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, char *why, size_t cap);
int fw_hex_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, char *why, size_t cap);
int fw_uf2_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, uint32_t *family, char *why,
                size_t cap);

#define FW_UF2_BLOCK 512
#define FW_UF2_FAMILY_RP2040 0xe48bff56u

#endif
