/* Base commands: oids, config, clock, shutdown control, identify, stats
 * (Klipper's src/basecmd.c). */
#include <stdlib.h>

#include "mcu.h"

#define FMT_CONFIG "config is_config=%c crc=%u is_shutdown=%c move_count=%hu"
/* Builds before 2021-11 ordered the reply differently. */
#define FMT_CONFIG_OLD "config is_config=%c crc=%u move_count=%hu is_shutdown=%c"
#define FMT_CLOCK "clock clock=%u"
#define FMT_UPTIME "uptime high=%u clock=%u"
#define FMT_STATS "stats count=%u sum=%u sumsq=%u"
#define FMT_IDENTIFY_RESPONSE "identify_response offset=%u data=%.*s"

#define STATS_PERIOD_US 5000000u
/* What alloc_chunks hands the move queue on chips with this much RAM. */
#define MOVE_COUNT 1024

static void command_allocate_oids(struct sim_mcu *m, const struct kl_msg *msg)
{
    if (m->oids_allocated) {
        sim_shutdown(m, "oids already allocated");
        return;
    }
    uint8_t count = (uint8_t)kl_msg_u(msg, "count");
    m->oids = calloc(count ? count : 1, sizeof(*m->oids));
    if (!m->oids) {
        sim_shutdown(m, "alloc_chunk failed");
        return;
    }
    m->oid_count = count;
    m->oids_allocated = true;
}

static void command_get_config(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct kl_arg is_config = KL_U(m->finalized), crc = KL_U(m->config_crc), shut = KL_U(m->is_shutdown),
                  moves = KL_U(m->finalized ? MOVE_COUNT : 0);
    if (kl_dict_response_exact(m->dict, FMT_CONFIG))
        sim_sendf(m, FMT_CONFIG, (struct kl_arg[]){ is_config, crc, shut, moves });
    else
        sim_sendf(m, FMT_CONFIG_OLD, (struct kl_arg[]){ is_config, crc, moves, shut });
}

static void command_finalize_config(struct sim_mcu *m, const struct kl_msg *msg)
{
    if (m->finalized) {
        sim_shutdown(m, "Already finalized");
        return;
    }
    m->finalized = true;
    m->config_crc = kl_msg_u(msg, "crc");
}

static void command_get_clock(struct sim_mcu *m, const struct kl_msg *msg)
{
    sim_sendf(m, FMT_CLOCK, (struct kl_arg[]){ KL_U(sim_mcu_clock(m)) });
}

static void command_get_uptime(struct sim_mcu *m, const struct kl_msg *msg)
{
    uint64_t clock = sim_mcu_clock(m);
    sim_sendf(m, FMT_UPTIME, (struct kl_arg[]){ KL_U(clock >> 32), KL_U(clock) });
}

static void command_emergency_stop(struct sim_mcu *m, const struct kl_msg *msg)
{
    sim_shutdown(m, "Command request");
}

static void command_clear_shutdown(struct sim_mcu *m, const struct kl_msg *msg)
{
    if (!m->is_shutdown) {
        sim_shutdown(m, "Shutdown cleared when not shutdown");
        return;
    }
    m->is_shutdown = false;
}

static void command_identify(struct sim_mcu *m, const struct kl_msg *msg)
{
    uint32_t offset = kl_msg_u(msg, "offset");
    uint32_t count = kl_msg_u(msg, "count");
    size_t size = m->id.zlen;
    if (offset >= size)
        count = 0;
    else if (offset + count > size)
        count = (uint32_t)(size - offset);
    const uint8_t *data = count ? m->id.zdata + offset : m->id.zdata;
    sim_sendf(m, FMT_IDENTIFY_RESPONSE, (struct kl_arg[]){ KL_U(offset), KL_BUF(data, count) });
}

void sim_stats_reset(struct sim_mcu *m, uint64_t now_us)
{
    m->next_stats_us = now_us + STATS_PERIOD_US;
    m->stats_count = 0;
}

void sim_mcu_tick(struct sim_mcu *m, uint64_t now_us)
{
    if (now_us < m->next_stats_us)
        return;
    /* A plausible idle load: the scheduler's passes plus the commands run. */
    uint32_t count = 5000 + m->stats_count, sum = count * 120u, sumsq = count * 57u;
    sim_sendf(m, FMT_STATS, (struct kl_arg[]){ KL_U(count), KL_U(sum), KL_U(sumsq) });
    sim_stats_reset(m, now_us);
}

uint64_t sim_mcu_next_event_us(const struct sim_mcu *m)
{
    return m->next_stats_us;
}

const struct sim_module basecmd_module = {
    "basecmd", NULL,
    (const struct sim_command[]){
        { "allocate_oids count=%c", 0, command_allocate_oids },
        { "get_config", HF_IN_SHUTDOWN, command_get_config },
        { "finalize_config crc=%u", 0, command_finalize_config },
        { "get_clock", HF_IN_SHUTDOWN, command_get_clock },
        { "get_uptime", HF_IN_SHUTDOWN, command_get_uptime },
        { "emergency_stop", HF_IN_SHUTDOWN, command_emergency_stop },
        { "clear_shutdown", HF_IN_SHUTDOWN, command_clear_shutdown },
        { "identify offset=%u count=%c", HF_IN_SHUTDOWN, command_identify },
        { NULL, 0, NULL },
    },
    (const char *const[]){ FMT_CONFIG, FMT_CLOCK, FMT_UPTIME, FMT_STATS, FMT_IDENTIFY_RESPONSE, NULL },
    (const char *const[]){ "alloc_chunk failed", "alloc_chunks failed", "Move queue overflow",
                           "Invalid move request size", "Already finalized", "Invalid oid type",
                           "Can't assign oid", "oids already allocated", "Command request", NULL },
    NULL,
    NULL,
};
