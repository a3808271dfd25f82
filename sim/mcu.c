/* The virtual MCU's protocol core: Klipper's command.c (block finding,
 * seq, ack/nak, dispatch) and sched.c (shutdown, starting, stats). */
#include "mcu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dictgen.h"
#include "klipper/session.h"
#include "util/clock.h"

#define STATIC_STRING_UNKNOWN 0xff
#define UART_BOOTLOADER_REQUEST " \x1c Request Serial Bootloader!! ~"

/* --- messages of sched.c and command.c --- */

#define FMT_SHUTDOWN "shutdown clock=%u static_string_id=%hu"
#define FMT_IS_SHUTDOWN "is_shutdown static_string_id=%hu"
#define FMT_STARTING "starting"

const struct sim_module sched_module = {
    "sched", NULL,
    (const struct sim_command[]){ { NULL, 0, NULL } },
    (const char *const[]){ FMT_SHUTDOWN, FMT_IS_SHUTDOWN, FMT_STARTING, NULL },
    (const char *const[]){ "Timer too close", "Shutdown cleared when not shutdown", "Command parser error",
                           "Invalid command", NULL },
    NULL,
    NULL,
};

/* --- identity --- */

static const struct sim_command *find_sim_command(const char *format)
{
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        for (const struct sim_command *c = (*mod)->commands; c->format; c++)
            if (!strcmp(c->format, format))
                return c;
    return NULL;
}

static int bind_commands(const struct kl_dict *d, struct sim_binding **out, size_t *n, struct mf_err *err)
{
    struct sim_binding *b = calloc(d->ncommands ? d->ncommands : 1, sizeof(*b));
    if (!b)
        return mf_fail(err, MF_E_FAIL, "Out of memory while loading the dictionary.");
    for (size_t i = 0; i < d->ncommands; i++) {
        const struct kl_msgfmt *f = &d->commands[i];
        b[i].fmt = f;
        b[i].cmd = find_sim_command(f->format);
        b[i].encoded_id = dict_id_to_encoded(f->id);
    }
    *out = b;
    *n = d->ncommands;
    return 0;
}

/* Everything that makes up an identity, built aside so a failure leaves
 * the MCU as it was. */
struct loaded_identity {
    struct sim_identity id;
    struct kl_dict *dict;
    struct sim_binding *bindings;
    size_t nbindings;
    uint32_t clock_freq;
};

static void free_loaded(struct loaded_identity *l)
{
    free(l->bindings);
    kl_dict_free(l->dict);
    free(l->id.json);
    free(l->id.zdata);
}

static int load_identity(struct loaded_identity *l, const char *json, size_t len, struct mf_err *err)
{
    memset(l, 0, sizeof(*l));
    l->id.json = malloc(len + 1);
    if (!l->id.json)
        return mf_fail(err, MF_E_FAIL, "Out of memory while loading the dictionary.");
    memcpy(l->id.json, json, len);
    l->id.json[len] = '\0';
    l->id.json_len = len;
    int64_t freq = 0;
    if (sim_zlib_compress(json, len, &l->id.zdata, &l->id.zlen) < 0) {
        mf_fail(err, MF_E_FAIL, "Could not compress the dictionary (out of memory).");
        goto fail;
    }
    if (kl_dict_parse(json, len, &l->dict, err) < 0)
        goto fail;
    if (!kl_dict_const_int(l->dict, "CLOCK_FREQ", &freq) || freq <= 0 || freq > UINT32_MAX) {
        mf_fail(err, MF_E_INPUT, "The dictionary has no usable CLOCK_FREQ constant; nothing was started. "
                                 "Give a klipper.dict from a real build.");
        goto fail;
    }
    if (bind_commands(l->dict, &l->bindings, &l->nbindings, err) < 0)
        goto fail;
    l->clock_freq = (uint32_t)freq;
    return 0;
fail:
    free_loaded(l);
    return -1;
}

