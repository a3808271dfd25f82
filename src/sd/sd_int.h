/* Inside the SD layer: the card object and the two protocol back ends. */
#ifndef MF_SD_SD_INT_H
#define MF_SD_SD_INT_H

#include "sd/sd.h"

/* A failure worth another try (err says what happened).  -1 is final. */
#define SD_AGAIN 1

#define SD_BLOCK 512u

/* Batches of chip-select windows for SPI mode, and the byte stream the
 * card clocked back.  Ops refer to the stream and to a buffer of bytes to
 * send by offset, so both may grow while a batch is built. */
struct spi_io {
    struct cardbus *bus;
    uint16_t chunk;            /* longest op */
    struct spi_slot *slots;    /* ops of the batch being built */
    struct spi_op *ops;
    size_t n_slots, cap_slots, cap_ops;
    uint8_t *tx;               /* bytes to send (NULL tx in a slot: 0xFF) */
    size_t tx_len, tx_cap;
    uint8_t *rx;               /* every byte clocked back since spi_io_clear */
    size_t rx_len, rx_cap;
    uint8_t *ff;               /* chunk bytes of 0xFF */
    uint64_t batches;
};

/* One protocol back end: single attempts, the retry policy lives in sd.c.
 * Each returns 0, SD_AGAIN or -1 (err set for both). */
struct sd_proto {
    int (*init)(struct sd_card *c, struct mf_err *err);
    int (*read)(struct sd_card *c, uint32_t lba, uint32_t count, uint8_t *buf, struct mf_err *err);
    int (*write)(struct sd_card *c, uint32_t lba, uint32_t count, const uint8_t *buf,
                 struct mf_err *err);
    /* Bring the card back to a known idle-transfer state after a failure. */
    int (*recover)(struct sd_card *c, struct mf_err *err);
    int (*deinit)(struct sd_card *c, struct mf_err *err);
    uint32_t max_run;          /* most sectors one read/write call may take */
};

struct sd_card {
    struct blockdev bd;        /* first, so the blockdev is the card */
    struct cardbus *bus;
    const struct sd_proto *proto;
    struct sd_options opt;
    struct sd_card_info info;
    struct sd_stats stats;
    /* SPI mode. */
    struct spi_io io;
    bool crc_on;
    uint16_t latency_guess;    /* 0xFF bytes expected before a data token */
    uint32_t write_pad;        /* 0xFF bytes after a written block (0: not yet set) */
    uint32_t max_run;          /* most sectors per read/write call */
    /* SD mode. */
    uint16_t rca;
    uint8_t polls;             /* CMD13s queued after each pipelined write */
};

extern const struct sd_proto sd_spi_proto;
extern const struct sd_proto sd_native_proto;

/* sd_native.c: runs of sectors in pipelined batches, if the bus has them. */
void sd_native_attach(struct sd_card *c);

/* Sector number to command argument. */
uint32_t sd_address(const struct sd_card *c, uint32_t lba);
/* Finish info after the registers are in; checks the card is usable. */
int sd_take_registers(struct sd_card *c, const uint8_t cid[16], const uint8_t csd[16],
                      struct mf_err *err);
/* Record a retryable failure (a fragment such as "data CRC mismatch") and
 * return SD_AGAIN. */
int sd_again(struct mf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Copy the fragment left by sd_again, to quote it in a final sentence. */
void sd_reason(const struct mf_err *err, char *buf, size_t size);
/* Initialise the card again during I/O; fails if it is another card. */
int sd_reinit(struct sd_card *c, struct mf_err *err);
/* sd_blockdev.c: point card->bd at the card's sector functions. */
void sd_blockdev_setup(struct sd_card *card);
/* The no-card sentence, for both modes. */
int sd_fail_no_card(struct sd_card *c, struct mf_err *err);
/* Whether a deadline in microseconds from mf_now_us() has passed. */
bool sd_expired(uint64_t deadline);
uint64_t sd_deadline_ms(unsigned ms);

/* sd_spi_io.c */
int spi_io_init(struct spi_io *io, struct cardbus *bus, struct mf_err *err);
void spi_io_free(struct spi_io *io);
void spi_io_begin(struct spi_io *io);          /* empty the batch */
void spi_io_clear(struct spi_io *io);          /* empty the stream */
/* Queue write-only windows carrying data (split at the chunk size). */
int spi_io_send(struct spi_io *io, const uint8_t *data, size_t len, struct mf_err *err);
/* Queue the time len bytes of 0xFF take on the bus, the card deselected
 * (cardbus.h: an idle op). */
int spi_io_idle(struct spi_io *io, size_t len, struct mf_err *err);
/* Queue windows clocking len bytes (tx NULL: 0xFF) whose replies go to the
 * stream; returns the stream offset of the first one through *at. */
int spi_io_transfer(struct spi_io *io, const uint8_t *tx, size_t len, size_t *at,
                    struct mf_err *err);
/* Run the batch: 0, -1 (err set) or CARDBUS_LOST. */
int spi_io_run(struct spi_io *io, struct mf_err *err);
/* Clock len more bytes of 0xFF into the stream in one batch of its own. */
int spi_io_more(struct spi_io *io, size_t len, struct mf_err *err);

#endif
