/* SD CRCs and register decoding, against published check values and an
 * independent long division over bits (host and card model both). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cardbus_model.h"
#include "sd/sd.h"
#include "sd/sd_crc.h"
#include "sim/card/sdcard_int.h"

/* Remainder of M(x)·x^deg divided by the generator, computed the schoolbook
 * way: write the message as bits, XOR the generator under every 1. */
static uint32_t long_division(const uint8_t *msg, size_t n, uint32_t generator, unsigned deg)
{
    size_t nbits = n * 8 + deg;
    uint8_t *bits = calloc(nbits, 1);
    for (size_t i = 0; i < n * 8; i++)
        bits[i] = (msg[i / 8] >> (7 - i % 8)) & 1;
    for (size_t i = 0; i < n * 8; i++)
        if (bits[i])
            for (unsigned j = 0; j <= deg; j++)
                bits[i + j] ^= (generator >> (deg - j)) & 1;
    uint32_t rem = 0;
    for (size_t i = n * 8; i < nbits; i++)
        rem = rem << 1 | bits[i];
    free(bits);
    return rem;
}

#define GEN7 0x89u      /* x^7 + x^3 + 1 */
#define GEN16 0x11021u  /* x^16 + x^12 + x^5 + 1 */

static void test_check_values(void)
{
    const uint8_t *check = (const uint8_t *)"123456789";
    CHECK_EQ(sd_crc7(check, 9), 0x75);
    CHECK_EQ(long_division(check, 9, GEN7, 7), 0x75);
    CHECK_EQ(sdc_crc7(check, 9), 0x75);
    CHECK_EQ(sd_crc16(check, 9), 0x31C3);
    CHECK_EQ(long_division(check, 9, GEN16, 16), 0x31C3);
    CHECK_EQ(sdc_crc16(check, 9), 0x31C3);

    uint8_t ff[512];
    memset(ff, 0xFF, sizeof(ff));
    CHECK_EQ(sd_crc16(ff, sizeof(ff)), 0x7FA1);
    CHECK_EQ(long_division(ff, sizeof(ff), GEN16, 16), 0x7FA1);
    CHECK_EQ(sdc_crc16(ff, sizeof(ff)), 0x7FA1);
}

static void test_command_frames(void)
{
    uint8_t f[6];
    sd_frame(f, 0, 0);
    const uint8_t cmd0[6] = { 0x40, 0, 0, 0, 0, 0x95 };
    CHECK_MEM(f, cmd0, 6);
    CHECK_EQ(sd_crc7(f, 5), 0x4A);
    CHECK_EQ(long_division(f, 5, GEN7, 7), 0x4A);

    sd_frame(f, 8, 0x1AA);
    const uint8_t cmd8[6] = { 0x48, 0, 0, 0x01, 0xAA, 0x87 };
    CHECK_MEM(f, cmd8, 6);
    CHECK_EQ((long_division(f, 5, GEN7, 7) << 1) | 1, 0x87);

    sd_frame(f, 17, 0);
    CHECK_EQ(sd_crc7(f, 5), 0x2A);
    CHECK_EQ(f[5], 0x55);
}

/* Random messages: table-driven host, bitwise card model, long division. */
static void test_random_agreement(void)
{
    uint8_t buf[700];
    for (uint32_t round = 0; round < 200; round++) {
        size_t n = 1 + (round * 37) % sizeof(buf);
        model_fill(buf, n, round);
        uint32_t r7 = long_division(buf, n, GEN7, 7), r16 = long_division(buf, n, GEN16, 16);
        CHECK_EQ(sd_crc7(buf, n), r7);
        CHECK_EQ(sdc_crc7(buf, n), r7);
        CHECK_EQ(sd_crc16(buf, n), r16);
        CHECK_EQ(sdc_crc16(buf, n), r16);
    }
}

static void seal(uint8_t reg[16])
{
    reg[15] = (uint8_t)(long_division(reg, 15, GEN7, 7) << 1 | 1);
}

/* Seal both registers with their CRC7 and decode them. */
static int decode(uint8_t cid[16], uint8_t csd[16], struct sd_card_info *info, struct mf_err *err)
{
    seal(cid);
    seal(csd);
    memset(info, 0, sizeof(*info));
    return sd_decode_registers(cid, csd, info, err);
}

