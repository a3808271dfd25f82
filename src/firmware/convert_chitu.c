/* Chitu v6 .cbd files: header, "0x0" padding, per-block XOR keystream and a
 * word-XOR checksum. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "firmware/convert.h"

const uint8_t fw_chitu_magic[4] = { 0x44, 0x3D, 0x2D, 0x3F };

#define CHITU_CRC_SEED 0xEF3D4323u
#define CHITU_BLOCK_STEP 0x4BADu
#define INVERSE_OF_3 683   /* 3 * 683 = 2049 = 1 (mod 2048) */

static const uint8_t pad_triple[3] = { '0', 'x', '0' };

static uint32_t get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* The padding appends whole "0x0" triples until the length is a multiple of
 * 2048; since 3 is invertible mod 2048 the count is fixed by len. */
static size_t pad_triples(size_t len)
{
    size_t missing = (FW_CHITU_BLOCK - len % FW_CHITU_BLOCK) % FW_CHITU_BLOCK;
    return missing * INVERSE_OF_3 % FW_CHITU_BLOCK;
}

size_t fw_chitu_encoded_len(size_t len)
{
    return FW_CHITU_HEADER_LEN + len + 3 * pad_triples(len);
}

bool fw_chitu_has_magic(const uint8_t *data, size_t len)
{
    return len >= sizeof(fw_chitu_magic) && !memcmp(data, fw_chitu_magic, sizeof(fw_chitu_magic));
}

/* XOR with the keystream; the same call encodes and decodes. */
static void keystream_xor(uint8_t *data, size_t len, uint8_t key)
{
    for (size_t b = 0; b < len / FW_CHITU_BLOCK; b++) {
        uint8_t *blk = data + b * FW_CHITU_BLOCK;
        for (uint32_t i = 0; i < FW_CHITU_BLOCK; i++) {
            uint32_t s = (i * i + (uint32_t)b * CHITU_BLOCK_STEP) >> (i % 24);
            blk[i] ^= key ^ (uint8_t)s;
        }
    }
}

static uint32_t checksum(const uint8_t *enc, size_t len)
{
    uint32_t crc = CHITU_CRC_SEED;
    for (size_t i = 0; i + 4 <= len; i += 4)
        crc ^= get_le32(enc + i);
    return crc;
}

/* The key is the first four bytes of the MD5 of the unpadded input, read
 * big-endian. */
static int md5_key(const uint8_t *in, size_t len, uint32_t *key)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!EVP_Digest(in, len, md, &n, EVP_md5(), NULL) || n < 4)
        return -1;
    *key = get_be32(md);
    return 0;
}

int fw_chitu_encode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct mf_err *err)
{
    uint32_t key;
    if (md5_key(in, len, &key) < 0)
        return mf_fail(err, MF_E_FAIL, "MD5 is not available from the crypto library, so the Chitu "
                       "file cannot be made; nothing was changed; check the OpenSSL installation.");
    size_t total = fw_chitu_encoded_len(len);
    uint8_t *buf = malloc(total);
    if (!buf)
        return mf_fail(err, MF_E_FAIL, "Out of memory while making the Chitu file; nothing was changed.");
    uint8_t *enc = buf + FW_CHITU_HEADER_LEN;
    memcpy(enc, in, len);
    for (size_t pos = len; pos < total - FW_CHITU_HEADER_LEN; pos += 3)
        memcpy(enc + pos, pad_triple, 3);
    keystream_xor(enc, total - FW_CHITU_HEADER_LEN, (uint8_t)key);
    memcpy(buf, fw_chitu_magic, 4);
    put_le32(buf + 4, key);
    put_le32(buf + 8, checksum(enc, total - FW_CHITU_HEADER_LEN));
    *out = buf;
    *out_len = total;
    return 0;
}

/* Find the original length: the longest run of trailing "0x0" triples bounds
 * the padding, and the key (MD5 of the original) picks the length within
 * that run.  Returns padded_len when no candidate matches. */
static size_t unpadded_len(const uint8_t *data, size_t padded_len, uint32_t key)
{
    size_t run = 0;
    while (run < FW_CHITU_BLOCK - 1 && 3 * (run + 1) <= padded_len
           && !memcmp(data + padded_len - 3 * (run + 1), pad_triple, 3))
        run++;
    if (run == 0)
        return padded_len;
    size_t result = padded_len;
    EVP_MD_CTX *prefix = EVP_MD_CTX_new(), *probe = EVP_MD_CTX_new();
    size_t len = padded_len - 3 * run;
    bool ok = prefix && probe && EVP_DigestInit_ex(prefix, EVP_md5(), NULL)
              && EVP_DigestUpdate(prefix, data, len);
    for (; ok && len <= padded_len; len += 3) {
        uint8_t md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        ok = EVP_MD_CTX_copy_ex(probe, prefix) && EVP_DigestFinal_ex(probe, md, &n) && n >= 4;
        if (ok && get_be32(md) == key) {
            result = len;
            break;
        }
        ok = ok && (len == padded_len || EVP_DigestUpdate(prefix, data + len, 3));
    }
    EVP_MD_CTX_free(prefix);
    EVP_MD_CTX_free(probe);
    return result;
}

static int damaged(struct mf_err *err, const char *what)
{
    return mf_fail(err, MF_E_INPUT, "The Chitu file %s; nothing was changed; make it again from "
                   "klipper.bin.", what);
}

int fw_chitu_decode(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len, struct mf_err *err)
{
    if (!fw_chitu_has_magic(in, len))
        return mf_fail(err, MF_E_INPUT, "The file is not a Chitu .cbd file (its first bytes are not "
                       "44 3D 2D 3F); nothing was changed; give a file made for a Chitu board.");
    if (len < FW_CHITU_HEADER_LEN || (len - FW_CHITU_HEADER_LEN) % FW_CHITU_BLOCK)
        return damaged(err, "has a length that no encoder writes, so it is cut short or damaged");
    const uint8_t *enc = in + FW_CHITU_HEADER_LEN;
    size_t enc_len = len - FW_CHITU_HEADER_LEN;
    if (checksum(enc, enc_len) != get_le32(in + 8))
        return damaged(err, "fails its checksum, so it is damaged");
    uint8_t *buf = malloc(enc_len ? enc_len : 1);
    if (!buf)
        return mf_fail(err, MF_E_FAIL, "Out of memory while decoding the Chitu file; nothing was "
                       "changed.");
    uint32_t key = get_le32(in + 4);
    memcpy(buf, enc, enc_len);
    keystream_xor(buf, enc_len, (uint8_t)key);
    *out = buf;
    *out_len = unpadded_len(buf, enc_len, key);
    return 0;
}
