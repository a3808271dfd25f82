/* The card in SD (native bus) mode, as seen through an STM32 SDIO peripheral.
 *
 * Short responses carry the 32-bit payload MSB first in resp[0..3]; long ones
 * carry register bytes 0..14 and CRC7<<1 without the end bit in resp[15].
 * R3 (OCR) has no CRC, so the peripheral reports a CRC failure with the
 * payload intact.  A command the card does not accept in its state gets no
 * response (timeout) and sets ILLEGAL_COMMAND for the next status. */
#include "sdcard_int.h"

#include <string.h>

static int no_answer(int wait)
{
    return wait ? SDCARD_SDIO_CMD_TIMEOUT : SDCARD_SDIO_OK;
}

static int illegal(struct sdcard *c, int wait)
{
    c->status |= ST_ILLEGAL_COMMAND;
    return no_answer(wait);
}

static void put_word(uint8_t resp[16], uint32_t w)
{
    for (int i = 0; i < 4; i++)
        resp[i] = (uint8_t)(w >> (24 - 8 * i));
}

static void put_register(uint8_t resp[16], const uint8_t reg[16])
{
    memcpy(resp, reg, 15);
    resp[15] = reg[15] & 0xFE;
}

/* The card status a response reports; error bits are cleared once sent. */
static uint32_t take_status(struct sdcard *c)
{
    uint32_t s = c->status | (uint32_t)c->state << 9;
    if (c->state != SDC_PRG && c->state != SDC_RCV)
        s |= ST_READY_FOR_DATA;
    if (c->app_cmd)
        s |= ST_APP_CMD;
    c->status = 0;
    return s;
}

static bool addressed(const struct sdcard *c, uint32_t arg)
{
    return (arg >> 16) == c->rca;
}

static int acmd41(struct sdcard *c, uint32_t arg, uint8_t resp[16])
{
    if (c->state != SDC_IDLE)
        return illegal(c, 1);
    bool hcs = arg & (1u << 30);
    bool inquiry = (arg & 0x00FF8000) == 0;
    if (!inquiry && !(c->cfg.type == SDCARD_SDHC && !hcs)) {
        if (c->acmd41_polls < c->cfg.init_polls) {
            c->acmd41_polls++;
        } else {
            c->initialised = true;
            c->state = SDC_READY;
        }
    }
    put_word(resp, sdc_ocr(c));
    return SDCARD_SDIO_CRC_FAIL;
}

static int cmd_select(struct sdcard *c, uint32_t arg, uint8_t resp[16])
{
    if (!addressed(c, arg)) {
        if (c->state == SDC_TRAN)
            c->state = SDC_STBY;  /* another card, or none, selected */
        return SDCARD_SDIO_CMD_TIMEOUT;
    }
    if (c->state != SDC_STBY && c->state != SDC_TRAN)
        return illegal(c, 1);
    put_word(resp, take_status(c));
    c->state = SDC_TRAN;
    return SDCARD_SDIO_OK;
}

static int cmd_status(struct sdcard *c, uint32_t arg, uint8_t resp[16])
{
    if (c->state < SDC_STBY || !addressed(c, arg))
        return SDCARD_SDIO_CMD_TIMEOUT;
    put_word(resp, take_status(c));
    if (c->state == SDC_PRG && (c->prg_left == 0 || --c->prg_left == 0))
        c->state = SDC_TRAN;
    return SDCARD_SDIO_OK;
}

static int cmd_relative_addr(struct sdcard *c, uint8_t resp[16])
{
    if (c->state != SDC_IDENT && c->state != SDC_STBY)
        return illegal(c, 1);
    uint32_t s = take_status(c);
    c->rca = c->cfg.rca;
    c->state = SDC_STBY;
    /* R6: RCA, then status bits 23, 22, 19 and 12..0. */
    uint32_t packed = ((s >> 23) & 1u) << 15 | ((s >> 22) & 1u) << 14 | ((s >> 19) & 1u) << 13 |
                      (s & 0x1FFF);
    put_word(resp, (uint32_t)c->rca << 16 | packed);
    return SDCARD_SDIO_OK;
}

static int cmd_block_len(struct sdcard *c, uint32_t arg, uint8_t resp[16])
{
    if (c->state != SDC_TRAN)
        return illegal(c, 1);
    if (c->cfg.type != SDCARD_SDHC && arg != SDC_BLOCK)
        c->status |= ST_BLOCK_LEN_ERROR;
    put_word(resp, take_status(c));
    return SDCARD_SDIO_OK;
}

