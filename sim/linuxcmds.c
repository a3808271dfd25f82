/* The Linux process MCU's config_reset (src/linux/main.c): accepted only
 * while shut down, it restarts the whole process with execv, so the pty
 * closes and a new one appears behind the same path.  No generated
 * dictionary lists it (the simulator models no "linux" MCU type); a given
 * klipper.dict that does gets this behaviour. */
#include "mcu.h"

static void command_config_reset(struct sim_mcu *m, const struct kl_msg *msg)
{
    (void)msg;
    if (!m->is_shutdown) {
        sim_shutdown(m, "config_reset only available when shutdown");
        return;
    }
    sim_mcu_request(m, SIM_REQ_RESTART);
}

static bool linux_build(const struct mcu_type *t)
{
    (void)t;
    return false;
}

const struct sim_module linux_module = {
    "linux", linux_build,
    (const struct sim_command[]){ { "config_reset", HF_IN_SHUTDOWN, command_config_reset }, { NULL, 0, NULL } },
    NULL,
    (const char *const[]){ "config_reset only available when shutdown", NULL },
    NULL,
    NULL,
};
