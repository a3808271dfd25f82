/* Configuring the MCU for a card bus: the commands go out as text, are
 * resolved against the dictionary (names of pins and buses become their
 * enumeration values), and finalize_config carries the CRC-32 of that text
 * as Klipper's own tools compute it. */
#include "sd/klipper_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "klipper/mcu.h"

void kcfg_init(struct kcfg *c, struct kl_session *s, const char *bus_desc)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    snprintf(c->bus_desc, sizeof(c->bus_desc), "%s", bus_desc);
}

/* A name for an enumerated param, or a number for a plain one. */
static int param_value(struct kcfg *c, const struct kl_param *p, const char *text, uint32_t *out,
                       struct mf_err *err)
{
    const struct kl_dict *d = kl_session_dict(c->s);
    const struct kl_enum *e = kl_dict_enum_for_param(d, p->name);
    char *end;
    unsigned long v = strtoul(text, &end, 0);
    if (!*end && end != text) {
        *out = (uint32_t)v;
        return 0;
    }
    /* Older builds call the bus enumeration just "bus". */
    if (!e && strstr(p->name, "bus"))
        e = kl_dict_enum(d, "bus");
    int32_t val;
    if (e && kl_enum_value(e, text, &val) == 0) {
        *out = (uint32_t)val;
        return 0;
    }
    return mf_fail(err, MF_E_MISMATCH, "The firmware on this board has no %s named '%s' (needed for %s); "
                   "nothing was changed; check the board definition (mcuflash boards show NAME) against the "
                   "board's pins.", strstr(p->name, "bus") ? "bus" : "pin", text, c->bus_desc);
}

int kcfg_try(struct kcfg *c, const char *text, struct mf_err *err)
{
    const struct kl_dict *d = kl_session_dict(c->s);
    char name[48];
    size_t nlen = strcspn(text, " ");
    snprintf(name, sizeof(name), "%.*s", (int)nlen, text);
    const struct kl_msgfmt *f = kl_dict_command(d, name);
    if (!f)
        return 1;
    struct kl_arg args[KL_MAX_PARAMS];
    memset(args, 0, sizeof(args));
    bool seen[KL_MAX_PARAMS] = { false };
    const char *p = text + nlen;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        size_t wl = strcspn(p, " ");
        if (!eq || (size_t)(eq - p) >= wl)
            return mf_fail(err, MF_E_FAIL, "Internal error: bad command text '%s'.", text);
        char key[32], val[64];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - p), p);
        snprintf(val, sizeof(val), "%.*s", (int)(wl - (size_t)(eq - p) - 1), eq + 1);
        int i = kl_msg_index(f, key);
        if (i < 0)
            return 1; /* this build's variant of the command differs */
        if (param_value(c, &f->params[i], val, &args[i].u, err) < 0)
            return -1;
        seen[i] = true;
        p += wl;
    }
    for (unsigned i = 0; i < f->nparams; i++)
        if (!seen[i])
            return 1;
    if (kl_send(c->s, f, args, err) < 0)
        return -1;
    size_t n = strlen(c->texts);
    snprintf(c->texts + n, sizeof(c->texts) - n, "%s%s", n ? "\n" : "", text);
    return 0;
}

int kcfg_send(struct kcfg *c, const char *const *alternatives, size_t n, struct mf_err *err)
{
    for (size_t i = 0; i < n; i++) {
        int rc = kcfg_try(c, alternatives[i], err);
        if (rc <= 0)
            return rc;
    }
    char name[48];
    snprintf(name, sizeof(name), "%.*s", (int)strcspn(alternatives[0], " "), alternatives[0]);
    return mf_fail(err, MF_E_PROTOCOL, "The firmware on this board has no usable '%s' command (needed for %s); "
                   "nothing was changed; build Klipper with that feature enabled (make menuconfig) and flash it "
                   "once by other means.", name, c->bus_desc);
}

int kcfg_finish(struct kcfg *c, struct mf_err *err)
{
    const struct kl_msgfmt *fin = kl_session_command(c->s, "finalize_config", err);
    if (!fin)
        return -1;
    uint32_t crc = (uint32_t)crc32(0, (const Bytef *)c->texts, (uInt)strlen(c->texts));
    if (kl_send(c->s, fin, (struct kl_arg[]){ KL_U(crc) }, err) < 0)
        return -1;
    struct kl_mcu_config cfg;
    if (kl_mcu_get_config(c->s, &cfg, err) < 0)
        return mf_wrap(err, "While setting up %s: ", c->bus_desc);
    if (cfg.is_shutdown) {
        char reason[96];
        kl_mcu_shutdown_reason(c->s, reason, sizeof(reason), err);
        return mf_fail(err, MF_E_MISMATCH, "The board refused the %s set-up and shut down (\"%s\"); nothing was "
                       "written to the card; check the board definition's bus and pins.", c->bus_desc, reason);
    }
    if (!cfg.is_config)
        return mf_fail(err, MF_E_PROTOCOL, "The board did not accept the %s set-up; nothing was written to the "
                       "card; reset the board and try again.", c->bus_desc);
    return 0;
}
