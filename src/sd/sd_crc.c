/* Table-driven CRCs: a data CRC is computed for every 512-byte block. */
#include "sd/sd_crc.h"

#include <stdbool.h>

static uint8_t crc7_table[256];    /* left-justified: crc7 << 1 */
static uint16_t crc16_table[256];
static bool tables_ready;

static void make_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        unsigned c7 = i, c16 = i << 8;
        for (int bit = 0; bit < 8; bit++) {
            c7 = (c7 & 0x80) ? (c7 << 1) ^ (0x09 << 1) : c7 << 1;
            c16 = (c16 & 0x8000) ? (c16 << 1) ^ 0x1021 : c16 << 1;
        }
        crc7_table[i] = (uint8_t)c7;
        crc16_table[i] = (uint16_t)c16;
    }
    tables_ready = true;
}

uint8_t sd_crc7(const uint8_t *p, size_t n)
{
    if (!tables_ready)
        make_tables();
    uint8_t crc = 0;
    for (size_t i = 0; i < n; i++)
        crc = crc7_table[crc ^ p[i]];
    return crc >> 1;
}

uint16_t sd_crc16(const uint8_t *p, size_t n)
{
    if (!tables_ready)
        make_tables();
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++)
        crc = (uint16_t)(crc << 8) ^ crc16_table[(crc >> 8) ^ p[i]];
    return crc;
}

void sd_frame(uint8_t frame[6], uint8_t cmd, uint32_t arg)
{
    frame[0] = (uint8_t)(0x40 | (cmd & 0x3F));
    frame[1] = (uint8_t)(arg >> 24);
    frame[2] = (uint8_t)(arg >> 16);
    frame[3] = (uint8_t)(arg >> 8);
    frame[4] = (uint8_t)arg;
    frame[5] = (uint8_t)(sd_crc7(frame, 5) << 1 | 1);
}
