/* Modules a real build carries but the virtual board does not model:
 * their commands are listed in the dictionary (so the ids and the command
 * count are those of a real build) and are parsed when received; config_*
 * commands take their oid, everything else is accepted and ignored.
 * Formats, responses and shutdown texts are Klipper's. */
#include "command.h"

#define NONE ((const char *const[]){ NULL })
#define END { NULL, 0, NULL }

const struct sim_module gpiocmds_module = {
    "gpiocmds", NULL,
    (const struct sim_command[]){
        { "config_digital_out oid=%c pin=%u value=%c default_value=%c max_duration=%u", 0, NULL },
        { "set_digital_out_pwm_cycle oid=%c cycle_ticks=%u", 0, NULL },
        { "queue_digital_out oid=%c clock=%u on_ticks=%u", 0, NULL },
        { "update_digital_out oid=%c value=%c", 0, NULL },
        { "set_digital_out pin=%u value=%c", 0, NULL },
        END,
    },
    NONE,
    (const char *const[]){ "Missed scheduling of next digital out event",
                           "Scheduled digital out event will exceed max_duration",
                           "Can not set soft pwm cycle ticks while updates pending",
                           "update_digital_out not valid with active queue", NULL },
    NULL,
    NULL,
};

const struct sim_module stepper_module = {
    "stepper", NULL,
    (const struct sim_command[]){
        { "config_stepper oid=%c step_pin=%c dir_pin=%c invert_step=%c step_pulse_ticks=%u", 0, NULL },
        { "queue_step oid=%c interval=%u count=%hu add=%hi", 0, NULL },
        { "set_next_step_dir oid=%c dir=%c", 0, NULL },
        { "reset_step_clock oid=%c clock=%u", 0, NULL },
        { "stepper_get_position oid=%c", 0, NULL },
        { "stepper_stop_on_trigger oid=%c trsync_oid=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "stepper_position oid=%c pos=%i", NULL },
    (const char *const[]){ "Stepper too far in past", "Invalid count parameter",
                           "Can't reset time when stepper active", NULL },
    NULL,
    NULL,
};

const struct sim_module endstop_module = {
    "endstop", NULL,
    (const struct sim_command[]){
        { "config_endstop oid=%c pin=%c pull_up=%c", 0, NULL },
        { "endstop_home oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u pin_value=%c "
          "trsync_oid=%c trigger_reason=%c", 0, NULL },
        { "endstop_query_state oid=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "endstop_state oid=%c homing=%c next_clock=%u pin_value=%c", NULL },
    NONE,
    NULL,
    NULL,
};

const struct sim_module trsync_module = {
    "trsync", NULL,
    (const struct sim_command[]){
        { "config_trsync oid=%c", 0, NULL },
        { "trsync_start oid=%c report_clock=%u report_ticks=%u expire_reason=%c", 0, NULL },
        { "trsync_set_timeout oid=%c clock=%u", 0, NULL },
        { "trsync_trigger oid=%c reason=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "trsync_state oid=%c can_trigger=%c trigger_reason=%c clock=%u", NULL },
    (const char *const[]){ "Can't add signal that is already active", NULL },
    NULL,
    NULL,
};

const struct sim_module adccmds_module = {
    "adccmds", NULL,
    (const struct sim_command[]){
        { "config_analog_in oid=%c pin=%u", 0, NULL },
        { "query_analog_in oid=%c clock=%u sample_ticks=%u sample_count=%c rest_ticks=%u "
          "bytes_per_report=%c min_value=%hu max_value=%hu range_check_count=%c", 0, NULL },
        { "analog_in_attach_trigger_analog oid=%c trigger_analog_oid=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "analog_in_state oid=%c next_clock=%u values=%*s", NULL },
    (const char *const[]){ "ADC out of range", "Invalid analog_in bytes_per_report", NULL },
    NULL,
    NULL,
};

const struct sim_module i2ccmds_module = {
    "i2ccmds", NULL,
    (const struct sim_command[]){
        { "config_i2c oid=%c", 0, NULL },
        { "i2c_set_bus oid=%c i2c_bus=%u rate=%u address=%u", 0, NULL },
        { "i2c_transfer oid=%c write=%*s read_len=%u", 0, NULL },
        END,
    },
    (const char *const[]){ "i2c_response oid=%c i2c_bus_status=%c response=%*s", NULL },
    (const char *const[]){ "I2C NACK", "I2C START NACK", "I2C START READ NACK", "I2C Timeout", NULL },
    (const struct sim_enum[]){
        { "i2c_bus_status", "SUCCESS", 0 }, { "i2c_bus_status", "NACK", 1 },
        { "i2c_bus_status", "START_NACK", 2 }, { "i2c_bus_status", "START_READ_NACK", 3 },
        { "i2c_bus_status", "BUS_TIMEOUT", 4 }, { NULL, NULL, 0 },
    },
    NULL,
};

const struct sim_module pwmcmds_module = {
    "pwmcmds", NULL,
    (const struct sim_command[]){
        { "config_pwm_out oid=%c pin=%u cycle_ticks=%u value=%hu default_value=%hu max_duration=%u", 0, NULL },
        { "queue_pwm_out oid=%c clock=%u value=%hu", 0, NULL },
        { "set_pwm_out pin=%u cycle_ticks=%u value=%hu", 0, NULL },
        END,
    },
    NONE,
    (const char *const[]){ "Missed scheduling of next hard pwm event",
                           "Scheduled pwm event will exceed max_duration", NULL },
    NULL,
    NULL,
};

const struct sim_module buttons_module = {
    "buttons", NULL,
    (const struct sim_command[]){
        { "config_buttons oid=%c button_count=%c", 0, NULL },
        { "buttons_add oid=%c pos=%c pin=%u pull_up=%c", 0, NULL },
        { "buttons_query oid=%c clock=%u rest_ticks=%u retransmit_count=%c invert=%c", 0, NULL },
        { "buttons_ack oid=%c count=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "buttons_state oid=%c ack_count=%c state=%*s", NULL },
    (const char *const[]){ "Max of 8 buttons", "Set button past maximum button count",
                           "Invalid buttons retransmit count", NULL },
    NULL,
    NULL,
};

const struct sim_module tmcuart_module = {
    "tmcuart", NULL,
    (const struct sim_command[]){
        { "config_tmcuart oid=%c rx_pin=%u pull_up=%c tx_pin=%u bit_time=%u", 0, NULL },
        { "tmcuart_send oid=%c write=%*s read=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "tmcuart_response oid=%c read=%*s", NULL },
    (const char *const[]){ "tmcuart data too large", NULL },
    NULL,
    NULL,
};

const struct sim_module neopixel_module = {
    "neopixel", NULL,
    (const struct sim_command[]){
        { "config_neopixel oid=%c pin=%u data_size=%hu bit_max_ticks=%u reset_min_ticks=%u", 0, NULL },
        { "neopixel_update oid=%c pos=%hu data=%*s", 0, NULL },
        { "neopixel_send oid=%c", 0, NULL },
        END,
    },
    (const char *const[]){ "neopixel_result oid=%c success=%c", NULL },
    (const char *const[]){ "Invalid neopixel data_size", "Invalid neopixel update command", NULL },
    NULL,
    NULL,
};

const struct sim_module pulse_counter_module = {
    "pulse_counter", NULL,
    (const struct sim_command[]){
        { "config_counter oid=%c pin=%u pull_up=%c", 0, NULL },
        { "query_counter oid=%c clock=%u poll_ticks=%u sample_ticks=%u", 0, NULL },
        END,
    },
    (const char *const[]){ "counter_state oid=%c next_clock=%u count=%u count_clock=%u", NULL },
    NONE,
    NULL,
    NULL,
};

const struct sim_module lcd_st7920_module = {
    "lcd_st7920", NULL,
    (const struct sim_command[]){
        { "config_st7920 oid=%c cs_pin=%u sclk_pin=%u sid_pin=%u sync_delay_ticks=%u cmd_delay_ticks=%u", 0, NULL },
        { "st7920_send_cmds oid=%c cmds=%*s", 0, NULL },
        { "st7920_send_data oid=%c data=%*s", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module lcd_hd44780_module = {
    "lcd_hd44780", NULL,
    (const struct sim_command[]){
        { "config_hd44780 oid=%c rs_pin=%u e_pin=%u d4_pin=%u d5_pin=%u d6_pin=%u d7_pin=%u delay_ticks=%u",
          0, NULL },
        { "hd44780_send_cmds oid=%c cmds=%*s", 0, NULL },
        { "hd44780_send_data oid=%c data=%*s", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module i2c_software_module = {
    "i2c_software", NULL,
    (const struct sim_command[]){
        { "i2c_set_sw_bus oid=%c scl_pin=%u sda_pin=%u pulse_ticks=%u address=%u", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module thermocouple_module = {
    "thermocouple", NULL,
    (const struct sim_command[]){
        { "config_thermocouple oid=%c spi_oid=%c thermocouple_type=%c", 0, NULL },
        { "query_thermocouple oid=%c clock=%u rest_ticks=%u min_value=%u max_value=%u max_invalid_count=%c",
          0, NULL },
        END,
    },
    (const char *const[]){ "thermocouple_result oid=%c next_clock=%u value=%u fault=%c", NULL },
    (const char *const[]){ "Invalid thermocouple chip type", "Thermocouple reader fault", NULL },
    (const struct sim_enum[]){
        { "thermocouple_type", "MAX31855", 0 }, { "thermocouple_type", "MAX31856", 1 },
        { "thermocouple_type", "MAX31865", 2 }, { "thermocouple_type", "MAX6675", 3 },
        { NULL, NULL, 0 },
    },
    NULL,
};

const struct sim_module sensor_adxl345_module = {
    "sensor_adxl345", NULL,
    (const struct sim_command[]){
        { "config_adxl345 oid=%c spi_oid=%c", 0, NULL },
        { "query_adxl345 oid=%c rest_ticks=%u", 0, NULL },
        { "query_adxl345_status oid=%c", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module sensor_lis2dw_module = {
    "sensor_lis2dw", NULL,
    (const struct sim_command[]){
        { "config_lis2dw oid=%c bus_oid=%c bus_oid_type=%c lis_chip_type=%c", 0, NULL },
        { "query_lis2dw oid=%c rest_ticks=%u", 0, NULL },
        { "query_lis2dw_status oid=%c", 0, NULL },
        END,
    },
    NONE,
    (const char *const[]){ "bus_type spi unsupported", "bus_type i2c unsupported", "bus_type invalid",
                           "model type invalid", NULL },
    (const struct sim_enum[]){
        { "bus_oid_type", "spi", 0 }, { "bus_oid_type", "i2c", 1 },
        { "lis_chip_type", "LIS2DW", 0 }, { "lis_chip_type", "LIS3DH", 1 }, { NULL, NULL, 0 },
    },
    NULL,
};

const struct sim_module sensor_mpu9250_module = {
    "sensor_mpu9250", NULL,
    (const struct sim_command[]){
        { "config_mpu9250 oid=%c i2c_oid=%c", 0, NULL },
        { "query_mpu9250 oid=%c rest_ticks=%u", 0, NULL },
        { "query_mpu9250_status oid=%c", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module sensor_hx71x_module = {
    "sensor_hx71x", NULL,
    (const struct sim_command[]){
        { "config_hx71x oid=%c gain_channel=%c dout_pin=%u sclk_pin=%u", 0, NULL },
        { "hx71x_attach_trigger_analog oid=%c trigger_analog_oid=%c", 0, NULL },
        { "query_hx71x oid=%c rest_ticks=%u", 0, NULL },
        { "query_hx71x_status oid=%c", 0, NULL },
        END,
    },
    NONE,
    (const char *const[]){ "HX71x gain/channel out of range 1-4", NULL },
    NULL,
    NULL,
};

const struct sim_module sensor_ldc1612_module = {
    "sensor_ldc1612", NULL,
    (const struct sim_command[]){
        { "config_ldc1612 oid=%c i2c_oid=%c", 0, NULL },
        { "config_ldc1612_with_intb oid=%c i2c_oid=%c intb_pin=%c", 0, NULL },
        { "ldc1612_attach_trigger_analog oid=%c trigger_analog_oid=%c", 0, NULL },
        { "query_ldc1612 oid=%c rest_ticks=%u", 0, NULL },
        { "query_status_ldc1612 oid=%c", 0, NULL },
        END,
    },
    NONE, NONE, NULL,
    NULL,
};

const struct sim_module sensor_angle_module = {
    "sensor_angle", NULL,
    (const struct sim_command[]){
        { "config_spi_angle oid=%c spi_oid=%c spi_angle_type=%c", 0, NULL },
        { "query_spi_angle oid=%c clock=%u rest_ticks=%u time_shift=%c", 0, NULL },
        { "spi_angle_transfer oid=%c data=%*s", 0, NULL },
        END,
    },
    (const char *const[]){ "spi_angle_transfer_response oid=%c clock=%u response=%*s", NULL },
    (const char *const[]){ "Invalid spi_angle chip type", "angle sensor requires cs pin", NULL },
    (const struct sim_enum[]){
        { "spi_angle_type", "a1333", 0 }, { "spi_angle_type", "as5047d", 1 },
        { "spi_angle_type", "tle5012b", 2 }, { "spi_angle_type", "mt6816", 3 },
        { "spi_angle_type", "mt6826s", 4 }, { NULL, NULL, 0 },
    },
    NULL,
};

const struct sim_module sensor_bulk_module = {
    "sensor_bulk", NULL,
    (const struct sim_command[]){ END },
    (const char *const[]){ "sensor_bulk_data oid=%c sequence=%hu data=%*s",
                           "sensor_bulk_status oid=%c clock=%u query_ticks=%u next_sequence=%hu "
                           "buffered=%u possible_overflows=%hu", NULL },
    NONE, NULL,
    NULL,
};
