/* The MCU commands a flasher uses, on top of a session: configuration state,
 * shutdown reason, reset, and what the firmware offers. */
#ifndef MF_KLIPPER_MCU_H
#define MF_KLIPPER_MCU_H

#include <stdbool.h>
#include <stdint.h>

#include "klipper/session.h"

struct kl_mcu_config {
    bool is_config, is_shutdown;
    uint32_t crc;
    uint16_t move_count;
};

/* get_config, in either field order a Klipper build may use. */
int kl_mcu_get_config(struct kl_session *s, struct kl_mcu_config *cfg, struct mf_err *err);

/* The reason an MCU that reports is_shutdown=1 shut down, learned from the
 * is_shutdown reply to a command it will refuse to run (call it only when
 * get_config said is_shutdown: a running MCU would execute that command).
 * Fills reason with "unknown" if it cannot be learned. */
int kl_mcu_shutdown_reason(struct kl_session *s, char *reason, size_t cap, struct mf_err *err);

/* 64-bit uptime in clock ticks. */
int kl_mcu_uptime(struct kl_session *s, uint64_t *ticks, struct mf_err *err);

/* Ask the MCU to reset: `reset` where the firmware has it, else
 * emergency_stop followed by config_reset (Linux process MCU).  Returns once
 * the bytes are on the wire; the link goes away after this. */
int kl_mcu_reset(struct kl_session *s, struct mf_err *err);

/* What the firmware offers a flasher. */
struct kl_mcu_features {
    bool spi, sw_spi, sdio;
    bool reset;           /* the `reset` command: the board restarts */
    bool process_restart; /* a Linux process MCU: config_reset runs the process again */
    const char *spi_bus_enum;  /* "spi_bus", older "bus", or NULL */
    const char *sdio_bus_enum; /* "sdio_bus", "bus", or NULL */
};
void kl_mcu_features(const struct kl_dict *d, struct kl_mcu_features *f);

#endif
