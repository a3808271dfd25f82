/* The card model's life cycle, storage and faults; the bus halves are in
 * sdcard_spi.c and sdcard_sd.c. */
#include "sdcard_int.h"

#include <stdlib.h>
#include <string.h>

void sdcard_config_init(struct sdcard_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->type = SDCARD_SDHC;
    cfg->ncr = 1;
    cfg->read_latency = 2;
    cfg->write_busy = 4;
    cfg->sd_busy_polls = 1;
    cfg->init_polls = 2;
    cfg->present = true;
    cfg->mid = 0x03;
    memcpy(cfg->oid, "SD", 3);
    memcpy(cfg->pnm, "SIM08", 6);
    cfg->prv = 0x10;
    cfg->psn = 0x12345678;
    cfg->year = 2024;
    cfg->month = 6;
    cfg->rca = 0xB368;
}

/* Everything power-on resets, in one place. */
static void power_on(struct sdcard *c)
{
    c->dead = false;
    c->spi_mode = false;
    c->cs = false;
    c->frame_len = 0;
    c->out_pos = c->out_len = 0;
    c->busy = 0;
    c->busy_until_ns = 0;
    c->r2 = 0;
    c->status = 0;
    sdc_go_idle(c);
}

void sdc_go_idle(struct sdcard *c)
{
    c->initialised = false;
    c->app_cmd = false;
    c->crc_on = false;
    c->acmd41_polls = 0;
    c->block_len = SDC_BLOCK;
    c->rx = SPI_RX_CMD;
    c->blk_len = 0;
    c->read_multi = false;
    c->state = SDC_IDLE;
    c->rca = 0;
    c->prg_left = 0;
}

