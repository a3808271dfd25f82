#include "printer/service.h"

#include <stdio.h>
#include <string.h>

#include "printer/moonraker.h"
#include "printer/run.h"
#include "util/clock.h"

/* How long a stop through Moonraker is given to take effect (Klipper exits
 * within a second or two), and how often it is looked at. */
#define STOP_WAIT_MS 10000u
#define STOP_POLL_MS 200u

static char moonraker_url[512] = MOONRAKER_DEFAULT_URL;
static bool via_moonraker;

void service_use_moonraker(const char *url)
{
    snprintf(moonraker_url, sizeof(moonraker_url), "%s", url && strcmp(url, "none") ? url : "");
}

bool service_via_moonraker(void)
{
    return via_moonraker;
}

/* Moonraker's view of the unit: -1 when Moonraker does not answer or does
 * not manage it (then systemctl is asked). */
static int moonraker_state(const char *unit, enum service_state *st)
{
    json_t *res;
    struct mf_err ignore;
    if (!moonraker_url[0] || moonraker_get(moonraker_url, "/machine/system_info", &res, &ignore) < 0)
        return -1;
    json_t *states = json_object_get(json_object_get(res, "system_info"), "service_state");
    const char *active = json_string_value(json_object_get(json_object_get(states, unit), "active_state"));
    /* Anything but stopped may still hold the boards. */
    if (active)
        *st = !strcmp(active, "inactive") || !strcmp(active, "failed") ? SERVICE_INACTIVE : SERVICE_ACTIVE;
    json_decref(res);
    return active ? 0 : -1;
}

static enum service_state systemctl_state(const char *unit)
{
    const char *argv[] = { "systemctl", "is-active", "--quiet", unit, NULL };
    int rc = printer_run(argv, NULL, 0);
    return rc < 0 ? SERVICE_NO_SYSTEMD : rc == 0 ? SERVICE_ACTIVE : SERVICE_INACTIVE;
}

enum service_state service_state(const char *unit)
{
    enum service_state st;
    via_moonraker = moonraker_state(unit, &st) == 0;
    return via_moonraker ? st : systemctl_state(unit);
}

static int systemctl(const char *verb, const char *unit, struct mf_err *err)
{
    const char *argv[] = { "systemctl", verb, unit, NULL };
    int rc = printer_run(argv, NULL, 0);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return mf_fail(err, MF_E_FAIL, "systemctl could not be run to %s %s.", verb, unit);
    return mf_fail(err, MF_E_FAIL, "'systemctl %s %s' failed (exit status %d).", verb, unit, rc);
}

/* Through Moonraker when it manages the unit, else systemctl. */
static int control(const char *verb, const char *unit, struct mf_err *err)
{
    enum service_state ignore;
    via_moonraker = moonraker_state(unit, &ignore) == 0;
    if (!via_moonraker)
        return systemctl(verb, unit, err);
    char path[256];
    snprintf(path, sizeof(path), "/machine/services/%s?service=%s", verb, unit);
    if (moonraker_post(moonraker_url, path, err) < 0)
        return mf_wrap(err, "Moonraker could not %s %s: ", verb, unit);
    return 0;
}

int service_stop(const char *unit, struct mf_err *err)
{
    if (control("stop", unit, err) < 0)
        return -1;
    /* Moonraker answers once systemd has queued the stop, not when Klipper
     * has exited (systemctl stop waits for that itself). */
    for (unsigned waited = 0; via_moonraker && waited < STOP_WAIT_MS && service_state(unit) == SERVICE_ACTIVE;
         waited += STOP_POLL_MS)
        mf_sleep_us(STOP_POLL_MS * 1000u);
    return 0;
}

int service_start(const char *unit, struct mf_err *err)
{
    return control("start", unit, err);
}
