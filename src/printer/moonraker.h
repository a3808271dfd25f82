/* Moonraker's HTTP API (https://moonraker.readthedocs.io), the part that
 * manages the host's services: a Klipper install with Moonraker stops and
 * starts Klipper through it, with no need for root. */
#ifndef MF_PRINTER_MOONRAKER_H
#define MF_PRINTER_MOONRAKER_H

#include <jansson.h>

#include "util/err.h"

/* The default address (Moonraker's own default port, on this host). */
#define MOONRAKER_DEFAULT_URL "http://localhost:7125"

/* GET url+path: the response's "result" in *result (json_decref it).
 * MF_E_DEVICE when nothing answers there, MF_E_PROTOCOL for an answer that
 * is not Moonraker's. */
int moonraker_get(const char *url, const char *path, json_t **result, struct mf_err *err);
/* POST url+path with no body; its result must be "ok". */
int moonraker_post(const char *url, const char *path, struct mf_err *err);

#endif
