/* MKS Robin and Chitu encodings, checked against known answers and against
 * a literal re-reading of the format written here from its description. */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "firmware/convert.h"

static uint32_t rng = 0x12345678;

static uint8_t next_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (uint8_t)(rng >> 11);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = next_byte();
}

/* The Robin key as published with the format. */
static const uint8_t robin_key[32] = {
    0xA3, 0xBD, 0xAD, 0x0D, 0x41, 0x11, 0xBB, 0x8D, 0xDC, 0x80, 0x2D, 0xD0, 0xD2, 0xC4, 0x9B, 0x1E,
    0x26, 0xEB, 0xE3, 0x33, 0x4A, 0x15, 0xE4, 0x0A, 0xB3, 0xB1, 0x3C, 0x93, 0xBB, 0xAF, 0xF7, 0x3E,
};

static void test_robin_known_answer(void)
{
    uint8_t buf[400] = { 0 };
    fw_robin_xor(buf, sizeof(buf));
    for (size_t pos = 0; pos < 320; pos++)
        CHECK_EQ(buf[pos], 0);
    for (size_t pos = 320; pos < 400; pos++)
        CHECK_EQ(buf[pos], robin_key[pos & 31]);
}

static void test_robin_window_and_round_trip(void)
{
    size_t n = 40000;
    uint8_t *orig = malloc(n), *buf = malloc(n);
    fill_random(orig, n);
    memcpy(buf, orig, n);
    fw_robin_xor(buf, n);
    CHECK_MEM(buf, orig, 320);
    CHECK_MEM(buf + 31040, orig + 31040, n - 31040);
    CHECK_EQ(buf[31039], orig[31039] ^ robin_key[31039 & 31]);
    CHECK(memcmp(buf + 320, orig + 320, 31040 - 320) != 0);
    fw_robin_xor(buf, n);
    CHECK_MEM(buf, orig, n);

    uint8_t small[319];
    fill_random(small, sizeof(small));
    uint8_t copy[319];
    memcpy(copy, small, sizeof(small));
    fw_robin_xor(small, sizeof(small));
    CHECK_MEM(small, copy, sizeof(small));
    free(orig);
    free(buf);
}

/* The format read literally: append "0x0" until the length is a multiple of
 * 2048, XOR each byte with the key's low byte and the block keystream,
 * checksum the little-endian words. */
static uint8_t *reference_chitu(const uint8_t *in, size_t len, size_t *out_len)
{
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    EVP_Digest(in, len, md, &mdlen, EVP_md5(), NULL);
    uint32_t key = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    size_t padded = len;
    uint8_t *data = malloc(len + 3 * 2048 + 12);
    memcpy(data + 12, in, len);
    while (padded % 2048) {
        memcpy(data + 12 + padded, "0x0", 3);
        padded += 3;
    }
    uint32_t crc = 0xEF3D4323;
    for (uint64_t b = 0; b < padded / 2048; b++) {
        for (uint64_t i = 0; i < 2048; i++) {
            uint64_t s = ((i * i + b * 0x4BAD) & 0xFFFFFFFF) >> (i % 24);
            data[12 + b * 2048 + i] ^= (uint8_t)(key & 0xFF) ^ (uint8_t)(s & 0xFF);
        }
    }
    for (size_t w = 0; w < padded; w += 4) {
        const uint8_t *p = data + 12 + w;
        crc ^= p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
    }
    const uint8_t header[12] = { 0x44, 0x3D, 0x2D, 0x3F,
                                 key & 0xFF, key >> 8 & 0xFF, key >> 16 & 0xFF, key >> 24,
                                 crc & 0xFF, crc >> 8 & 0xFF, crc >> 16 & 0xFF, crc >> 24 };
    memcpy(data, header, 12);
    *out_len = 12 + padded;
    return data;
}

