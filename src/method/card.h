/* A board's SD card reached through its running Klipper firmware: connect,
 * reset the MCU if it is configured, set up the bus, initialise the card and
 * mount its filesystem. */
#ifndef MF_METHOD_CARD_H
#define MF_METHOD_CARD_H

#include <stdbool.h>
#include <stdint.h>

#include "board/board.h"
#include "fat/fat.h"
#include "method/connect.h"
#include "method/progress.h"
#include "sd/cardbus.h"
#include "sd/sd.h"

enum mf_bus_kind { MF_BUS_SPI, MF_BUS_SWSPI, MF_BUS_SDIO };

/* How to reach the card: from a board definition or from options. */
struct mf_bus_spec {
    enum mf_bus_kind kind;
    char spi_bus[32];
    char cs_pin[24];
    char sw_pins[3][24];  /* miso, mosi, sclk */
    char sdio_bus[32];
    bool fast;            /* 4 MHz SPI instead of 400 kHz */
};

/* Choose the bus for a board: SDIO where the board's bootloader reads the
 * card in SD mode and the firmware offers it, else the board's SPI wiring. */
int mf_bus_from_board(const struct board *b, const struct kl_dict *d, bool fast, struct mf_bus_spec *spec,
                      struct mf_err *err);
/* "hardware SPI spi1 (CS PA4)" etc. */
void mf_bus_describe(const struct mf_bus_spec *spec, char *buf, size_t cap);

struct mf_card {
    struct mf_conn conn;
    char device[256];
    uint32_t baud;
    struct mf_bus_spec spec;
    struct cardbus *bus;
    struct sd_card *card;
    struct fat_volume *vol;  /* NULL if the card has no usable filesystem */
    char fs_error[sizeof(((struct mf_err *)0)->msg)]; /* why vol is NULL */
};

/* Connect to device and make sure the MCU is fresh (reset it if configured
 * or shut down).  Used before choosing the bus, which needs the dictionary. */
int mf_card_connect(const char *device, uint32_t baud, const struct mf_progress *p, struct mf_card *c,
                    struct mf_err *err);
/* Set up the bus, initialise the card and mount it.  With need_fs, a card
 * without a usable FAT filesystem is an error; otherwise vol stays NULL and
 * fs_error says why. */
int mf_card_attach(struct mf_card *c, const struct mf_bus_spec *spec, bool need_fs, struct mf_err *err);
/* Whether the card may be written, checked before writing anything: the
 * card's own write protection (its CSD register), then the filesystem's
 * state; each refusal says what to do. */
int mf_card_check_writable(struct mf_card *c, struct mf_err *err);

/* Unmount (writing back metadata), leave the card idle, reset the MCU so
 * Klipper finds it unconfigured, and close.  Returns -1 if the unmount
 * failed (the rest is still done). */
int mf_card_close(struct mf_card *c, bool reset_mcu, struct mf_err *err);
/* As mf_card_close with the reset, returning once the board answers again
 * (or after the reconnect timeout): whatever runs next (Klipper, another
 * command) finds it up, not in the middle of its reset. */
int mf_card_close_settled(struct mf_card *c, struct mf_err *err);

#endif