int sim_mcu_set_identity(struct sim_mcu *m, const char *json, size_t len, struct mf_err *err)
{
    struct loaded_identity l;
    if (load_identity(&l, json, len, err) < 0)
        return -1;
    struct loaded_identity old = { m->id, m->dict, m->bindings, m->nbindings, m->clock_freq };
    free_loaded(&old);
    m->id = l.id;
    m->dict = l.dict;
    m->bindings = l.bindings;
    m->nbindings = l.nbindings;
    m->clock_freq = l.clock_freq;
    const char *mcu = kl_dict_const(m->dict, "MCU");
    m->type = mcu ? mcu_type_find(mcu) : NULL;
    return 0;
}

int sim_mcu_init(struct sim_mcu *m, const char *json, size_t len, struct mf_err *err)
{
    memset(m, 0, sizeof(*m));
    m->rx_limit = sizeof(m->rx);
    return sim_mcu_set_identity(m, json, len, err);
}

static void free_oids(struct sim_mcu *m)
{
    for (unsigned i = 0; i < m->oid_count; i++)
        free(m->oids[i].data);
    free(m->oids);
    m->oids = NULL;
    m->oid_count = 0;
}

void sim_mcu_free(struct sim_mcu *m)
{
    free_oids(m);
    struct loaded_identity old = { m->id, m->dict, m->bindings, m->nbindings, m->clock_freq };
    free_loaded(&old);
    memset(&m->id, 0, sizeof(m->id));
    m->dict = NULL;
    m->bindings = NULL;
    m->nbindings = 0;
}

/* --- clock, boot, stats --- */

uint64_t sim_mcu_clock(const struct sim_mcu *m)
{
    uint64_t us = mf_now_us() - m->boot_us;
    /* Split so the product never overflows 64 bits. */
    return us / 1000000u * m->clock_freq + us % 1000000u * m->clock_freq / 1000000u;
}

void sim_mcu_power_off(struct sim_mcu *m)
{
    free_oids(m);
    m->finder = (struct kl_finder){ 0 };
    m->need_valid = false;
    m->next_seq = KL_DEST;
    m->rx_len = 0;
    m->stalled = false;
    m->is_shutdown = false;
    m->shutdown_reason = 0;
    m->shutdown_text[0] = '\0';
    m->abort_block = false;
    m->request = SIM_REQ_NONE;
    m->oids_allocated = m->finalized = false;
    m->config_crc = 0;
    m->busy_ns = 0;
}

bool sim_version_before_may_2026(const char *version)
{
    /* Klipper commits ed1f9963c (encode when the actual size fits) and
     * 85c79bc44 (canserial's 192 bytes) are v0.13.0-681 and -682. */
    unsigned major, minor, patch, commits = 0;
    char g;
    if (!version || sscanf(version, "v%u.%u.%u-%u-%c", &major, &minor, &patch, &commits, &g) < 3)
        return false;
    if (major != 0)
        return false;
    if (minor != 13)
        return minor < 13;
    return patch == 0 && commits <= 681;
}

void sim_mcu_boot(struct sim_mcu *m, uint64_t now_us)
{
    sim_mcu_power_off(m);
    m->before_may_2026 = m->dict && sim_version_before_may_2026(m->dict->version);
    m->boot_us = now_us;
    sim_stats_reset(m, now_us);
    sim_sendf(m, FMT_STARTING, NULL);
}

/* --- responses and shutdown --- */

static void emit_block(struct sim_mcu *m, const uint8_t *content, size_t len, size_t room)
{
    uint8_t block[KL_MESSAGE_MAX];
    size_t n = kl_block_build(m->next_seq, content, len, block);
    if (m->emit)
        m->emit(m->emit_ctx, block, n, len > 0, room > n ? room : n);
}

void sim_sendf(struct sim_mcu *m, const char *fmt, const struct kl_arg *args)
{
    const struct kl_msgfmt *f = kl_dict_response_exact(m->dict, fmt);
    if (!f)
        return;
    uint8_t content[KL_PAYLOAD_MAX];
    int n = kl_msg_encode(f, args, content, sizeof(content));
    if (n < 0) {
        m->replies_too_long++; /* the firmware's encoder gives up silently */
        return;
    }
    emit_block(m, content, (size_t)n, m->before_may_2026 ? kl_reply_room(f) : 0);
}

