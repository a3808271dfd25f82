/* The card-bus seam: the SD protocol code sits on this.
 *
 * A card is reached either over SPI (a byte stream cut into chip-select
 * windows) or over the SD bus (commands with responses, and 512-byte data
 * blocks).  Klipper offers both: spi_send/spi_transfer and sdio_*.  The SD
 * layer picks the protocol by bus kind; it never sees Klipper messages.
 */
#ifndef MF_SD_CARDBUS_H
#define MF_SD_CARDBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum cardbus_kind { CARDBUS_SPI, CARDBUS_SDIO };

/* One chip-select window: CS goes active, len bytes are clocked, CS goes
 * inactive.  rx == NULL means write-only (no reply needed, cheapest).
 * An idle op only lets time pass, as long as clocking len bytes of 0xFF
 * would (a card programming a block): tx and rx are NULL, len may exceed
 * max_spi_chunk, and the bus may clock fewer bytes slower with the card
 * deselected, so that fewer cross its link. */
struct spi_op {
    const uint8_t *tx;
    uint8_t *rx;
    uint16_t len;
    bool idle;
};

/* SD bus, pipelined: one step of a batch that the bus runs in order
 * without waiting for a reply in between.  Klipper's MCU holds one block,
 * so a write is a FILL of its buffer followed by a WRITE of it. */
enum sd_step_kind {
    SD_STEP_COMMAND,           /* cmd, arg, wait -> resp */
    SD_STEP_READ,              /* cmd (17), arg -> one block into rbuf */
    SD_STEP_FILL,              /* wbuf into the bus's block buffer (no reply) */
    SD_STEP_WRITE,             /* cmd (24), arg: the buffer to the card */
};

struct sd_step {
    enum sd_step_kind kind;
    uint8_t cmd;
    uint8_t wait;              /* command: 0 none, 1 short, 2 long */
    uint32_t arg;
    uint8_t *rbuf;             /* read: 512 bytes */
    const uint8_t *wbuf;       /* fill: 512 bytes */
    uint8_t resp[16];          /* command: the response */
    int sdio_error;            /* the MCU's sdio error code (0 = OK) */
    bool lost;                 /* some reply of this step never came */
};

/* Result of a lost reply: the operation may or may not have run on the card.
 * The SD layer retries the whole card operation (sector), never a piece. */
#define CARDBUS_LOST (-2)

struct cardbus;

struct cardbus_ops {
    /* SPI: run ops in order, pipelined as the bus allows.  Returns 0, -1 with
     * err set, or CARDBUS_LOST if some reply never arrived. */
    int (*spi_batch)(struct cardbus *bus, const struct spi_op *ops, size_t n, struct mf_err *err);

    /* SD bus.  wait: 0 none, 1 short (4 bytes), 2 long (16 bytes).
     * *sdio_error receives the MCU's sdio error code (0 = OK; see
     * klipper-protocol reference: 2 timeout, 3 command timeout, 4 CRC ...). */
    int (*sd_command)(struct cardbus *bus, uint8_t cmd, uint32_t arg, int wait, uint8_t resp[16],
                      int *sdio_error, struct mf_err *err);
    /* One-block data commands (CMD17/CMD24) through the MCU's data buffer. */
    int (*sd_read_block)(struct cardbus *bus, uint8_t cmd, uint32_t arg, uint8_t buf[512],
                         int *sdio_error, struct mf_err *err);
    int (*sd_write_block)(struct cardbus *bus, uint8_t cmd, uint32_t arg, const uint8_t buf[512],
                          int *sdio_error, struct mf_err *err);
    int (*sd_set_speed)(struct cardbus *bus, uint32_t hz, struct mf_err *err);
    /* Optional (NULL: one operation at a time): run every step in order,
     * pipelined.  Returns 0, -1 (err set), or CARDBUS_LOST when some reply
     * never came: the steps marked lost may or may not have run and their
     * results mean nothing; the others ran and their results are good. */
    int (*sd_batch)(struct cardbus *bus, struct sd_step *steps, size_t n, struct mf_err *err);

    void (*close)(struct cardbus *bus);
};

struct cardbus {
    const struct cardbus_ops *ops;
    enum cardbus_kind kind;
    /* Largest len of one spi_op the bus carries (Klipper: 56 or 55). */
    uint16_t max_spi_chunk;
    /* Human name for messages, e.g. "hardware SPI spi1 (CS PA4)". */
    char name[96];
};

#endif