static void test_cid_decode(void)
{
    uint8_t cid[16] = { 0x03, 'S', 'D', 'S', 'U', '0', '8', 'G', 0x80,
                        0x12, 0x34, 0xAB, 0xCD, 0x01, 0x36, 0 };
    uint8_t csd[16] = { 0x40, 0x0E, 0, 0x32, 0x5B, 0x59, 0, 0, 0x3B, 0x37, 0x7F, 0x80, 0x0A,
                        0x40, 0x00, 0 };
    struct sd_card_info info;
    struct mf_err err;
    CHECK_EQ(decode(cid, csd, &info, &err), 0);
    CHECK_EQ(info.manufacturer_id, 0x03);
    CHECK_STR(info.oem, "SD");
    CHECK_STR(info.product, "SU08G");
    CHECK_EQ(info.revision_major, 8);
    CHECK_EQ(info.revision_minor, 0);
    CHECK_EQ(info.serial, 0x1234ABCD);
    CHECK_EQ(info.year, 2019);
    CHECK_EQ(info.month, 6);
    /* CSD v2, C_SIZE 15159: an "8 GB" card. */
    CHECK_EQ(info.csd_structure, 1);
    CHECK_EQ(info.capacity_bytes, 15160ull * 512 * 1024);
    CHECK_EQ(info.sector_count, 15523840);
    CHECK(!info.write_protected);

    char line[200];
    info.sdhc = true;
    sd_describe(&info, line, sizeof(line));
    CHECK(strstr(line, "SanDisk SU08G rev 8.0") != NULL);
    CHECK(strstr(line, "2019-06") != NULL);
    CHECK(strstr(line, "serial 0x1234ABCD") != NULL);
    CHECK(strstr(line, "SDHC/SDXC 7.4 GiB (15523840 sectors)") != NULL);
}

static void test_csd_v1_and_protection(void)
{
    uint8_t cid[16] = { 0x1B, 'S', 'M', '0', '0', '0', '0', '0', 0x10, 0, 0, 0, 1, 0x00, 0x11, 0 };
    /* READ_BL_LEN 10, C_SIZE 4095, C_SIZE_MULT 7: 2 GiB.  TMP_WRITE_PROTECT. */
    uint8_t csd[16] = { 0x00, 0x26, 0, 0x32, 0x5F, 0x5A, 0x83, 0xFF, 0xC0, 0x03, 0x80, 0, 0, 0,
                        0x10, 0 };
    struct sd_card_info info;
    struct mf_err err;
    CHECK_EQ(decode(cid, csd, &info, &err), 0);
    CHECK_EQ(info.csd_structure, 0);
    CHECK_EQ(info.capacity_bytes, 2147483648ull);
    CHECK_EQ(info.sector_count, 4194304);
    CHECK(info.write_protected);
    CHECK(info.tmp_write_protect);
    CHECK(!info.perm_write_protect);
    CHECK_EQ(info.year, 2001);
    CHECK_EQ(info.month, 1);

    csd[14] = 0x20;  /* PERM_WRITE_PROTECT */
    CHECK_EQ(sd_decode_registers(cid, csd, &info, &err), 0);
    CHECK(info.perm_write_protect && info.write_protected && !info.tmp_write_protect);

    csd[0] = 0x80;  /* structure 2: SDUC */
    CHECK_EQ(sd_decode_registers(cid, csd, &info, &err), -1);
    CHECK_EQ(err.code, MF_E_CARD);
    CHECK(strstr(err.msg, "SDUC") != NULL);
}

static void test_manufacturer_names(void)
{
    char buf[8];
    CHECK_STR(sd_manufacturer_name(0x03, buf), "SanDisk");
    CHECK_STR(sd_manufacturer_name(0x1B, buf), "Samsung");
    CHECK_STR(sd_manufacturer_name(0x27, buf), "Phison");
    CHECK_STR(sd_manufacturer_name(0x02, buf), "Toshiba/Kioxia");
    CHECK_STR(sd_manufacturer_name(0x74, buf), "Transcend");
    CHECK_STR(sd_manufacturer_name(0x28, buf), "Lexar");
    CHECK_STR(sd_manufacturer_name(0x41, buf), "Kingston");
    CHECK_STR(sd_manufacturer_name(0x9F, buf), "0x9F");
    CHECK_STR(sd_manufacturer_name(0x00, buf), "0x00");
}

int main(void)
{
    test_check_values();
    test_command_frames();
    test_random_agreement();
    test_cid_decode();
    test_csd_v1_and_protection();
    test_manufacturer_names();
    return check_report("test_sd_crc");
}
