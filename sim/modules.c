/* The build: which modules a virtual MCU has, in the order Klipper's
 * src/Makefile and the chip's Makefile list their files.  The order fixes
 * the message ids, so keep it when adding modules. */
#include "command.h"

const struct sim_module *const sim_modules[] = {
    &sched_module,
    &basecmd_module,
    &debugcmds_module,
    &gpiocmds_module,
    &stepper_module,
    &endstop_module,
    &trsync_module,
    &adccmds_module,
    &spicmds_module,
    &i2ccmds_module,
    &pwmcmds_module,
    &sdiocmds_module,
    &buttons_module,
    &tmcuart_module,
    &neopixel_module,
    &pulse_counter_module,
    &lcd_st7920_module,
    &lcd_hd44780_module,
    &spi_software_module,
    &i2c_software_module,
    &thermocouple_module,
    &sensor_adxl345_module,
    &sensor_lis2dw_module,
    &sensor_mpu9250_module,
    &sensor_hx71x_module,
    &sensor_ldc1612_module,
    &sensor_angle_module,
    &sensor_bulk_module,
    &chip_stm32_module,
    &chip_lpc176x_module,
    &linux_module,
    NULL,
};

bool sim_module_present(const struct sim_module *mod, const struct mcu_type *t)
{
    return !mod->present || (t && mod->present(t));
}
