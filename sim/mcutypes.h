/* The MCU types the virtual board can pretend to be: the facts a real
 * Klipper build for that chip puts into its data dictionary (clock, pins,
 * buses, whether it has SDIO), plus where its flash and RAM sit for the
 * fake firmware maker. */
#ifndef SIM_MCUTYPES_H
#define SIM_MCUTYPES_H

#include <stdbool.h>
#include <stdint.h>

enum mcu_family { FAMILY_STM32F1, FAMILY_STM32F4, FAMILY_STM32G0, FAMILY_STM32H7, FAMILY_LPC176X, FAMILY_RP2040 };

/* A named bus as the firmware enumerates it: "spi1" = 1 on pins "PA6,PA7,PA5". */
struct mcu_bus {
    const char *name;
    int value;
    const char *pins;
};

struct mcu_type {
    const char *name;          /* the dictionary's MCU constant */
    enum mcu_family family;
    uint32_t clock_freq;
    const char *gpio_ports;    /* stm32: port letters; lpc: NULL (P0..P4) */
    const struct mcu_bus *spi_buses;
    const struct mcu_bus *i2c_buses;
    bool has_sdio;
    uint32_t pwm_max;
    const char *reserve_crystal; /* NULL if the build declares none */
    const char *reserve_usb;
    const char *reserve_serial;
    const char *reserve_can;     /* the default CAN pins of a CAN build */
    uint32_t flash_base, ram_top;
    uint32_t flash_size;       /* bytes of on-chip flash */
    /* Bytes in front of the vector table of a build without bootloader
     * (the RP2040's boot stage 2, whose ROM starts it from flash_base). */
    uint32_t boot_stage_bytes;
};

/* NULL if unknown. */
const struct mcu_type *mcu_type_find(const char *name);
/* Comma-separated list of the known names, for usage messages. */
const char *mcu_type_names(void);

/* Number of pin ranges and the i-th one as the dictionary declares it:
 * "PA0" [0,16], "P0.0" [0,32] or "gpio0" [0,30]. */
int mcu_pin_ranges(const struct mcu_type *t);
void mcu_pin_range(const struct mcu_type *t, int i, char name[8], int *start, int *count);
/* The shutdown text an invalid pin raises as an output / as an input. */
const char *mcu_bad_output_pin_text(const struct mcu_type *t);
const char *mcu_bad_input_pin_text(const struct mcu_type *t);
/* The shutdown text spi_setup raises for a bad bus. */
const char *mcu_bad_spi_bus_text(const struct mcu_type *t);

#endif
