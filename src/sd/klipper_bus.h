/* Card buses provided by the Klipper firmware on a board: hardware SPI
 * (spi_set_bus), software SPI (spi_set_sw_bus) and SDIO (sdio_*). */
#ifndef MF_SD_KLIPPER_BUS_H
#define MF_SD_KLIPPER_BUS_H

#include <stdint.h>

#include "klipper/session.h"
#include "sd/cardbus.h"

#define KLIPPER_SD_SPI_RATE 400000u
#define KLIPPER_SD_SPI_FAST_RATE 4000000u

struct klipper_spi_config {
    const char *bus;       /* a spi_bus name, or "swspi" for software SPI */
    const char *cs_pin;
    const char *sw_pins[3];/* miso, mosi, sclk: software SPI only */
    uint32_t rate;         /* Hz */
};

/* Configure the MCU (allocate_oids, config_spi, bus, finalize_config) and
 * return a bus.  The MCU must be unconfigured; afterwards it is configured
 * until reset. */
int klipper_spi_open(struct kl_session *s, const struct klipper_spi_config *cfg, struct cardbus **out,
                     struct mf_err *err);
int klipper_sdio_open(struct kl_session *s, const char *sdio_bus, struct cardbus **out, struct mf_err *err);

#endif
