/* The bootloader's card driver over the card model's SPI and SD-mode
 * interfaces.  It sends what bootloaders send: fixed CRC bytes (CRC is
 * off in SPI mode except for CMD0 and CMD8), single-block reads and
 * writes, no CMD59. */
#include "bootcard.h"

#include <string.h>

#include "timing_model.h"

/* SPI at 9 MHz (e.g. 72 MHz / 8); SD mode 4-bit at 24 MHz; a command and
 * the card's access latency per block. */
#define SPI_HZ BOOT_SPI_HZ
#define SD_BYTES_PER_S BOOT_SD_BYTES_PER_S
#define BLOCK_OVERHEAD_US BOOT_BLOCK_OVERHEAD_US
#define INIT_POLLS 1000
#define R1_POLLS 16
#define TOKEN_POLLS 4096
#define BUSY_POLLS 1000000
#define CARD_BLOCK 512u

enum {
    R1_IDLE = 0x01,
    R1_ILLEGAL = 0x04,
    TOKEN_START = 0xFE,
    DATA_ACCEPTED = 0x05,
    SD_STATE_TRAN = 4,
};

/* --- SPI mode --- */

static uint8_t spi_xfer(struct bootcard *bc, uint8_t mosi)
{
    bc->bus_bytes++;
    return sdcard_spi_byte(bc->card, mosi);
}

static void spi_end(struct bootcard *bc)
{
    spi_xfer(bc, 0xFF);
    sdcard_spi_cs(bc->card, false);
}

/* A command frame, chip select left active; R1 or 0xFF if none came. */
static uint8_t spi_command(struct bootcard *bc, uint8_t cmd, uint32_t arg)
{
    sdcard_spi_cs(bc->card, true);
    spi_xfer(bc, 0xFF);
    /* CRC matters only for CMD0 and CMD8 (with this argument). */
    uint8_t crc = cmd == 0 ? 0x95 : cmd == 8 ? 0x87 : 0x01;
    uint8_t frame[6] = { (uint8_t)(0x40 | cmd), (uint8_t)(arg >> 24), (uint8_t)(arg >> 16),
                         (uint8_t)(arg >> 8), (uint8_t)arg, crc };
    for (int i = 0; i < 6; i++)
        spi_xfer(bc, frame[i]);
    for (int i = 0; i < R1_POLLS; i++) {
        uint8_t r = spi_xfer(bc, 0xFF);
        if (!(r & 0x80))
            return r;
    }
    return 0xFF;
}

static uint8_t spi_app_command(struct bootcard *bc, uint8_t cmd, uint32_t arg)
{
    spi_command(bc, 55, 0);
    spi_end(bc);
    return spi_command(bc, cmd, arg);
}

static int spi_init(struct bootcard *bc, struct mf_err *err)
{
    bc->bus_bytes += 10; /* wake-up clocks with chip select high (the card ignores them) */
    uint8_t r = spi_command(bc, 0, 0);
    spi_end(bc);
    if (r != R1_IDLE)
        return mf_fail(err, MF_E_CARD, "the card does not answer CMD0 in SPI mode");
    r = spi_command(bc, 8, 0x1AA);
    bool v2 = !(r & R1_ILLEGAL) && r != 0xFF;
    for (int i = 0; v2 && i < 4; i++)
        spi_xfer(bc, 0xFF);
    spi_end(bc);
    int i;
    for (i = 0; i < INIT_POLLS; i++) {
        r = spi_app_command(bc, 41, v2 ? 1u << 30 : 0);
        spi_end(bc);
        if (r == 0)
            break;
    }
    if (i == INIT_POLLS)
        return mf_fail(err, MF_E_CARD, "the card never left its idle state (ACMD41)");
    if (v2) {
        r = spi_command(bc, 58, 0);
        uint8_t ocr0 = spi_xfer(bc, 0xFF);
        for (int k = 0; k < 3; k++)
            spi_xfer(bc, 0xFF);
        spi_end(bc);
        bc->block_addressed = r == 0 && (ocr0 & 0x40);
    }
    r = spi_command(bc, 16, CARD_BLOCK);
    spi_end(bc);
    return r == 0 ? 0 : mf_fail(err, MF_E_CARD, "the card refused the 512-byte block length");
}

