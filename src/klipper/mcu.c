#include "klipper/mcu.h"

#include <stdio.h>
#include <string.h>

#include "util/clock.h"

int kl_mcu_get_config(struct kl_session *s, struct kl_mcu_config *cfg, struct mf_err *err)
{
    const struct kl_msgfmt *cmd = kl_session_command(s, "get_config", err);
    const struct kl_msgfmt *resp = cmd ? kl_session_response(s, "config", err) : NULL;
    struct kl_msg m;
    if (!resp || kl_query(s, cmd, NULL, resp, -1, KL_Q_RETRY, 0, &m, err) < 0)
        return -1;
    /* Fields by name: their order changed in 2021. */
    cfg->is_config = kl_msg_u(&m, "is_config") != 0;
    cfg->is_shutdown = kl_msg_u(&m, "is_shutdown") != 0;
    cfg->crc = kl_msg_u(&m, "crc");
    cfg->move_count = (uint16_t)kl_msg_u(&m, "move_count");
    return 0;
}

int kl_mcu_shutdown_reason(struct kl_session *s, char *reason, size_t cap, struct mf_err *err)
{
    const char *known;
    if (kl_session_shutdown(s, &known)) {
        snprintf(reason, cap, "%s", known);
        return 0;
    }
    /* finalize_config does not run while shut down; the MCU answers it with
     * is_shutdown and the original reason. */
    const struct kl_msgfmt *cmd = kl_dict_command(kl_session_dict(s), "finalize_config");
    const struct kl_msgfmt *resp = kl_dict_response(kl_session_dict(s), "is_shutdown");
    snprintf(reason, cap, "unknown");
    if (!cmd || !resp)
        return 0;
    struct mf_err qerr;
    struct kl_msg m;
    kl_query(s, cmd, (struct kl_arg[]){ KL_U(0) }, resp, -1, KL_Q_RETRY, 0, &m, &qerr);
    if (kl_session_shutdown(s, &known))
        snprintf(reason, cap, "%s", known);
    return 0;
}

int kl_mcu_uptime(struct kl_session *s, uint64_t *ticks, struct mf_err *err)
{
    const struct kl_msgfmt *cmd = kl_session_command(s, "get_uptime", err);
    const struct kl_msgfmt *resp = cmd ? kl_session_response(s, "uptime", err) : NULL;
    struct kl_msg m;
    if (!resp || kl_query(s, cmd, NULL, resp, -1, KL_Q_RETRY, 0, &m, err) < 0)
        return -1;
    *ticks = ((uint64_t)kl_msg_u(&m, "high") << 32) | kl_msg_u(&m, "clock");
    return 0;
}

int kl_mcu_reset(struct kl_session *s, struct mf_err *err)
{
    const struct kl_dict *d = kl_session_dict(s);
    const struct kl_msgfmt *reset = kl_dict_command(d, "reset");
    if (reset) {
        if (kl_send(s, reset, NULL, err) < 0)
            return -1;
        return kl_send_now(s, err);
    }
    const struct kl_msgfmt *estop = kl_dict_command(d, "emergency_stop");
    const struct kl_msgfmt *creset = kl_dict_command(d, "config_reset");
    if (!estop || !creset)
        return mf_fail(err, MF_E_PROTOCOL, "The firmware has neither 'reset' nor 'config_reset'; nothing was "
                       "changed; press the board's reset button or power-cycle it.");
    /* config_reset is only accepted while shut down.  The MCU abandons the
     * rest of its input buffer when emergency_stop shuts it down, and looks
     * again only when more input arrives: so pause between the two (as
     * Klipper does), and send a lone sync byte after, which it ignores. */
    if (kl_send(s, estop, NULL, err) < 0 || kl_send_now(s, err) < 0)
        return -1;
    mf_sleep_us(20000);
    if (kl_send(s, creset, NULL, err) < 0 || kl_send_now(s, err) < 0)
        return -1;
    /* A Linux process MCU restarts at once (execv), closing its pty: a
     * link gone by now is the reset working. */
    mf_sleep_us(20000);
    struct mf_err gone;
    kl_send_sync(s, &gone);
    return 0;
}

void kl_mcu_features(const struct kl_dict *d, struct kl_mcu_features *f)
{
    memset(f, 0, sizeof(*f));
    f->spi_bus_enum = kl_dict_enum(d, "spi_bus") ? "spi_bus" : kl_dict_enum(d, "bus") ? "bus" : NULL;
    f->sdio_bus_enum = kl_dict_enum(d, "sdio_bus") ? "sdio_bus" : NULL;
    f->spi = kl_dict_command(d, "spi_transfer") && kl_dict_command(d, "spi_send") &&
             kl_dict_command(d, "config_spi");
    f->sw_spi = f->spi && (kl_dict_command(d, "spi_set_sw_bus") || kl_dict_command(d, "spi_set_software_bus"));
    f->sdio = kl_dict_command(d, "config_sdio") && kl_dict_command(d, "sdio_send_command");
    if (f->sdio && !f->sdio_bus_enum && kl_dict_enum(d, "bus"))
        f->sdio_bus_enum = "bus";
    f->reset = kl_dict_command(d, "reset") != NULL;
    const char *mcu = kl_dict_const(d, "MCU");
    f->process_restart = kl_dict_command(d, "config_reset") && mcu && !strcmp(mcu, "linux");
}
