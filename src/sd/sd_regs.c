/* CID and CSD decoding, manufacturer names, a one-line description. */
#include "sd/sd.h"

#include <stdio.h>

/* Register bits [hi:lo] (at most 32), bit 127 being the MSB of byte 0. */
static uint32_t reg_bits(const uint8_t reg[16], unsigned hi, unsigned lo)
{
    uint32_t v = 0;
    for (unsigned b = hi + 1; b-- > lo;)
        v = v << 1 | ((reg[15 - b / 8] >> (b % 8)) & 1u);
    return v;
}

static void copy_text(char *dst, const uint8_t *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) ? (char)src[i] : '?';
    dst[n] = '\0';
}

static void decode_cid(const uint8_t cid[16], struct sd_card_info *info)
{
    info->manufacturer_id = cid[0];
    copy_text(info->oem, cid + 1, 2);
    copy_text(info->product, cid + 3, 5);
    info->revision_major = cid[8] >> 4;
    info->revision_minor = cid[8] & 0x0F;
    info->serial = reg_bits(cid, 55, 24);
    info->year = (uint16_t)(2000 + reg_bits(cid, 19, 12));
    info->month = (uint8_t)reg_bits(cid, 11, 8);
}

static int decode_csd(const uint8_t csd[16], struct sd_card_info *info, struct mf_err *err)
{
    info->csd_structure = reg_bits(csd, 127, 126);
    if (info->csd_structure == 0) {
        uint32_t read_bl_len = reg_bits(csd, 83, 80);
        uint32_t c_size = reg_bits(csd, 73, 62);
        uint32_t mult = reg_bits(csd, 49, 47);
        if (read_bl_len < 9 || read_bl_len > 11)
            return mf_fail(err, MF_E_CARD,
                           "The SD card reports a block length of 2^%u bytes, which no SD card "
                           "uses; nothing was changed; the card is probably faulty.", read_bl_len);
        info->capacity_bytes = ((uint64_t)c_size + 1) << (mult + 2 + read_bl_len);
    } else if (info->csd_structure == 1) {
        info->capacity_bytes = ((uint64_t)reg_bits(csd, 69, 48) + 1) * 512 * 1024;
    } else {
        return mf_fail(err, MF_E_CARD,
                       "The SD card is an SDUC card (CSD structure %u), which this tool cannot "
                       "address; nothing was changed; use a card of 2 TB or less.",
                       info->csd_structure);
    }
    uint64_t sectors = info->capacity_bytes / MF_SECTOR_SIZE;
    info->sector_count = sectors > UINT32_MAX ? UINT32_MAX : (uint32_t)sectors;
    info->perm_write_protect = reg_bits(csd, 13, 13);
    info->tmp_write_protect = reg_bits(csd, 12, 12);
    info->write_protected = info->perm_write_protect || info->tmp_write_protect;
    return 0;
}

int sd_decode_registers(const uint8_t cid[16], const uint8_t csd[16], struct sd_card_info *info,
                        struct mf_err *err)
{
    for (int i = 0; i < 16; i++) {
        info->cid[i] = cid[i];
        info->csd[i] = csd[i];
    }
    decode_cid(cid, info);
    return decode_csd(csd, info, err);
}

/* Only ids whose owner is well established; the list is not public. */
const char *sd_manufacturer_name(uint8_t mid, char buf[8])
{
    switch (mid) {
    case 0x02: return "Toshiba/Kioxia";
    case 0x03: return "SanDisk";
    case 0x1B: return "Samsung";
    case 0x27: return "Phison";
    case 0x28: return "Lexar";
    case 0x41: return "Kingston";
    case 0x74: return "Transcend";
    default:
        snprintf(buf, 8, "0x%02X", mid);
        return buf;
    }
}

void sd_describe(const struct sd_card_info *info, char *buf, size_t size)
{
    char mid[8];
    double mib = (double)info->capacity_bytes / (1024.0 * 1024.0);
    bool big = mib >= 1024.0;
    const char *kind = info->sdhc ? "SDHC/SDXC" : info->version >= 2 ? "SDSC v2" : "SDSC v1";
    snprintf(buf, size, "%s %s rev %u.%u, %s %.1f %s (%u sectors), made %04u-%02u, serial 0x%08X%s",
             sd_manufacturer_name(info->manufacturer_id, mid), info->product,
             info->revision_major, info->revision_minor, kind, big ? mib / 1024.0 : mib,
             big ? "GiB" : "MiB", info->sector_count,
             info->year, info->month, info->serial,
             info->write_protected ? ", write-protected" : "");
}
