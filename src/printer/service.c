#include "printer/service.h"

#include "printer/run.h"

enum service_state service_state(const char *unit)
{
    const char *argv[] = { "systemctl", "is-active", "--quiet", unit, NULL };
    int rc = printer_run(argv, NULL, 0);
    return rc < 0 ? SERVICE_NO_SYSTEMD : rc == 0 ? SERVICE_ACTIVE : SERVICE_INACTIVE;
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

int service_stop(const char *unit, struct mf_err *err)
{
    return systemctl("stop", unit, err);
}

int service_start(const char *unit, struct mf_err *err)
{
    return systemctl("start", unit, err);
}