static bool spi_wait_token(struct bootcard *bc)
{
    for (int i = 0; i < TOKEN_POLLS; i++) {
        uint8_t b = spi_xfer(bc, 0xFF);
        if (b == TOKEN_START)
            return true;
        if (b != 0xFF)
            return false; /* an error token */
    }
    return false;
}

static bool spi_read_block(struct bootcard *bc, uint32_t addr, uint8_t *buf)
{
    bool ok = spi_command(bc, 17, addr) == 0 && spi_wait_token(bc);
    for (uint32_t i = 0; ok && i < CARD_BLOCK; i++)
        buf[i] = spi_xfer(bc, 0xFF);
    if (ok) {
        spi_xfer(bc, 0xFF); /* CRC, not checked */
        spi_xfer(bc, 0xFF);
    }
    spi_end(bc);
    return ok;
}

/* After the data response the card shows 0x00 while it programs; two 0xFF
 * in a row mean it is done (one 0xFF may come before the busy bytes). */
static bool spi_wait_idle(struct bootcard *bc)
{
    int high = 0;
    for (long i = 0; i < BUSY_POLLS; i++) {
        high = spi_xfer(bc, 0xFF) == 0xFF ? high + 1 : 0;
        if (high == 2)
            return true;
    }
    return false;
}

static bool spi_write_block(struct bootcard *bc, uint32_t addr, const uint8_t *buf)
{
    bool ok = spi_command(bc, 24, addr) == 0;
    if (ok) {
        spi_xfer(bc, 0xFF);
        spi_xfer(bc, TOKEN_START);
        for (uint32_t i = 0; i < CARD_BLOCK; i++)
            spi_xfer(bc, buf[i]);
        spi_xfer(bc, 0xFF);
        spi_xfer(bc, 0xFF);
        uint8_t resp = 0xFF;
        for (int i = 0; i < R1_POLLS && resp == 0xFF; i++)
            resp = spi_xfer(bc, 0xFF);
        ok = (resp & 0x1F) == DATA_ACCEPTED && spi_wait_idle(bc);
    }
    spi_end(bc);
    return ok;
}

/* --- SD mode --- */

static bool sd_answered(int rc)
{
    /* R3 carries no CRC, so the peripheral reports a CRC failure with it. */
    return rc == SDCARD_SDIO_OK || rc == SDCARD_SDIO_CRC_FAIL;
}

static int sd_command(struct bootcard *bc, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16])
{
    bc->bus_bytes += wait == 2 ? 23 : 12;
    return sdcard_sd_command(bc->card, cmd, arg, wait, resp);
}

static int sd_init(struct bootcard *bc, struct mf_err *err)
{
    uint8_t resp[16];
    sd_command(bc, 0, 0, 0, resp);
    bool v2 = sd_command(bc, 8, 0x1AA, 1, resp) == SDCARD_SDIO_OK;
    int i;
    for (i = 0; i < INIT_POLLS; i++) {
        if (sd_command(bc, 55, 0, 1, resp) != SDCARD_SDIO_OK)
            return mf_fail(err, MF_E_CARD, "the card does not answer in SD mode");
        if (sd_answered(sd_command(bc, 41, (v2 ? 0x40000000u : 0) | 0x00100000u, 1, resp)) && (resp[0] & 0x80))
            break;
    }
    if (i == INIT_POLLS)
        return mf_fail(err, MF_E_CARD, "the card never became ready (ACMD41)");
    bc->block_addressed = resp[0] & 0x40;
    if (sd_command(bc, 2, 0, 2, resp) != SDCARD_SDIO_OK || sd_command(bc, 3, 0, 1, resp) != SDCARD_SDIO_OK)
        return mf_fail(err, MF_E_CARD, "the card did not give its address (CMD2/CMD3)");
    bc->rca = (uint16_t)(resp[0] << 8 | resp[1]);
    if (sd_command(bc, 7, (uint32_t)bc->rca << 16, 1, resp) != SDCARD_SDIO_OK ||
        sd_command(bc, 16, CARD_BLOCK, 1, resp) != SDCARD_SDIO_OK)
        return mf_fail(err, MF_E_CARD, "the card could not be selected for transfers (CMD7/CMD16)");
    return 0;
}

