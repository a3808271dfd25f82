/* Sending a bus configuration to the MCU as Klipper's text commands. */
#ifndef MF_SD_KLIPPER_CONFIG_H
#define MF_SD_KLIPPER_CONFIG_H

#include <stddef.h>

#include "klipper/session.h"

struct kcfg {
    struct kl_session *s;
    char bus_desc[96];
    char texts[1024]; /* the commands sent, joined by newlines, for the config CRC */
};

void kcfg_init(struct kcfg *c, struct kl_session *s, const char *bus_desc);
/* Send one "name key=value ..." command.  1 if this build has no such
 * command or different params (try the next variant), 0 sent, -1 error. */
int kcfg_try(struct kcfg *c, const char *text, struct mf_err *err);
/* Send the first variant the firmware accepts. */
int kcfg_send(struct kcfg *c, const char *const *alternatives, size_t n, struct mf_err *err);
/* finalize_config, then check the MCU is configured and not shut down. */
int kcfg_finish(struct kcfg *c, struct mf_err *err);

#endif
