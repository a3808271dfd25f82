#include "method/mcutarget.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

bool mf_target_text_is_name(const char *text)
{
    /* usb:PORT and usb:VID:PID name a USB device, not an MCU. */
    return *text && !strchr(text, '/') && !strchr(text, ':') && access(text, F_OK) < 0;
}

void mf_target_from_mcu(const struct printer_mcu *m, struct mf_target *t)
{
    memset(t, 0, sizeof(*t));
    t->baud = m->baud;
    if (m->canbus_uuid[0]) {
        t->can_uuid = m->canbus_uuid;
        t->can_iface = m->canbus_interface;
    } else {
        t->device = m->serial;
        t->restart_method = m->restart_method[0] ? m->restart_method : NULL;
    }
}

int mf_target_from_config(const char *config_path, const char *name, struct printer_mcus *mcus,
                          struct mf_target *t, struct mf_err *err)
{
    char used[4096], names[512];
    struct pcfg *cfg;
    if (printer_load(config_path, used, sizeof(used), &cfg, mcus, err) < 0)
        return -1;
    pcfg_free(cfg);
    const struct printer_mcu *m = printer_mcus_find(mcus, name);
    if (!m) {
        printer_mcus_names(mcus, names, sizeof(names));
        mf_fail(err, MF_E_USAGE, "'%s' is neither a device nor an MCU of %s (its MCUs: %s); nothing was done; give a "
                "device path or one of those names.", name, used, names[0] ? names : "none");
        printer_mcus_free(mcus);
        return -1;
    }
    mf_target_from_mcu(m, t);
    return 0;
}
