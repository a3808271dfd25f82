/* Vendor encodings a board's bootloader expects instead of a plain
 * klipper.bin: MKS Robin (XOR over a fixed window) and Chitu v6 (.cbd). */
#ifndef MF_FIRMWARE_CONVERT_H
#define MF_FIRMWARE_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* MKS Robin: bytes [320, min(31040, len)) are XORed with a 32-byte key
 * indexed by position & 31.  The same call encodes and decodes. */
#define FW_ROBIN_START 320
#define FW_ROBIN_END 31040
void fw_robin_xor(uint8_t *data, size_t len);

/* Chitu v6 .cbd: a 12-byte header (magic 44 3D 2D 3F, key, checksum), then
 * the input padded with "0x0" triples to a multiple of 2048 bytes and XORed
 * with a keystream. */
#define FW_CHITU_HEADER_LEN 12
#define FW_CHITU_BLOCK 2048
extern const uint8_t fw_chitu_magic[4];

/* Size of the encoding of len input bytes. */
size_t fw_chitu_encoded_len(size_t len);
/* Encode into a new buffer (free() it).  Fails only when memory or MD5 is
 * unavailable. */
int fw_chitu_encode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct mf_err *err);
/* True if data starts with the Chitu magic. */
bool fw_chitu_has_magic(const uint8_t *data, size_t len);
/* Check magic, length and checksum, then decode into a new buffer.  The
 * padding is removed when the key (MD5 of the original) identifies the
 * original length, as it does for every file fw_chitu_encode writes; files
 * from other encoders decode with their padding.  Fails with MF_E_INPUT. */
int fw_chitu_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct mf_err *err);

#endif
