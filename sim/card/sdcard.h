/* A model of an SD card, for the virtual board and for unit tests.
 *
 * The card is backed by a block device (usually an image file) and answers
 * in both of its bus modes:
 *  - SPI mode: a byte-level state machine driven one clocked byte at a time
 *    while chip select is active.  Its state survives chip-select toggles,
 *    because Klipper raises CS between every message.
 *  - SD mode: whole commands with the responses and error codes an STM32
 *    SDIO peripheral reports through Klipper's sdio_* commands.
 * A card powers up in SD mode.  CMD0 received in SPI mode (CS active) puts
 * it into SPI mode until its power is cut (sdcard_power_cycle); from then on
 * every SD-mode command times out.  A warm reset of the board does not cut
 * the card's power, so it must not call sdcard_power_cycle.
 */
#ifndef MF_SIM_CARD_SDCARD_H
#define MF_SIM_CARD_SDCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blockdev/blockdev.h"
#include "util/err.h"

enum sdcard_type {
    SDCARD_V1_SDSC,  /* physical layer 1.x: CMD8 illegal, byte addressing */
    SDCARD_V2_SDSC,  /* 2.0 standard capacity: CMD8 answered, byte addressing */
    SDCARD_SDHC,     /* 2.0 high capacity: CSD v2, block addressing */
};

enum sdcard_wp {
    SDCARD_WP_NONE,
    SDCARD_WP_TEMPORARY,  /* CSD TMP_WRITE_PROTECT */
    SDCARD_WP_PERMANENT,  /* CSD PERM_WRITE_PROTECT */
};

/* Error codes of sdcard_sd_*: the same numbers the STM32 Klipper port reports
 * in sdio_*_response (error=...). */
enum sdcard_sdio_error {
    SDCARD_SDIO_OK = 0,
    SDCARD_SDIO_ERROR = 1,
    SDCARD_SDIO_TIMEOUT = 2,
    SDCARD_SDIO_CMD_TIMEOUT = 3,   /* no response to the command */
    SDCARD_SDIO_CRC_FAIL = 4,      /* response or data CRC wrong (R3 always) */
    SDCARD_SDIO_WRONG_CMD = 5,
    SDCARD_SDIO_BLOCKSIZE = 6,
    SDCARD_SDIO_DATA_TIMEOUT = 7,  /* command answered, no data block */
};

struct sdcard_config {
    enum sdcard_type type;
    /* SPI: R1 is the ncr-th byte clocked after a command frame (1..8), so
     * ncr-1 bytes of 0xFF come first. */
    uint8_t ncr;
    /* SPI: bytes of 0xFF before each data start token (CMD9/10/17/18). */
    uint16_t read_latency;
    /* SPI: busy bytes (0x00) after each accepted written block and after the
     * stop token of a multi-block write. */
    uint16_t write_busy;
    /* With a clock: programming takes this long instead, however many bytes
     * the host clocks meanwhile (a real card is busy for a time, so a host
     * polling once per round trip sees only a few busy bytes). */
    uint32_t write_busy_ns;
    uint64_t (*clock_ns)(void *ctx);
    void *clock_ctx;
    /* SD mode: CMD13 answers showing state prg after a written block; with
     * a clock, programming also ends write_busy_ns after the block, as a
     * real card's does, for a host that does not ask in the meantime. */
    uint16_t sd_busy_polls;
    /* ACMD41 answers "still initialising" this many times first. */
    uint16_t init_polls;
    enum sdcard_wp write_protect;
    bool present;  /* false: an empty socket (MISO floats high, no SD responses) */
    /* CID fields. */
    uint8_t mid;
    char oid[3];      /* 2 characters */
    char pnm[6];      /* 5 characters */
    uint8_t prv;      /* BCD major.minor */
    uint32_t psn;
    uint16_t year;    /* 2000..2255 */
    uint8_t month;    /* 1..12 */
    uint16_t rca;     /* RCA published on CMD3 (SD mode), non-zero */
};

