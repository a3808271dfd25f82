/* MCU type tables.  Bus names, numbers and pins are those Klipper's
 * src/stm32/spi.c, stm32h7_spi.c, i2c.c, stm32f0_i2c.c and src/lpc176x/
 * declare for each chip; clocks are its Kconfig defaults. */
#include "mcutypes.h"

#include <stdio.h>
#include <string.h>

#define BUS_END { NULL, 0, NULL }

/* stm32f1 (spi.c, CONFIG_MACH_STM32F1) */
static const struct mcu_bus spi_f1[] = {
    { "spi2_PB14_PB15_PB13", 0, "PB14,PB15,PB13" }, { "spi1_PA6_PA7_PA5", 1, "PA6,PA7,PA5" },
    { "spi1_PB4_PB5_PB3", 2, "PB4,PB5,PB3" },       { "spi3_PB4_PB5_PB3", 3, "PB4,PB5,PB3" },
    { "spi2", 0, "PB14,PB15,PB13" }, { "spi1", 1, "PA6,PA7,PA5" },
    { "spi1a", 2, "PB4,PB5,PB3" },   { "spi3", 3, "PB4,PB5,PB3" },
    BUS_END,
};

/* stm32f4 common part; SPI4 / SPI6 entries are added per chip below. */
#define SPI_F4_COMMON \
    { "spi2_PB14_PB15_PB13", 0, "PB14,PB15,PB13" }, { "spi1_PA6_PA7_PA5", 1, "PA6,PA7,PA5" }, \
    { "spi1_PB4_PB5_PB3", 2, "PB4,PB5,PB3" },       { "spi2_PC2_PC3_PB10", 3, "PC2,PC3,PB10" }, \
    { "spi3_PB4_PB5_PB3", 4, "PB4,PB5,PB3" },       { "spi3_PC11_PC12_PC10", 5, "PC11,PC12,PC10" }, \
    { "spi2_PI2_PI3_PI1", 6, "PI2,PI3,PI1" }, \
    { "spi2", 0, "PB14,PB15,PB13" }, { "spi1", 1, "PA6,PA7,PA5" }, { "spi1a", 2, "PB4,PB5,PB3" }, \
    { "spi2a", 3, "PC2,PC3,PB10" },  { "spi3", 4, "PB4,PB5,PB3" }, { "spi3a", 5, "PC11,PC12,PC10" }, \
    { "spi2b", 6, "PI2,PI3,PI1" }

static const struct mcu_bus spi_f407[] = { SPI_F4_COMMON, BUS_END };
/* SPI4 but no SPI6: f401, f446 */
static const struct mcu_bus spi_f446[] = {
    SPI_F4_COMMON,
    { "spi4_PE13_PE14_PE12", 7, "PE13,PE14,PE12" }, { "spi4", 7, "PE13,PE14,PE12" },
    BUS_END,
};
static const struct mcu_bus spi_f429[] = {
    SPI_F4_COMMON,
    { "spi4_PE13_PE14_PE12", 7, "PE13,PE14,PE12" }, { "spi4", 7, "PE13,PE14,PE12" },
    { "spi6_PG12_PG14_PG13", 8, "PG12,PG14,PG13" },
    BUS_END,
};

/* stm32g0 with SPI3 (g0b0, g0b1) */
static const struct mcu_bus spi_g0b1[] = {
    { "spi2_PB14_PB15_PB13", 0, "PB14,PB15,PB13" }, { "spi1_PA6_PA7_PA5", 1, "PA6,PA7,PA5" },
    { "spi1_PB4_PB5_PB3", 2, "PB4,PB5,PB3" },       { "spi2_PC2_PC3_PB10", 3, "PC2,PC3,PB10" },
    { "spi2_PB2_PB11_PB10", 4, "PB2,PB11,PB10" },   { "spi2_PB6_PB7_PB8", 5, "PB6,PB7,PB8" },
    { "spi3_PB4_PB5_PB3", 6, "PB4,PB5,PB3" },       { "spi3_PC11_PC12_PC10", 7, "PC11,PC12,PC10" },
    { "spi2", 0, "PB14,PB15,PB13" }, { "spi1", 1, "PA6,PA7,PA5" }, { "spi1a", 2, "PB4,PB5,PB3" },
    { "spi2a", 3, "PC2,PC3,PB10" },  { "spi3", 6, "PB4,PB5,PB3" },
    BUS_END,
};