uint16_t sim_static_string_id(const struct sim_mcu *m, const char *text)
{
    const struct kl_enum *e = kl_dict_enum(m->dict, "static_string_id");
    int32_t v;
    if (e && kl_enum_value(e, text, &v) == 0 && v >= 0 && v <= 0xffff)
        return (uint16_t)v;
    return STATIC_STRING_UNKNOWN;
}

void sim_shutdown(struct sim_mcu *m, const char *text)
{
    /* As sched.c: the first reason sticks; every shutdown() call runs the
     * shutdown handlers and reports. */
    if (!m->is_shutdown) {
        m->shutdown_reason = sim_static_string_id(m, text);
        snprintf(m->shutdown_text, sizeof(m->shutdown_text), "%s", text);
    }
    m->is_shutdown = true;
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        if ((*mod)->shutdown)
            (*mod)->shutdown(m);
    uint32_t clock = (uint32_t)sim_mcu_clock(m);
    sim_sendf(m, FMT_SHUTDOWN, (struct kl_arg[]){ KL_U(clock), KL_U(m->shutdown_reason) });
    m->abort_block = true;
}

void sim_mcu_force_shutdown(struct sim_mcu *m, const char *text)
{
    sim_shutdown(m, text);
    m->abort_block = false;
}

void sim_mcu_spend(struct sim_mcu *m, uint64_t ns)
{
    if (m->model_time)
        m->busy_ns += ns;
}

void sim_mcu_request(struct sim_mcu *m, enum sim_request req)
{
    m->request = req;
    m->abort_block = true;
}

/* --- oids, pins, enumerations --- */

void *sim_oid_alloc(struct sim_mcu *m, uint8_t oid, const void *type, size_t size)
{
    if (oid >= m->oid_count || m->oids[oid].type || m->finalized) {
        sim_shutdown(m, "Can't assign oid");
        return NULL;
    }
    void *data = calloc(1, size ? size : 1);
    if (!data) {
        sim_shutdown(m, "alloc_chunk failed");
        return NULL;
    }
    m->oids[oid].type = type;
    m->oids[oid].data = data;
    return data;
}

void *sim_oid_lookup(struct sim_mcu *m, uint8_t oid, const void *type)
{
    if (oid >= m->oid_count || m->oids[oid].type != type) {
        sim_shutdown(m, "Invalid oid type");
        return NULL;
    }
    return m->oids[oid].data;
}

void *sim_oid_next(struct sim_mcu *m, int *i, const void *type)
{
    for ((*i)++; *i < m->oid_count; (*i)++)
        if (m->oids[*i].type == type)
            return m->oids[*i].data;
    return NULL;
}

bool sim_enum_has_value(const struct sim_mcu *m, const char *enumeration, int32_t value)
{
    const struct kl_enum *e = kl_dict_enum(m->dict, enumeration);
    char name[64];
    return e && kl_enum_name(e, value, name, sizeof(name)) != NULL;
}

bool sim_pin_valid(const struct sim_mcu *m, uint32_t pin)
{
    return pin <= INT32_MAX && sim_enum_has_value(m, "pin", (int32_t)pin);
}

/* --- receiving and dispatching --- */

size_t sim_mcu_receive(struct sim_mcu *m, const uint8_t *buf, size_t len)
{
    /* New input wakes the receive task, which finds a stalled block again. */
    if (len)
        m->stalled = false;
    size_t room = m->rx_limit > m->rx_len ? m->rx_limit - m->rx_len : 0;
    if (len > room)
        len = room;
    memcpy(m->rx + m->rx_len, buf, len);
    m->rx_len += len;
    return len;
}

static const struct sim_binding *find_binding(const struct sim_mcu *m, uint16_t encoded)
{
    for (size_t i = 0; i < m->nbindings; i++)
        if (m->bindings[i].encoded_id == encoded)
            return &m->bindings[i];
    return NULL;
}

/* The MCU parser takes integers and %*s only. */
static bool parsable_command(const struct kl_msgfmt *f)
{
    for (unsigned i = 0; i < f->nparams; i++)
        if (f->params[i].type == KL_PT_STRING || f->params[i].type == KL_PT_PROGMEM)
            return false;
    return true;
}