static void test_chitu_known_answer(void)
{
    /* Computed separately from the format description for the 7 bytes "Klipper". */
    static const uint8_t head[28] = {
        0x44, 0x3d, 0x2d, 0x3f, 0x30, 0x7d, 0xe9, 0x6d, 0x28, 0xfd, 0xe9, 0xab,
        0x7b, 0x5c, 0x58, 0x41, 0x41, 0x55, 0x42, 0x00, 0x48, 0x00, 0x00, 0x48, 0x00, 0x00, 0x48, 0x00,
    };
    static const uint8_t tail[8] = { 0xa5, 0xef, 0xf4, 0x30, 0xbb, 0xdd, 0xe6, 0x77 };
    uint8_t *out = NULL;
    size_t out_len = 0;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_chitu_encode((const uint8_t *)"Klipper", 7, &out, &out_len, &err), 0);
    CHECK_EQ(out_len, 4108);
    CHECK_EQ(fw_chitu_encoded_len(7), 4108);
    if (out && out_len == 4108) {
        CHECK_MEM(out, head, sizeof(head));
        CHECK_MEM(out + out_len - 8, tail, sizeof(tail));
    }
    free(out);
}

static void check_chitu_length(size_t len, bool ends_with_padding_text)
{
    uint8_t *in = malloc(len + 1);
    fill_random(in, len);
    if (ends_with_padding_text && len >= 6)
        memcpy(in + len - 6, "0x00x0", 6);
    size_t ref_len;
    uint8_t *ref = reference_chitu(in, len, &ref_len);
    uint8_t *enc = NULL, *dec = NULL;
    size_t enc_len = 0, dec_len = 0;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_chitu_encode(in, len, &enc, &enc_len, &err), 0);
    CHECK_EQ(enc_len, ref_len);
    CHECK_EQ(fw_chitu_encoded_len(len), ref_len);
    CHECK_EQ((enc_len - 12) % 2048, 0);
    if (enc && enc_len == ref_len)
        CHECK_MEM(enc, ref, ref_len);
    CHECK(fw_chitu_has_magic(enc, enc_len));
    CHECK_EQ(fw_chitu_decode(enc, enc_len, &dec, &dec_len, &err), 0);
    CHECK_EQ(dec_len, len);
    if (dec && dec_len == len)
        CHECK_MEM(dec, in, len);
    if (len % 2048 == 0)
        CHECK_EQ(enc_len, len + 12);
    free(in);
    free(ref);
    free(enc);
    free(dec);
}

static void test_chitu_round_trips(void)
{
    static const size_t lengths[] = { 1, 2, 3, 7, 100, 2045, 2046, 2047, 2048, 2049, 4095, 4096,
                                      6141, 6144, 10000, 3 * 2048, 65536, 123457 };
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        check_chitu_length(lengths[i], false);
        check_chitu_length(lengths[i], true);
    }
}

static void test_chitu_rejects_damage(void)
{
    size_t len = 5000;
    uint8_t *in = malloc(len);
    fill_random(in, len);
    uint8_t *enc = NULL, *dec = NULL;
    size_t enc_len = 0, dec_len = 0;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_chitu_encode(in, len, &enc, &enc_len, &err), 0);

    enc[100] ^= 1;
    CHECK_EQ(fw_chitu_decode(enc, enc_len, &dec, &dec_len, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "checksum") != NULL);
    enc[100] ^= 1;

    mf_err_clear(&err);
    CHECK_EQ(fw_chitu_decode(enc, enc_len - 1, &dec, &dec_len, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);

    mf_err_clear(&err);
    enc[0] = 0x45;
    CHECK(!fw_chitu_has_magic(enc, enc_len));
    CHECK_EQ(fw_chitu_decode(enc, enc_len, &dec, &dec_len, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "not a Chitu") != NULL);
    CHECK(dec == NULL);
    free(in);
    free(enc);
}

int main(void)
{
    test_robin_known_answer();
    test_robin_window_and_round_trip();
    test_chitu_known_answer();
    test_chitu_round_trips();
    test_chitu_rejects_damage();
    return check_report("test_firmware_convert");
}