/* stm32h7 (stm32h7_spi.c) */
static const struct mcu_bus spi_h7[] = {
    { "spi2", 0, "PB14,PB15,PB13" }, { "spi1", 1, "PA6,PA7,PA5" },    { "spi1a", 2, "PB4,PB5,PB3" },
    { "spi2a", 3, "PC2,PC3,PB10" },  { "spi3a", 4, "PC11,PC12,PC10" }, { "spi4", 5, "PE13,PE14,PE12" },
    { "spi5", 6, "PF8,PF9,PF7" },    { "spi5a", 7, "PH7,PF11,PH6" },   { "spi6", 8, "PG12,PG14,PG13" },
    { "spi2b", 9, "PI2,PI3,PI1" },
    BUS_END,
};

/* rp2040/rp2350 (src/rp2040/spi.c, i2c.c): the first pin set of each bus */
static const struct mcu_bus spi_rp2040[] = {
    { "spi0_gpio0_gpio3_gpio2", 0, "gpio0,gpio3,gpio2" }, { "spi1_gpio8_gpio11_gpio10", 5, "gpio8,gpio11,gpio10" },
    BUS_END,
};
static const struct mcu_bus i2c_rp2040[] = {
    { "i2c0a", 0, "gpio0,gpio1" }, { "i2c1a", 8, "gpio2,gpio3" }, BUS_END,
};

static const struct mcu_bus spi_lpc[] = {
    { "ssp0", 0, "P0.17,P0.18,P0.15" }, { "ssp1", 1, "P0.8,P0.9,P0.7" }, BUS_END,
};

/* i2c.c for f1 / f4 */
static const struct mcu_bus i2c_f1[] = {
    { "i2c1", 0, "PB6,PB7" }, { "i2c1a", 1, "PB8,PB9" }, { "i2c2", 2, "PB10,PB11" }, BUS_END,
};
static const struct mcu_bus i2c_f4x5[] = {
    { "i2c1", 0, "PB6,PB7" },  { "i2c1a", 1, "PB8,PB9" },  { "i2c2", 2, "PB10,PB11" },
    { "i2c3", 3, "PA8,PC9" },  { "i2c2a", 4, "PH4,PH5" },  { "i2c3a", 5, "PH7,PH8" },
    { "i2c2_PF1_PF0", 6, "PF1,PF0" },
    BUS_END,
};
/* stm32f4 outside the f4x5 series (f401, f446) */
static const struct mcu_bus i2c_f446[] = {
    { "i2c1", 0, "PB6,PB7" }, { "i2c1a", 1, "PB8,PB9" }, { "i2c2", 2, "PB10,PB11" },
    { "i2c3", 3, "PA8,PC9" },
    BUS_END,
};
/* stm32f0_i2c.c for g0 (with I2C3) and h7 */
static const struct mcu_bus i2c_g0b1[] = {
    { "i2c1_PB6_PB7", 0, "PB6,PB7" },     { "i2c1_PB8_PB9", 1, "PB8,PB9" },
    { "i2c1_PA9_PA10", 2, "PA9,PA10" },   { "i2c2_PB10_PB11", 3, "PB10,PB11" },
    { "i2c2_PB13_PB14", 4, "PB13,PB14" }, { "i2c2_PA7_PA6", 5, "PA7,PA6" },
    { "i2c3_PB3_PB4", 6, "PB3,PB4" },     { "i2c3_PC0_PC1", 7, "PC0,PC1" },
    { "i2c3_PA7_PA6", 8, "PA7,PA6" },
    BUS_END,
};
static const struct mcu_bus i2c_h7[] = {
    { "i2c1_PB6_PB7", 0, "PB6,PB7" },     { "i2c1_PB8_PB9", 1, "PB8,PB9" },
    { "i2c2_PB10_PB11", 2, "PB10,PB11" }, { "i2c3_PA8_PC9", 3, "PA8,PC9" },
    BUS_END,
};
static const struct mcu_bus i2c_lpc[] = {
    { "i2c1", 0, "P0.1,P0.0" }, { "i2c1a", 1, "P0.20,P0.19" }, { "i2c0", 2, "P0.28,P0.27" },
    { "i2c2", 3, "P0.11,P0.10" },
    BUS_END,
};

#define STM32_USB "PA11,PA12"
#define STM32_SERIAL "PA10,PA9"
#define STM32_CAN "PA11,PA12" /* can.c / fdcan.c: the first pin pair */

