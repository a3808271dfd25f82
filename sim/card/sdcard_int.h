/* Inside the card model: state shared by the SPI and SD-mode halves. */
#ifndef MF_SIM_CARD_SDCARD_INT_H
#define MF_SIM_CARD_SDCARD_INT_H

#include "sdcard.h"

#define SDC_BLOCK 512u

/* SD-mode card states (card status bits 12..9). */
enum sdc_state {
    SDC_IDLE = 0, SDC_READY = 1, SDC_IDENT = 2, SDC_STBY = 3,
    SDC_TRAN = 4, SDC_DATA = 5, SDC_RCV = 6, SDC_PRG = 7,
};

/* What the SPI receiver is doing with MOSI bytes. */
enum spi_rx {
    SPI_RX_CMD,          /* looking for a command frame */
    SPI_RX_TOKEN_SINGLE, /* CMD24 accepted, waiting for 0xFE */
    SPI_RX_TOKEN_MULTI,  /* CMD25 active, waiting for 0xFC or 0xFD */
    SPI_RX_DATA,         /* collecting 512 data bytes + CRC16 */
};

/* SPI R1 bits. */
#define R1_IDLE 0x01
#define R1_ILLEGAL 0x04
#define R1_CRC 0x08
#define R1_ADDRESS 0x20
#define R1_PARAM 0x40
/* SPI R2 second byte bits. */
#define R2_ERROR 0x04
#define R2_WP_VIOLATION 0x20
#define R2_OUT_OF_RANGE 0x80

/* SD-mode card status bits. */
#define ST_OUT_OF_RANGE (1u << 31)
#define ST_ADDRESS_ERROR (1u << 30)
#define ST_BLOCK_LEN_ERROR (1u << 29)
#define ST_WP_VIOLATION (1u << 26)
#define ST_COM_CRC_ERROR (1u << 23)
#define ST_ILLEGAL_COMMAND (1u << 22)
#define ST_ERROR (1u << 19)
#define ST_READY_FOR_DATA (1u << 8)
#define ST_APP_CMD (1u << 5)

struct sdcard {
    struct sdcard_config cfg;
    struct blockdev *bd;
    bool own_bd;
    uint32_t sectors;  /* capacity the CSD states */
    uint8_t cid[16], csd[16];

    /* Power-on state. */
    bool dead;          /* lost power through the power-cut fault */
    bool spi_mode;
    bool initialised;   /* ACMD41 finished */
    bool app_cmd;
    bool crc_on;        /* SPI: CMD59 */
    unsigned acmd41_polls;
    uint32_t block_len;

    /* SPI half. */
    bool cs;
    uint8_t frame[6];
    unsigned frame_len;
    enum spi_rx rx;
    uint8_t blk[SDC_BLOCK + 2];
    unsigned blk_len;
    uint32_t wr_lba;
    bool wr_multi;      /* the block being received belongs to a CMD25 */
    bool wr_failed;     /* a block of this CMD25 was refused: refuse the rest */
    uint8_t *out;       /* pending MISO bytes */
    size_t out_cap, out_pos, out_len;
    unsigned busy;      /* 0x00 bytes to send once out[] is drained */
    uint64_t busy_until_ns; /* timed busy (cfg.clock_ns): 0x00 until then */
    bool read_multi;    /* CMD18 active until CMD12 */
    bool read_past_end; /* its error token for the block past the end is out */
    uint32_t next_lba;
    uint8_t r2;         /* SPI status flags, cleared when read by CMD13 */

    /* SD-mode half. */
    enum sdc_state state;
    uint16_t rca;
    uint32_t status;    /* clear-on-read error bits */
    unsigned prg_left;
    uint64_t prg_until_ns;  /* with a clock: when programming ends by itself */

    /* Faults. */
    unsigned fail_writes, corrupt_reads, corrupt_writes, drop_commands;
    long power_cut;

    struct sdcard_stats stats;
};

/* sdcard_regs.c: registers and the card's own CRCs. */
uint8_t sdc_crc7(const uint8_t *p, size_t n);
uint16_t sdc_crc16(const uint8_t *p, size_t n);
void sdc_build_registers(struct sdcard *c);
uint32_t sdc_ocr(const struct sdcard *c);

/* sdcard.c: storage and shared rules. */
bool sdc_alive(const struct sdcard *c);
void sdc_note_command(struct sdcard *c, uint8_t cmd, bool app);
/* Address argument to sector, or false if misaligned / out of range
 * (*why gets ST_ADDRESS_ERROR or ST_OUT_OF_RANGE). */
bool sdc_addr_to_lba(const struct sdcard *c, uint32_t arg, uint32_t *lba, uint32_t *why);
/* Read one sector; applies the corrupt-read fault after the CRC is taken
 * (returns true if a bit was flipped).  *crc gets the CRC of the true data. */
bool sdc_read_sector(struct sdcard *c, uint32_t lba, uint8_t *buf, uint16_t *crc);
/* Program one sector.  Returns 0 stored, or the reason it was refused:
 * ST_WP_VIOLATION or ST_ERROR. */
uint32_t sdc_write_sector(struct sdcard *c, uint32_t lba, const uint8_t *buf);
bool sdc_write_protected(const struct sdcard *c);
/* The corrupt-write fault: true if this incoming block is to be garbled. */
bool sdc_take_corrupt_write(struct sdcard *c);
void sdc_go_idle(struct sdcard *c);

#endif
