/* A fake Katapult device for tests: answers frames on a byte stream the way
 * the bootloader does, with faults on chosen frames. */
#ifndef MF_TEST_FAKE_KATAPULT_H
#define MF_TEST_FAKE_KATAPULT_H

#include <stddef.h>
#include <stdint.h>

#define FAKE_KP_START 0x08002000u
#define FAKE_KP_FLASH_SIZE 4096u

enum fake_kp_fault { F_NONE, F_NACK, F_SILENT, F_ERROR, F_WRONG_CMD, F_WRONG_ADDR, F_NOISE, F_FLIP_READ };

struct fake_kp {
    uint32_t proto, block_size;
    const char *mcu, *version;
    int padding;          /* extra NULs after the MCU name (on top of its terminator) */
    uint8_t uuid[6];      /* for GET_CANBUS_ID */
    enum fake_kp_fault fault; /* applied to frames first_fault .. last_fault (1-based) */
    int first_fault, last_fault;
};

/* The CONNECT ACK payload (echoed command first) into p; returns its length. */
size_t fake_kp_connect_reply(const struct fake_kp *d, uint8_t *p);
/* Serve the device on fd until it closes; then _exit(0). */
void fake_kp_run(int fd, const struct fake_kp *d) __attribute__((noreturn));

#endif