static const struct mcu_type types[] = {
    { "stm32f103xe", FAMILY_STM32F1, 72000000, "ABCDEFG", spi_f1, i2c_f1, false, 32768,
      NULL, STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20010000, 512 * 1024, 0 },
    { "stm32f401xc", FAMILY_STM32F4, 84000000, "ABCDEH", spi_f446, i2c_f446, true, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20010000, 256 * 1024, 0 },
    { "stm32f405xx", FAMILY_STM32F4, 168000000, "ABCDEFGHI", spi_f407, i2c_f4x5, true, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20020000, 1024 * 1024, 0 },
    { "stm32f407xx", FAMILY_STM32F4, 168000000, "ABCDEFGHI", spi_f407, i2c_f4x5, true, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20020000, 1024 * 1024, 0 },
    { "stm32f429xx", FAMILY_STM32F4, 168000000, "ABCDEFGHI", spi_f429, i2c_f4x5, true, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20030000, 1024 * 1024, 0 },
    { "stm32f446xx", FAMILY_STM32F4, 180000000, "ABCDEFGH", spi_f446, i2c_f446, true, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20020000, 512 * 1024, 0 },
    { "stm32g0b0xx", FAMILY_STM32G0, 64000000, "ABCDEF", spi_g0b1, i2c_g0b1, false, 32768,
      "PF0,PF1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20024000, 512 * 1024, 0 },
    { "stm32g0b1xx", FAMILY_STM32G0, 64000000, "ABCDEF", spi_g0b1, i2c_g0b1, false, 32768,
      "PF0,PF1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x20024000, 512 * 1024, 0 },
    { "stm32h723xx", FAMILY_STM32H7, 520000000, "ABCDEFGH", spi_h7, i2c_h7, false, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x24020000, 1024 * 1024, 0 },
    { "stm32h743xx", FAMILY_STM32H7, 400000000, "ABCDEFGHI", spi_h7, i2c_h7, false, 32768,
      "PH0,PH1", STM32_USB, STM32_SERIAL, STM32_CAN, 0x08000000, 0x24080000, 2048 * 1024, 0 },
    { "lpc1768", FAMILY_LPC176X, 100000000, NULL, spi_lpc, i2c_lpc, false, 255,
      NULL, "P0.30,P0.29,P2.9", "P0.3,P0.2", "P0.0,P0.1", 0x00000000, 0x10008000, 512 * 1024, 0 },
    { "lpc1769", FAMILY_LPC176X, 120000000, NULL, spi_lpc, i2c_lpc, false, 255,
      NULL, "P0.30,P0.29,P2.9", "P0.3,P0.2", "P0.0,P0.1", 0x00000000, 0x10008000, 512 * 1024, 0 },
    /* Flash is the 2 MiB QSPI chip of most boards; a build without a
     * bootloader starts with boot stage 2 (rp2040 only, Kconfig
     * FLASH_BOOT_ADDRESS). */
    { "rp2040", FAMILY_RP2040, 12000000, NULL, spi_rp2040, i2c_rp2040, false, 255,
      NULL, NULL, "gpio1,gpio0", "gpio4,gpio5", 0x10000000, 0x20042000, 2048 * 1024, 256 },
    { "rp2350", FAMILY_RP2040, 150000000, NULL, spi_rp2040, i2c_rp2040, false, 255,
      NULL, NULL, "gpio1,gpio0", "gpio4,gpio5", 0x10000000, 0x20082000, 2048 * 1024, 0 },
};

const struct mcu_type *mcu_type_find(const char *name)
{
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (!strcmp(types[i].name, name))
            return &types[i];
    return NULL;
}

const char *mcu_type_names(void)
{
    static char buf[512];
    if (!buf[0]) {
        size_t n = 0;
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]) && n < sizeof(buf); i++)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "", types[i].name);
    }
    return buf;
}

int mcu_pin_ranges(const struct mcu_type *t)
{
    if (t->family == FAMILY_RP2040)
        return 1;
    return t->gpio_ports ? (int)strlen(t->gpio_ports) : 5;
}

void mcu_pin_range(const struct mcu_type *t, int i, char name[8], int *start, int *count)
{
    if (t->family == FAMILY_RP2040) {
        snprintf(name, 8, "gpio0");
        *start = 0;
        *count = !strcmp(t->name, "rp2350") ? 48 : 30;
    } else if (t->gpio_ports) {
        snprintf(name, 8, "P%c0", t->gpio_ports[i]);
        *start = (t->gpio_ports[i] - 'A') * 16;
        *count = 16;
    } else {
        snprintf(name, 8, "P%d.0", i);
        *start = i * 32;
        *count = 32;
    }
}

const char *mcu_bad_output_pin_text(const struct mcu_type *t)
{
    return t && t->family == FAMILY_LPC176X ? "Not an output pin" : "Not a valid pin";
}

const char *mcu_bad_input_pin_text(const struct mcu_type *t)
{
    return t && t->family == FAMILY_LPC176X ? "Not an input pin" : "Not a valid pin";
}

const char *mcu_bad_spi_bus_text(const struct mcu_type *t)
{
    return t && t->family == FAMILY_LPC176X ? "Invalid spi_setup parameters" : "Invalid spi bus";
}
