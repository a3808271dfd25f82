/* The card's registers (CID, CSD, OCR) and its own CRC generators.
 *
 * The CRCs are computed bit by bit here, deliberately in a different way
 * from the host code, so the two check each other in tests. */
#include "sdcard_int.h"

#include <string.h>

uint8_t sdc_crc7(const uint8_t *p, size_t n)
{
    uint8_t reg = 0;  /* 7-bit register, x^7 + x^3 + 1 */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 7; bit >= 0; bit--) {
            unsigned in = (p[i] >> bit) & 1u;
            unsigned top = (reg >> 6) & 1u;
            reg = (uint8_t)((reg << 1) & 0x7F);
            if (in ^ top)
                reg ^= 0x09;
        }
    }
    return reg;
}

uint16_t sdc_crc16(const uint8_t *p, size_t n)
{
    uint16_t reg = 0;  /* x^16 + x^12 + x^5 + 1, MSB first */
    for (size_t i = 0; i < n; i++) {
        for (int bit = 7; bit >= 0; bit--) {
            unsigned in = (p[i] >> bit) & 1u;
            unsigned top = (reg >> 15) & 1u;
            reg = (uint16_t)(reg << 1);
            if (in ^ top)
                reg ^= 0x1021;
        }
    }
    return reg;
}

/* Store value into register bits [hi:lo], bit 127 being the MSB of byte 0. */
static void put_bits(uint8_t reg[16], unsigned hi, unsigned lo, uint32_t value)
{
    for (unsigned b = lo; b <= hi; b++) {
        unsigned byte = 15 - b / 8, mask = 1u << (b % 8);
        if ((value >> (b - lo)) & 1u)
            reg[byte] |= (uint8_t)mask;
        else
            reg[byte] &= (uint8_t)~mask;
    }
}

static void seal(uint8_t reg[16])
{
    reg[15] = (uint8_t)(sdc_crc7(reg, 15) << 1 | 1);
}

static void build_cid(struct sdcard *c)
{
    const struct sdcard_config *k = &c->cfg;
    uint8_t *r = c->cid;
    memset(r, 0, 16);
    r[0] = k->mid;
    for (int i = 0; i < 2; i++)
        r[1 + i] = (uint8_t)(k->oid[i] ? k->oid[i] : ' ');
    for (int i = 0; i < 5; i++)
        r[3 + i] = (uint8_t)(k->pnm[i] ? k->pnm[i] : ' ');
    r[8] = k->prv;
    put_bits(r, 55, 24, k->psn);
    unsigned year = k->year >= 2000 ? k->year - 2000u : 0;
    put_bits(r, 19, 12, year & 0xFF);
    put_bits(r, 11, 8, k->month & 0x0F);
    seal(r);
}

/* SDSC capacity = (C_SIZE+1) * 2^(C_SIZE_MULT+2) * 2^READ_BL_LEN: pick the
 * largest that fits in the image. */
static void sdsc_geometry(uint64_t bytes, unsigned *bl_len, unsigned *mult, unsigned *c_size)
{
    uint64_t best = 0;
    for (unsigned bl = 9; bl <= 11; bl++)
        for (unsigned m = 0; m <= 7; m++) {
            uint64_t unit = 1ull << (m + 2 + bl);
            uint64_t units = bytes / unit;
            if (units == 0)
                continue;
            if (units > 4096)
                units = 4096;
            if (units * unit > best) {
                best = units * unit;
                *bl_len = bl, *mult = m, *c_size = (unsigned)units - 1;
            }
        }
}

static void build_csd(struct sdcard *c)
{
    uint8_t *r = c->csd;
    uint64_t bytes = (uint64_t)c->bd->sector_count * SDC_BLOCK;
    memset(r, 0, 16);
    put_bits(r, 119, 112, 0x0E);   /* TAAC 1 ms */
    put_bits(r, 103, 96, 0x32);    /* TRAN_SPEED 25 MHz */
    put_bits(r, 95, 84, 0x5B5);    /* command classes 0,2,4,5,7,8,10 */
    put_bits(r, 46, 46, 1);        /* ERASE_BLK_EN */
    put_bits(r, 45, 39, 0x7F);     /* SECTOR_SIZE */
    put_bits(r, 28, 26, 2);        /* R2W_FACTOR */
    if (c->cfg.type == SDCARD_SDHC) {
        uint64_t units = bytes / (512 * 1024);
        if (units > 4194303)
            units = 4194303;
        put_bits(r, 127, 126, 1);
        put_bits(r, 83, 80, 9);
        put_bits(r, 69, 48, (uint32_t)(units ? units - 1 : 0));
        put_bits(r, 25, 22, 9);
        c->sectors = (uint32_t)(units * 1024);
    } else {
        unsigned bl = 9, mult = 0, c_size = 0;
        sdsc_geometry(bytes, &bl, &mult, &c_size);
        put_bits(r, 83, 80, bl);
        put_bits(r, 79, 79, 1);    /* READ_BL_PARTIAL */
        put_bits(r, 73, 62, c_size);
        put_bits(r, 61, 50, 0xFFF);  /* VDD currents: the maxima */
        put_bits(r, 49, 47, mult);
        put_bits(r, 25, 22, bl);
        c->sectors = (uint32_t)(((uint64_t)c_size + 1) << (mult + 2 + bl - 9));
        if (bytes < 2048)
            c->sectors = 0;
    }
    put_bits(r, 13, 13, c->cfg.write_protect == SDCARD_WP_PERMANENT);
    put_bits(r, 12, 12, c->cfg.write_protect == SDCARD_WP_TEMPORARY || c->bd->read_only);
    seal(r);
}

void sdc_build_registers(struct sdcard *c)
{
    build_cid(c);
    build_csd(c);
}

uint32_t sdc_ocr(const struct sdcard *c)
{
    uint32_t ocr = 0x00FF8000;  /* 2.7 - 3.6 V */
    if (c->initialised) {
        ocr |= 1u << 31;
        if (c->cfg.type == SDCARD_SDHC)
            ocr |= 1u << 30;
    }
    return ocr;
}