static int command(struct sdcard *c, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16])
{
    switch (cmd) {
    case 0:
        sdc_go_idle(c);
        return SDCARD_SDIO_OK;
    case 8:
        if (c->state != SDC_IDLE || c->cfg.type == SDCARD_V1_SDSC)
            return illegal(c, wait);
        put_word(resp, (((arg >> 8) & 0x0F) == 1 ? 1u << 8 : 0) | (arg & 0xFF));
        return SDCARD_SDIO_OK;
    case 55:
        if (!addressed(c, arg) && c->state >= SDC_STBY)
            return no_answer(wait);
        c->app_cmd = true;
        put_word(resp, take_status(c));
        return SDCARD_SDIO_OK;
    case 2:
        if (c->state != SDC_READY)
            return illegal(c, wait);
        c->state = SDC_IDENT;
        put_register(resp, c->cid);
        return SDCARD_SDIO_OK;
    case 3: return cmd_relative_addr(c, resp);
    case 9:
    case 10:
        if (c->state != SDC_STBY || !addressed(c, arg))
            return no_answer(wait);
        put_register(resp, cmd == 9 ? c->csd : c->cid);
        return SDCARD_SDIO_OK;
    case 7: return cmd_select(c, arg, resp);
    case 13: return cmd_status(c, arg, resp);
    case 16: return cmd_block_len(c, arg, resp);
    case 12:
        if (c->state != SDC_DATA && c->state != SDC_RCV)
            return illegal(c, wait);
        put_word(resp, take_status(c));
        c->state = SDC_TRAN;
        return SDCARD_SDIO_OK;
    default: return illegal(c, wait);
    }
}

/* A block programs for a time: a card left alone leaves state prg by itself. */
static void settle(struct sdcard *c)
{
    if (c->state == SDC_PRG && c->prg_until_ns && c->cfg.clock_ns(c->cfg.clock_ctx) >= c->prg_until_ns) {
        c->state = SDC_TRAN;
        c->prg_left = 0;
    }
}

int sdcard_sd_command(struct sdcard *card, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16])
{
    memset(resp, 0, 16);
    settle(card);
    if (!sdc_alive(card) || card->spi_mode)
        return no_answer(wait);
    bool app = card->app_cmd;
    card->app_cmd = false;
    sdc_note_command(card, cmd, app);
    if (card->drop_commands) {
        card->drop_commands--;
        return no_answer(wait);
    }
    if (app && cmd == 41)
        return acmd41(card, arg, resp);
    return command(card, cmd, arg, wait, resp);
}

/* Common checks of a data command; returns -1 to go on, else the error. */
static int data_command(struct sdcard *c, uint8_t cmd, uint8_t want, uint32_t arg, uint32_t *lba)
{
    settle(c);
    if (!sdc_alive(c) || c->spi_mode)
        return SDCARD_SDIO_CMD_TIMEOUT;
    c->app_cmd = false;
    sdc_note_command(c, cmd, false);
    if (c->drop_commands) {
        c->drop_commands--;
        return SDCARD_SDIO_CMD_TIMEOUT;
    }
    if (cmd != want || c->state != SDC_TRAN)
        return illegal(c, 1);
    uint32_t why = 0;
    if (!sdc_addr_to_lba(c, arg, lba, &why)) {
        c->status |= why;  /* answered with the error bit, no data follows */
        return SDCARD_SDIO_DATA_TIMEOUT;
    }
    return -1;
}

int sdcard_sd_read_block(struct sdcard *card, uint8_t cmd, uint32_t arg, uint8_t buf[512])
{
    uint32_t lba;
    int rc = data_command(card, cmd, 17, arg, &lba);
    if (rc >= 0)
        return rc;
    uint16_t crc;
    return sdc_read_sector(card, lba, buf, &crc) ? SDCARD_SDIO_CRC_FAIL : SDCARD_SDIO_OK;
}

int sdcard_sd_write_block(struct sdcard *card, uint8_t cmd, uint32_t arg, const uint8_t buf[512])
{
    uint32_t lba;
    int rc = data_command(card, cmd, 24, arg, &lba);
    if (rc >= 0)
        return rc;
    if (sdc_take_corrupt_write(card)) {
        card->stats.crc_errors++;
        card->stats.write_rejects++;
        return SDCARD_SDIO_CRC_FAIL;  /* the card's CRC status said no */
    }
    uint32_t why = sdc_write_sector(card, lba, buf);
    card->status |= why;
    if (why == ST_WP_VIOLATION)
        return SDCARD_SDIO_OK;  /* data taken, nothing programmed */
    card->prg_left = card->cfg.sd_busy_polls;
    card->state = card->prg_left ? SDC_PRG : SDC_TRAN;
    card->prg_until_ns = card->cfg.clock_ns && card->cfg.write_busy_ns
                             ? card->cfg.clock_ns(card->cfg.clock_ctx) + card->cfg.write_busy_ns
                             : 0;
    return SDCARD_SDIO_OK;
}
