/* The command table.  Every message the virtual MCU lists in its data
 * dictionary is declared here, next to its handler, one module per feature
 * as in Klipper's src/ (basecmd, spicmds, sdiocmds, ...).  The dictionary
 * generator walks the modules in build order, so the message ids come out
 * the way buildcommands.py assigns them, and the dispatcher binds handlers
 * by exact format text, so a given klipper.dict works the same way. */
#ifndef SIM_COMMAND_H
#define SIM_COMMAND_H

#include <stdbool.h>
#include <stdint.h>

#include "klipper/msgformat.h"
#include "mcutypes.h"

struct sim_mcu;

/* The handler also runs while the MCU is shut down. */
#define HF_IN_SHUTDOWN 0x01
/* An older format of a command: answered when a given klipper.dict lists
 * it, never put in a generated dictionary. */
#define SIM_OLD_FORMAT 0x80

typedef void (*sim_handler)(struct sim_mcu *mcu, const struct kl_msg *msg);

struct sim_command {
    const char *format;
    uint8_t flags;
    sim_handler handler; /* NULL: listed as a real build lists it, parsed but not modelled */
};

/* A simple enumeration entry (enum name, entry name, value). */
struct sim_enum {
    const char *enumeration;
    const char *name;
    int value;
};

struct sim_module {
    const char *name;
    bool (*present)(const struct mcu_type *t); /* NULL: in every build */
    const struct sim_command *commands;        /* each list ends with a NULL entry */
    const char *const *responses;              /* formats this module sends */
    const char *const *shutdowns;              /* shutdown texts it can raise */
    const struct sim_enum *enums;
    void (*shutdown)(struct sim_mcu *m);       /* run on entering shutdown, or NULL */
};

/* All modules in build order (src/Makefile order, then the chip's files). */
extern const struct sim_module *const sim_modules[];

/* Whether a module is part of the build for this MCU (t may be NULL). */
bool sim_module_present(const struct sim_module *mod, const struct mcu_type *t);

/* The modules, one per file. */
extern const struct sim_module sched_module, basecmd_module, debugcmds_module, spicmds_module,
    sdiocmds_module, chip_stm32_module, chip_lpc176x_module, linux_module;
extern const struct sim_module gpiocmds_module, stepper_module, endstop_module, trsync_module,
    adccmds_module, i2ccmds_module, pwmcmds_module, buttons_module, tmcuart_module,
    neopixel_module, pulse_counter_module, lcd_st7920_module, lcd_hd44780_module,
    spi_software_module, i2c_software_module, thermocouple_module, sensor_adxl345_module,
    sensor_lis2dw_module, sensor_mpu9250_module, sensor_hx71x_module, sensor_ldc1612_module,
    sensor_angle_module, sensor_bulk_module;

#endif
