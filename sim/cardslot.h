/* The board's SD card socket: the card model (sim/card) and the wires that
 * reach it.  A board definition says where the socket sits: on a hardware
 * SPI bus or on software-SPI pins, with a chip-select pin, and whether the
 * MCU's SDIO peripheral is wired to it.  Only SPI traffic clocked on the
 * socket's pins with its chip select reaches the card; other buses see an
 * empty bus (MISO reads 0xFF).  Without a board (--mcu, --dict) every bus
 * reaches the socket. */
#ifndef SIM_CARDSLOT_H
#define SIM_CARDSLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/card/sdcard.h"
#include "util/err.h"

struct board;
struct kl_dict;

/* SPI pins as the dictionary's "pin" enumeration numbers them. */
struct spi_pins {
    uint32_t miso, mosi, sclk;
};

struct sim_cardslot {
    struct sdcard *card; /* NULL: no card image given (empty socket) */
    bool any_bus;        /* no board definition: every bus reaches the socket */
    /* SPI side of the socket (with a board). */
    bool spi_wired;
    struct spi_pins pins;
    uint32_t cs_pin;
    uint64_t hw_buses;   /* bit v: hardware spi_bus value v runs on the socket's pins */
    /* SD side. */
    bool sdio_wired;
    bool sdio_any;       /* any SDIO bus the firmware has (the board names none) */
    int32_t sdio_bus;
};

/* Wire the socket as the board says, resolving pin and bus names through
 * the dictionary of the firmware the board runs.  board NULL: every bus
 * reaches the socket.  Fails (MF_E_MISMATCH) when the dictionary lacks a
 * pin or bus the board names. */
int cardslot_wire(struct sim_cardslot *s, const struct board *b, const struct kl_dict *d, struct mf_err *err);

/* The card, if this SPI window reaches it: a hardware bus (by its
 * enumeration value) or software SPI on pins, with this chip select
 * (has_cs false: a device configured without one). */
struct sdcard *cardslot_spi(const struct sim_cardslot *s, bool hardware, uint32_t spi_bus,
                            const struct spi_pins *sw_pins, bool has_cs, uint32_t cs_pin);
/* The card, if this SDIO bus reaches it. */
struct sdcard *cardslot_sdio(const struct sim_cardslot *s, uint32_t sdio_bus);

#endif