struct sdcard_stats {
    uint64_t commands;           /* command frames / SD commands executed */
    uint64_t cmd_count[64];      /* by index (application commands too) */
    uint64_t acmd_count[64];     /* application commands by index */
    uint64_t spi_bytes;          /* bytes clocked with CS active */
    uint64_t cs_windows;         /* CS activations */
    uint64_t sectors_read;       /* data blocks sent (registers excluded) */
    uint64_t sectors_written;    /* blocks programmed into the image */
    uint64_t crc_errors;         /* command or data CRC mismatches seen */
    uint64_t write_rejects;      /* blocks refused (CRC, fault, protection) */
    uint64_t power_cycles;
};

struct sdcard;

/* Defaults: SDHC, ncr 1, latency 2, busy 4, no faults, a made-up SanDisk CID. */
void sdcard_config_init(struct sdcard_config *cfg);

/* A card on bd.  Capacity comes from the image size, rounded down to what the
 * CSD can express; a read-only bd makes a temporarily write-protected card.
 * take_bd: the card closes bd when freed (on failure the caller still owns it). */
int sdcard_open(struct blockdev *bd, bool take_bd, const struct sdcard_config *cfg,
                struct sdcard **out, struct mf_err *err);
int sdcard_open_image(const char *path, const struct sdcard_config *cfg, struct sdcard **out,
                      struct mf_err *err);
int sdcard_flush(struct sdcard *card, struct mf_err *err);
void sdcard_free(struct sdcard *card);

/* Power and socket. */
void sdcard_power_cycle(struct sdcard *card);          /* back to power-on SD mode */
void sdcard_set_present(struct sdcard *card, bool present);  /* insert = fresh power */

/* SPI mode. */
void sdcard_spi_cs(struct sdcard *card, bool active);
uint8_t sdcard_spi_byte(struct sdcard *card, uint8_t mosi);  /* one clocked byte, CS active */
/* One whole CS window: CS active, len bytes (tx NULL = 0xFF, rx NULL = drop), CS inactive. */
void sdcard_spi_window(struct sdcard *card, const uint8_t *tx, uint8_t *rx, size_t len);

/* SD mode.  wait: 0 no response, 1 short (resp[0..3]), 2 long (resp[0..15]).
 * Return an enum sdcard_sdio_error. */
int sdcard_sd_command(struct sdcard *card, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16]);
int sdcard_sd_read_block(struct sdcard *card, uint8_t cmd, uint32_t arg, uint8_t buf[512]);
int sdcard_sd_write_block(struct sdcard *card, uint8_t cmd, uint32_t arg, const uint8_t buf[512]);

/* Inspection. */
bool sdcard_in_spi_mode(const struct sdcard *card);
uint32_t sdcard_sector_count(const struct sdcard *card);
int sdcard_sd_state(const struct sdcard *card);  /* 0 idle .. 7 prg */
const struct sdcard_stats *sdcard_stats(const struct sdcard *card);
void sdcard_reset_stats(struct sdcard *card);
const struct sdcard_config *sdcard_config(const struct sdcard *card);

/* Faults, each for the next n events. */
void sdcard_set_fail_writes(struct sdcard *card, unsigned n);    /* write error, nothing stored */
void sdcard_set_corrupt_reads(struct sdcard *card, unsigned n);  /* one data bit flipped after CRC */
/* One bit of a written block flipped on its way in, as a noisy bus would:
 * SPI answers with a CRC-error data response (if CRC checking is on), SD mode
 * with SDCARD_SDIO_CRC_FAIL; nothing is stored. */
void sdcard_set_corrupt_writes(struct sdcard *card, unsigned n);
void sdcard_set_drop_commands(struct sdcard *card, unsigned n);  /* command ignored, no response */
/* The card loses power after n more sector writes (0: now, n < 0: never); it
 * then acts as an empty socket until sdcard_power_cycle. */
void sdcard_set_power_cut(struct sdcard *card, long n);
void sdcard_set_write_protect(struct sdcard *card, enum sdcard_wp wp);

#endif