int sdcard_open(struct blockdev *bd, bool take_bd, const struct sdcard_config *cfg,
                struct sdcard **out, struct mf_err *err)
{
    if (cfg->ncr < 1 || cfg->ncr > 8)
        return mf_fail(err, MF_E_USAGE, "The card's Ncr must be 1 to 8 bytes, not %u.", cfg->ncr);
    struct sdcard *c = calloc(1, sizeof(*c));
    if (!c)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    c->cfg = *cfg;
    if (!c->cfg.rca)
        c->cfg.rca = 1;
    c->bd = bd;
    c->own_bd = take_bd;
    c->power_cut = -1;
    /* Room for the longest response: Ncr, R1, latency, token, block, CRC. */
    c->out_cap = 16 + (size_t)cfg->read_latency + SDC_BLOCK + 8;
    c->out = malloc(c->out_cap);
    if (!c->out) {
        free(c);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    sdc_build_registers(c);
    if (c->sectors == 0) {
        c->own_bd = false;  /* on failure the caller keeps bd */
        sdcard_free(c);
        return mf_fail(err, MF_E_INPUT,
                       "The card image is too small for a %s card; nothing was changed; use an "
                       "image of at least 1 MiB.", cfg->type == SDCARD_SDHC ? "SDHC" : "SDSC");
    }
    power_on(c);
    *out = c;
    return 0;
}

int sdcard_open_image(const char *path, const struct sdcard_config *cfg, struct sdcard **out,
                      struct mf_err *err)
{
    struct blockdev *bd;
    if (blockdev_open_image(path, false, &bd, err) < 0)
        return -1;
    if (sdcard_open(bd, true, cfg, out, err) < 0) {
        blockdev_close(bd);
        return -1;
    }
    return 0;
}

int sdcard_flush(struct sdcard *card, struct mf_err *err)
{
    return blockdev_flush(card->bd, err);
}

void sdcard_free(struct sdcard *card)
{
    if (!card)
        return;
    if (card->own_bd)
        blockdev_close(card->bd);
    free(card->out);
    free(card);
}

void sdcard_power_cycle(struct sdcard *card)
{
    card->stats.power_cycles++;
    power_on(card);
}

void sdcard_set_present(struct sdcard *card, bool present)
{
    card->cfg.present = present;
    power_on(card);
}

bool sdc_alive(const struct sdcard *c)
{
    return c->cfg.present && !c->dead;
}

void sdc_note_command(struct sdcard *c, uint8_t cmd, bool app)
{
    c->stats.commands++;
    c->stats.cmd_count[cmd & 63]++;
    if (app)
        c->stats.acmd_count[cmd & 63]++;
}

bool sdc_addr_to_lba(const struct sdcard *c, uint32_t arg, uint32_t *lba, uint32_t *why)
{
    if (c->cfg.type == SDCARD_SDHC) {
        *lba = arg;
    } else {
        if (arg % SDC_BLOCK) {
            *why = ST_ADDRESS_ERROR;
            return false;
        }
        *lba = arg / SDC_BLOCK;
    }
    if (*lba >= c->sectors) {
        *why = ST_OUT_OF_RANGE;
        return false;
    }
    return true;
}

bool sdc_read_sector(struct sdcard *c, uint32_t lba, uint8_t *buf, uint16_t *crc)
{
    struct mf_err err;
    if (blockdev_read(c->bd, lba, 1, buf, &err) < 0)
        memset(buf, 0, SDC_BLOCK);  /* a short image reads as zeros */
    *crc = sdc_crc16(buf, SDC_BLOCK);
    c->stats.sectors_read++;
    if (c->corrupt_reads) {
        c->corrupt_reads--;
        buf[lba % SDC_BLOCK] ^= 0x10;
        return true;
    }
    return false;
}

bool sdc_write_protected(const struct sdcard *c)
{
    return c->cfg.write_protect != SDCARD_WP_NONE || c->bd->read_only;
}

uint32_t sdc_write_sector(struct sdcard *c, uint32_t lba, const uint8_t *buf)
{
    if (sdc_write_protected(c)) {
        c->stats.write_rejects++;
        return ST_WP_VIOLATION;
    }
    if (c->fail_writes) {
        c->fail_writes--;
        c->stats.write_rejects++;
        return ST_ERROR;
    }
    struct mf_err err;
    if (blockdev_write(c->bd, lba, 1, buf, &err) < 0) {
        c->stats.write_rejects++;
        return ST_ERROR;
    }
    c->stats.sectors_written++;
    if (c->power_cut > 0 && --c->power_cut == 0) {
        c->dead = true;
        c->power_cut = -1;
    }
    return 0;
}

bool sdcard_in_spi_mode(const struct sdcard *card)
{
    return card->spi_mode;
}

uint32_t sdcard_sector_count(const struct sdcard *card)
{
    return card->sectors;
}

int sdcard_sd_state(const struct sdcard *card)
{
    return (int)card->state;
}

const struct sdcard_stats *sdcard_stats(const struct sdcard *card)
{
    return &card->stats;
}

void sdcard_reset_stats(struct sdcard *card)
{
    memset(&card->stats, 0, sizeof(card->stats));
}

const struct sdcard_config *sdcard_config(const struct sdcard *card)
{
    return &card->cfg;
}

void sdcard_set_fail_writes(struct sdcard *card, unsigned n)
{
    card->fail_writes = n;
}

void sdcard_set_corrupt_reads(struct sdcard *card, unsigned n)
{
    card->corrupt_reads = n;
}

void sdcard_set_corrupt_writes(struct sdcard *card, unsigned n)
{
    card->corrupt_writes = n;
}

bool sdc_take_corrupt_write(struct sdcard *c)
{
    if (!c->corrupt_writes)
        return false;
    c->corrupt_writes--;
    return true;
}

void sdcard_set_drop_commands(struct sdcard *card, unsigned n)
{
    card->drop_commands = n;
}

void sdcard_set_power_cut(struct sdcard *card, long n)
{
    card->power_cut = n > 0 ? n : -1;
    if (n == 0)
        card->dead = true;
}

void sdcard_set_write_protect(struct sdcard *card, enum sdcard_wp wp)
{
    card->cfg.write_protect = wp;
    sdc_build_registers(card);
}
