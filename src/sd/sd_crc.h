/* The two CRCs of the SD protocol.
 *
 * CRC7 (x^7 + x^3 + 1, init 0, MSB first) protects command frames and the
 * CID/CSD registers; on the wire it is sent as (crc7 << 1) | 1.
 * CRC-16/XMODEM (x^16 + x^12 + x^5 + 1, init 0, MSB first, sent high byte
 * first) protects each data block. */
#ifndef MF_SD_SD_CRC_H
#define MF_SD_SD_CRC_H

#include <stddef.h>
#include <stdint.h>

uint8_t sd_crc7(const uint8_t *p, size_t n);    /* the 7-bit value, 0..127 */
uint16_t sd_crc16(const uint8_t *p, size_t n);

/* A 6-byte SPI/SD command frame: start bits, index, argument MSB first, CRC. */
void sd_frame(uint8_t frame[6], uint8_t cmd, uint32_t arg);

#endif
