/* A host session with one Klipper MCU: open, close, and what it knows. */
#include "klipper/session_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/transport.h"
#include "util/clock.h"

const struct kl_msgfmt *ks_lookup_id(struct kl_session *s, int32_t id)
{
    if (s->dict)
        return kl_dict_by_id(s->dict, id);
    return id == 0 ? &s->f_identify_response : NULL;
}

const struct kl_dict *kl_session_dict(const struct kl_session *s)
{
    return s->dict;
}

struct kl_stats kl_session_stats(const struct kl_session *s)
{
    struct kl_stats st = s->stats;
    st.srtt_us = (uint32_t)s->srtt_us;
    st.rto_us = (uint32_t)s->rto_us;
    return st;
}

const struct kl_msgfmt *kl_session_command(struct kl_session *s, const char *name, struct mf_err *err)
{
    const struct kl_msgfmt *f = kl_dict_command(s->dict, name);
    if (!f)
        mf_fail(err, MF_E_PROTOCOL, "The firmware on %s has no '%s' command; nothing was changed; build Klipper "
                "with the feature that provides it (make menuconfig) and flash it once by other means.",
                s->what, name);
    return f;
}

const struct kl_msgfmt *kl_session_response(struct kl_session *s, const char *name, struct mf_err *err)
{
    const struct kl_msgfmt *f = kl_dict_response(s->dict, name);
    if (!f)
        mf_fail(err, MF_E_PROTOCOL, "The firmware on %s has no '%s' response; it is not a Klipper build this "
                "tool knows.", s->what, name);
    return f;
}

int kl_session_open(struct transport *t, struct kl_session **out, struct mf_err *err)
{
    struct kl_session *s = calloc(1, sizeof(*s));
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    s->t = t;
    snprintf(s->what, sizeof(s->what), "%s", t->name);
    s->rto_us = MIN_RTO_US;
    /* Until the dictionary says which link this is, what the transport
     * knows of it, or a UART's smaller buffer. */
    s->tx_buffer = ks_tx_buffer_of(t->medium);
    s->last_progress_us = mf_now_us();
    kl_msgfmt_parse("identify offset=%u count=%c", 1, false, &s->f_identify);
    kl_msgfmt_parse("identify_response offset=%u data=%.*s", 0, false, &s->f_identify_response);
    transport_discard_input(s->t); /* stale output from before we connected */
    if (ks_sync_sequence(s, err) < 0 || ks_identify(s, err) < 0) {
        kl_session_close(s);
        return -1;
    }
    s->f_shutdown = kl_dict_response(s->dict, "shutdown");
    s->f_is_shutdown = kl_dict_response(s->dict, "is_shutdown");
    int64_t v;
    if (kl_dict_const_int(s->dict, "RECEIVE_WINDOW", &v))
        s->receive_window = v;
    if (kl_dict_const_int(s->dict, "SERIAL_BAUD", &v) && v > 0)
        s->byte_time_ns = (uint64_t)(10000000000ull / (uint64_t)v);
    s->tx_buffer = ks_tx_buffer_of(kl_session_medium(s));
    *out = s;
    return 0;
}

enum transport_medium kl_session_medium(const struct kl_session *s)
{
    if (s->byte_time_ns)
        return TRANSPORT_MEDIUM_UART;
    return s->t->medium == TRANSPORT_MEDIUM_CAN ? TRANSPORT_MEDIUM_CAN : TRANSPORT_MEDIUM_USB;
}

void kl_session_command_time(struct kl_session *s, const struct kl_msgfmt *cmd, uint32_t fixed_ns,
                             uint32_t per_byte_ns)
{
    unsigned i = 0;
    while (i < s->ntimes && s->times[i].cmd != cmd)
        i++;
    if (i == sizeof(s->times) / sizeof(s->times[0]))
        return;  /* no room: the command counts as taking no time, which is safe */
    s->times[i] = (struct command_time){ cmd, fixed_ns, per_byte_ns };
    if (i == s->ntimes)
        s->ntimes++;
}

uint32_t ks_command_ns(const struct kl_session *s, const struct kl_msgfmt *cmd, const struct kl_arg *args)
{
    for (unsigned i = 0; i < s->ntimes; i++) {
        if (s->times[i].cmd != cmd)
            continue;
        uint64_t ns = s->times[i].fixed_ns;
        for (unsigned p = 0; p < cmd->nparams; p++) {
            enum kl_ptype t = cmd->params[p].type;
            if (t == KL_PT_BUFFER || t == KL_PT_STRING || t == KL_PT_PROGMEM)
                ns += (uint64_t)s->times[i].per_byte_ns * args[p].len;
        }
        return ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
    }
    return 0;
}

void kl_session_close(struct kl_session *s)
{
    if (!s)
        return;
    while (s->head) {
        struct outblock *b = s->head;
        s->head = b->next;
        free(b);
    }
    free(s->building);
    kl_dict_free(s->dict);
    kl_msgfmt_free(&s->f_identify);
    kl_msgfmt_free(&s->f_identify_response);
    free(s);
}
