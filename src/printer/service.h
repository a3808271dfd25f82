/* The Klipper service on the host, stopped while its MCUs are flashed and
 * started again afterwards, through systemd's systemctl. */
#ifndef MF_PRINTER_SERVICE_H
#define MF_PRINTER_SERVICE_H

#include "util/err.h"

enum service_state { SERVICE_ACTIVE, SERVICE_INACTIVE, SERVICE_NO_SYSTEMD };

/* `systemctl is-active --quiet UNIT`. */
enum service_state service_state(const char *unit);
/* `systemctl stop UNIT` / `systemctl start UNIT`; MF_E_FAIL naming the
 * unit when systemctl fails. */
int service_stop(const char *unit, struct mf_err *err);
int service_start(const char *unit, struct mf_err *err);

#endif
