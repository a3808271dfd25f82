#include "printer/mcus.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Klipper's choices (klippy/mcu.py); it refuses any other. */
static const char *const restart_methods[] = { "arduino", "cheetah", "command", "rpi_usb" };

static bool known_restart_method(const char *v)
{
    for (size_t i = 0; i < sizeof(restart_methods) / sizeof(restart_methods[0]); i++)
        if (!strcmp(v, restart_methods[i]))
            return true;
    return false;
}

static int fill(const struct pcfg_section *s, const char *name, struct printer_mcu *m, struct mf_err *err)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->file, sizeof(m->file), "%s", s->file);
    m->line = s->line;
    const char *serial = pcfg_get(s, "serial"), *uuid = pcfg_get(s, "canbus_uuid"), *baud = pcfg_get(s, "baud"),
               *iface = pcfg_get(s, "canbus_interface"), *restart = pcfg_get(s, "restart_method");
    if ((!serial || !*serial) == (!uuid || !*uuid))
        return mf_fail(err, MF_E_INPUT, "%s line %d: [%s] needs exactly one of 'serial' and 'canbus_uuid'; nothing "
                       "was done; fix that section.", s->file, s->line, s->name);
    m->baud = 250000;
    if (baud) {
        char *end;
        unsigned long v = strtoul(baud, &end, 10);
        if (!*baud || *end || v == 0 || v > 20000000)
            return mf_fail(err, MF_E_INPUT, "%s line %d: baud '%s' in [%s] is not a baud rate; nothing was done.",
                           pcfg_option(s, "baud")->file, pcfg_option(s, "baud")->line, baud, s->name);
        m->baud = (uint32_t)v;
    }
    if (serial)
        snprintf(m->serial, sizeof(m->serial), "%s", serial);
    if (uuid) {
        size_t n = strlen(uuid);
        bool hex = n == 12;
        for (size_t i = 0; hex && i < n; i++)
            hex = isxdigit((unsigned char)uuid[i]);
        if (!hex)
            return mf_fail(err, MF_E_INPUT, "%s line %d: canbus_uuid '%s' in [%s] is not 12 hex digits; nothing was "
                           "done.", pcfg_option(s, "canbus_uuid")->file, pcfg_option(s, "canbus_uuid")->line, uuid,
                           s->name);
        for (size_t i = 0; i < n; i++)
            m->canbus_uuid[i] = (char)tolower((unsigned char)uuid[i]);
    }
    snprintf(m->canbus_interface, sizeof(m->canbus_interface), "%s", iface && *iface ? iface : "can0");
    if (restart && *restart && !known_restart_method(restart))
        return mf_fail(err, MF_E_INPUT, "%s line %d: restart_method '%s' in [%s] is none of Klipper's (arduino, "
                       "cheetah, command, rpi_usb); nothing was done; fix that section.",
                       pcfg_option(s, "restart_method")->file, pcfg_option(s, "restart_method")->line, restart,
                       s->name);
    /* Klipper takes it only for serial MCUs: a CAN node is always reset by command. */
    if (restart && !uuid)
        snprintf(m->restart_method, sizeof(m->restart_method), "%s", restart);
    return 0;
}

int printer_mcus_from_config(const struct pcfg *c, struct printer_mcus *out, struct mf_err *err)
{
    memset(out, 0, sizeof(*out));
    out->mcu = calloc(c->nsections ? c->nsections : 1, sizeof(*out->mcu));
    if (!out->mcu)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    const struct pcfg_section *main_mcu = pcfg_section(c, "mcu");
    if (main_mcu && fill(main_mcu, "mcu", &out->mcu[out->n++], err) < 0)
        goto fail;
    for (size_t i = 0; i < c->nsections; i++) {
        const struct pcfg_section *s = &c->sections[i];
        if (strncmp(s->name, "mcu ", 4))
            continue;
        const char *name = s->name + 4;
        while (*name == ' ')
            name++;
        if (fill(s, name, &out->mcu[out->n++], err) < 0)
            goto fail;
    }
    return 0;
fail:
    printer_mcus_free(out);
    return -1;
}

void printer_mcus_free(struct printer_mcus *m)
{
    free(m->mcu);
    memset(m, 0, sizeof(*m));
}

const struct printer_mcu *printer_mcus_find(const struct printer_mcus *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->mcu[i].name, name))
            return &m->mcu[i];
    return NULL;
}

int printer_config_default(char *buf, size_t cap)
{
    const char *home = getenv("HOME");
    if (!home)
        return -1;
    snprintf(buf, cap, "%s/printer_data/config/printer.cfg", home);
    if (access(buf, F_OK) == 0)
        return 0;
    snprintf(buf, cap, "%s/printer.cfg", home);
    return access(buf, F_OK) == 0 ? 0 : -1;
}