static bool sd_wait_tran(struct bootcard *bc)
{
    uint8_t resp[16];
    for (int i = 0; i < INIT_POLLS; i++) {
        if (sd_command(bc, 13, (uint32_t)bc->rca << 16, 1, resp) != SDCARD_SDIO_OK)
            return false;
        if (((resp[2] >> 1) & 0x0F) == SD_STATE_TRAN)
            return true;
    }
    return false;
}

/* --- block device --- */

static uint32_t card_address(const struct bootcard *bc, uint32_t lba)
{
    return bc->block_addressed ? lba : lba * CARD_BLOCK;
}

/* One block: read into in, or write out. */
static bool one_block(struct bootcard *bc, uint32_t lba, uint8_t *in, const uint8_t *out)
{
    uint32_t addr = card_address(bc, lba);
    bc->blocks++;
    if (!bc->sd_mode)
        return out ? spi_write_block(bc, addr, out) : spi_read_block(bc, addr, in);
    bc->bus_bytes += CARD_BLOCK;
    if (out)
        return sdcard_sd_write_block(bc->card, 24, addr, out) == SDCARD_SDIO_OK && sd_wait_tran(bc);
    return sdcard_sd_read_block(bc->card, 17, addr, in) == SDCARD_SDIO_OK;
}

static int blocks(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *in, const uint8_t *out,
                  struct mf_err *err)
{
    struct bootcard *bc = (struct bootcard *)bd;
    for (uint32_t i = 0; i < count; i++) {
        size_t at = (size_t)i * CARD_BLOCK;
        if (!one_block(bc, lba + i, in ? in + at : NULL, out ? out + at : NULL))
            return mf_fail(err, MF_E_CARD, "%s sector %u failed", out ? "writing" : "reading", lba + i);
    }
    return 0;
}

static int bd_read(struct blockdev *bd, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err)
{
    return blocks(bd, lba, count, buf, NULL, err);
}

static int bd_write(struct blockdev *bd, uint32_t lba, uint32_t count, const uint8_t *buf, struct mf_err *err)
{
    return blocks(bd, lba, count, NULL, buf, err);
}

static void bd_close(struct blockdev *bd)
{
    (void)bd; /* embedded in struct bootcard; nothing to free */
}

static const struct blockdev_ops bootcard_ops = { bd_read, bd_write, NULL, bd_close };

int bootcard_open(struct bootcard *bc, struct sdcard *card, bool sd_mode, struct mf_err *err)
{
    memset(bc, 0, sizeof(*bc));
    bc->bd.ops = &bootcard_ops;
    bc->card = card;
    bc->sd_mode = sd_mode;
    if ((sd_mode ? sd_init(bc, err) : spi_init(bc, err)) < 0)
        return -1;
    bc->bd.sector_count = sdcard_sector_count(card);
    return 0;
}

uint64_t bootcard_time_us(const struct bootcard *bc)
{
    uint64_t bus_us = bc->sd_mode ? bc->bus_bytes * 1000000u / SD_BYTES_PER_S
                                  : bc->bus_bytes * 8u * 1000000u / SPI_HZ;
    return bus_us + bc->blocks * BLOCK_OVERHEAD_US;
}
