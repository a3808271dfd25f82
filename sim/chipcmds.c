/* The chip's own files: the reset command of ARM Cortex-M builds
 * (generic/armcm_reset.c) and the shutdown texts of each family's gpio,
 * adc, spi, i2c and pwm drivers. */
#include "mcu.h"

static void command_reset(struct sim_mcu *m, const struct kl_msg *msg)
{
    /* NVIC_SystemReset: no ack, the board goes away and comes back. */
    sim_mcu_request(m, SIM_REQ_RESET);
}

static bool stm32_build(const struct mcu_type *t)
{
    return t->family != FAMILY_LPC176X;
}

static bool lpc176x_build(const struct mcu_type *t)
{
    return t->family == FAMILY_LPC176X;
}

static const struct sim_command reset_commands[] = {
    { "reset", HF_IN_SHUTDOWN, command_reset },
    { NULL, 0, NULL },
};

const struct sim_module chip_stm32_module = {
    "stm32", stm32_build,
    reset_commands,
    NULL,
    (const char *const[]){ "Not a valid pin", "Not a valid ADC pin", "Invalid spi bus", "Unsupported i2c bus",
                           "Failed to send i2c addr", "Not a valid PWM pin",
                           "PWM already programmed at different speed", NULL },
    NULL,
    NULL,
};

const struct sim_module chip_lpc176x_module = {
    "lpc176x", lpc176x_build,
    reset_commands,
    NULL,
    (const char *const[]){ "Not an output pin", "Not an input pin", "Not a valid ADC pin",
                           "Invalid spi_setup parameters", "Invalid i2c bus", "i2c timeout",
                           "Failed to send i2c start", "Not a valid PWM pin",
                           "PWM already programmed at different speed", "PWM output already in use", NULL },
    NULL,
    NULL,
};
