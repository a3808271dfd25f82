/* The board's SD card socket: the card model (sim/card) and the buses that
 * reach it.  Until board definitions say which SPI bus and CS pin (or SDIO)
 * the socket is wired to, every configured bus reaches it. */
#ifndef SIM_CARDSLOT_H
#define SIM_CARDSLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "sim/card/sdcard.h"

struct sim_cardslot {
    struct sdcard *card; /* NULL: no card image given (empty socket) */
};

/* Is the card on this SPI window?  hardware: spi_bus valid; else software. */
static inline struct sdcard *cardslot_spi(struct sim_cardslot *s, bool hardware, uint32_t spi_bus,
                                          bool has_cs, uint32_t cs_pin)
{
    (void)hardware, (void)spi_bus, (void)has_cs, (void)cs_pin;
    return s ? s->card : NULL;
}

static inline struct sdcard *cardslot_sdio(struct sim_cardslot *s, uint32_t sdio_bus)
{
    (void)sdio_bus;
    return s ? s->card : NULL;
}

#endif
