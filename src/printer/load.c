/* Finding and reading the printer's config in one step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer/mcus.h"

int printer_load(const char *path, char *used, size_t cap, struct pcfg **cfg, struct printer_mcus *mcus,
                 struct mf_err *err)
{
    *cfg = NULL;
    memset(mcus, 0, sizeof(*mcus));
    if (path)
        snprintf(used, cap, "%s", path);
    else if (printer_config_default(used, cap) < 0) {
        const char *home = getenv("HOME") ? getenv("HOME") : "~";
        mf_fail(err, MF_E_INPUT, "There is no printer.cfg in %s/printer_data/config or %s; nothing was done.", home,
                home);
        return mf_fact(err, MF_FACT_NO_CONFIG);
    }
    if (pcfg_load(used, cfg, err) < 0)
        return -1;
    int rc = printer_mcus_from_config(*cfg, mcus, err);
    if (rc == 0 && !mcus->n) {
        mf_fail(err, MF_E_INPUT, "%s has no [mcu] section, which every Klipper printer.cfg has; nothing was done.",
                used);
        rc = mf_fact(err, MF_FACT_NO_CONFIG);
    }
    if (rc < 0) {
        printer_mcus_free(mcus);
        pcfg_free(*cfg);
        *cfg = NULL;
        return -1;
    }
    return 0;
}

void printer_mcus_names(const struct printer_mcus *m, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < m->n && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", m->mcu[i].name);
}
