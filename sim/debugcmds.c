/* Debug commands (Klipper's src/debugcmds.c): ping/pong is the handy
 * loopback; memory reads return a fixed pattern, writes are ignored. */
#include "mcu.h"

#define FMT_DEBUG_RESULT "debug_result val=%u"
#define FMT_PONG "pong data=%*s"

static void command_debug_read(struct sim_mcu *m, const struct kl_msg *msg)
{
    /* No memory behind the addresses: answer a recognisable pattern. */
    uint32_t addr = kl_msg_u(msg, "addr");
    uint32_t order = kl_msg_u(msg, "order");
    uint32_t val = addr ^ 0x5a5a5a5au;
    if (order == 0)
        val &= 0xff;
    else if (order == 1)
        val &= 0xffff;
    sim_sendf(m, FMT_DEBUG_RESULT, (struct kl_arg[]){ KL_U(val) });
}

static void command_debug_write(struct sim_mcu *m, const struct kl_msg *msg)
{
}

static void command_debug_ping(struct sim_mcu *m, const struct kl_msg *msg)
{
    const struct kl_arg *data = kl_msg_arg(msg, "data");
    sim_sendf(m, FMT_PONG, (struct kl_arg[]){ *data });
}

static void command_debug_nop(struct sim_mcu *m, const struct kl_msg *msg)
{
}

const struct sim_module debugcmds_module = {
    "debugcmds", NULL,
    (const struct sim_command[]){
        { "debug_read order=%c addr=%u", HF_IN_SHUTDOWN, command_debug_read },
        { "debug_write order=%c addr=%u val=%u", HF_IN_SHUTDOWN, command_debug_write },
        { "debug_ping data=%*s", HF_IN_SHUTDOWN, command_debug_ping },
        { "debug_nop", HF_IN_SHUTDOWN, command_debug_nop },
        { NULL, 0, NULL },
    },
    (const char *const[]){ FMT_DEBUG_RESULT, FMT_PONG, NULL },
    NULL,
    NULL,
    NULL,
};