/* Commands listed but not modelled: a config_* command still takes its oid. */
static const char unmodelled_type[] = "unmodelled";

static void run_unmodelled(struct sim_mcu *m, const struct kl_msg *msg)
{
    if (!strncmp(msg->fmt->name, "config_", 7) && msg->fmt->nparams &&
        !strcmp(msg->fmt->params[0].name, "oid"))
        sim_oid_alloc(m, (uint8_t)msg->args[0].u, unmodelled_type, 1);
}

static void dispatch(struct sim_mcu *m, const uint8_t *block, size_t len)
{
    /* The trailer follows the content, so reading one byte past `end` for
     * a two-byte id stays inside the block, as on the firmware. */
    const uint8_t *p = block + KL_HEADER_SIZE, *end = block + len - KL_TRAILER_SIZE;
    while (p < end) {
        uint16_t id = *p++;
        if (id & 0x80)
            id = (uint16_t)(((id & 0x7f) << 7) | *p++);
        const struct sim_binding *b = find_binding(m, id);
        if (!b || id == 0) {
            sim_shutdown(m, "Invalid command");
            return;
        }
        struct kl_msg msg;
        if (!parsable_command(b->fmt) || kl_msg_decode_params(b->fmt, &p, end, &msg) < 0) {
            sim_shutdown(m, "Command parser error");
            return;
        }
        uint8_t flags = b->cmd ? b->cmd->flags : 0;
        if (m->is_shutdown && !(flags & HF_IN_SHUTDOWN)) {
            sim_sendf(m, FMT_IS_SHUTDOWN, (struct kl_arg[]){ KL_U(m->shutdown_reason) });
            continue;
        }
        m->stats_count++;
        if (b->cmd && b->cmd->handler)
            b->cmd->handler(m, &msg);
        else
            run_unmodelled(m, &msg);
        if (m->abort_block)
            return;
    }
}

static void drop_front(struct sim_mcu *m, size_t n)
{
    memmove(m->rx, m->rx + n, m->rx_len - n);
    m->rx_len -= n;
}

/* One step of command_find_and_dispatch; false when nothing more to do now. */
static bool handle_front(struct sim_mcu *m)
{
    size_t n;
    switch (kl_block_find(&m->finder, m->rx, m->rx_len, &n)) {
    case KL_FIND_MORE:
        return false;
    case KL_FIND_SYNC:
        drop_front(m, n);
        return true;
    case KL_FIND_ERROR:
        /* serial_irq.c: the request string, alone in what is dropped. */
        if (m->uart_bootloader_request && n == sizeof(UART_BOOTLOADER_REQUEST) - 1 &&
            !memcmp(m->rx, UART_BOOTLOADER_REQUEST, n)) {
            drop_front(m, n);
            sim_mcu_request(m, SIM_REQ_BOOTLOADER);
            return false;
        }
        drop_front(m, n);
        if (!m->need_valid) {
            m->need_valid = true;
            m->bursts++;
            emit_block(m, NULL, 0, 0);
        }
        return true;
    case KL_FIND_BLOCK:
        break;
    }
    m->need_valid = false;
    if (m->rx[1] != m->next_seq) {
        /* Lost block: nak every later one until it is retransmitted. */
        drop_front(m, n);
        m->blocks_nak++;
        emit_block(m, NULL, 0, 0);
        return true;
    }
    m->next_seq = (uint8_t)(KL_DEST | ((m->rx[1] + 1) & KL_SEQ_MASK));
    m->blocks_ok++;
    m->abort_block = false;
    dispatch(m, m->rx, n);
    if (m->request != SIM_REQ_NONE)
        return false; /* the MCU resets: no ack */
    if (m->abort_block) {
        /* A shutdown cut the block short: it stays buffered and is found
         * again, out of sequence, when more input arrives. */
        m->abort_block = false;
        m->stalled = true;
        return false;
    }
    drop_front(m, n);
    emit_block(m, NULL, 0, 0);
    return m->busy_ns == 0;
}

bool sim_mcu_process(struct sim_mcu *m)
{
    while (!m->stalled && m->request == SIM_REQ_NONE)
        if (!handle_front(m))
            break;
    return m->busy_ns > 0;
}
