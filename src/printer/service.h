/* The Klipper service on the host, stopped while its MCUs are flashed and
 * started again afterwards: through Moonraker's API when Moonraker answers
 * and manages the unit (it runs systemctl itself, as root), else through
 * systemd's systemctl. */
#ifndef MF_PRINTER_SERVICE_H
#define MF_PRINTER_SERVICE_H

#include <stdbool.h>

#include "util/err.h"

enum service_state { SERVICE_ACTIVE, SERVICE_INACTIVE, SERVICE_NO_SYSTEMD };

/* Where Moonraker is asked first (MOONRAKER_DEFAULT_URL until set); NULL,
 * "" or "none": never. */
void service_use_moonraker(const char *url);
/* Whether the last call went through Moonraker (else systemctl). */
bool service_via_moonraker(void);

/* Moonraker's active_state of UNIT, else `systemctl is-active --quiet UNIT`. */
enum service_state service_state(const char *unit);
/* Stop / start UNIT; MF_E_FAIL naming the unit when that fails. */
int service_stop(const char *unit, struct mf_err *err);
int service_start(const char *unit, struct mf_err *err);

#endif
