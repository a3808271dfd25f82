#include "klipper/msgformat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Map the conversion at *p (just after '%') to a type; advances *p. */
static int parse_conversion(const char **p, enum kl_ptype *type)
{
    static const struct { const char *text; enum kl_ptype type; } convs[] = {
        { "u", KL_PT_U32 }, { "i", KL_PT_I32 }, { "hu", KL_PT_U16 }, { "hi", KL_PT_I16 },
        { "c", KL_PT_BYTE }, { "s", KL_PT_STRING }, { ".*s", KL_PT_PROGMEM }, { "*s", KL_PT_BUFFER },
    };
    /* Longest match first matters only for "hu"/"hi" vs nothing shorter; scan all. */
    size_t best = 0;
    int found = -1;
    for (size_t i = 0; i < sizeof(convs) / sizeof(convs[0]); i++) {
        size_t n = strlen(convs[i].text);
        if (n > best && !strncmp(*p, convs[i].text, n)) {
            best = n;
            found = (int)i;
        }
    }
    if (found < 0)
        return -1;
    *type = convs[found].type;
    *p += best;
    return 0;
}

int kl_msgfmt_parse(const char *format, int32_t id, bool is_output, struct kl_msgfmt *out)
{
    memset(out, 0, sizeof(*out));
    out->id = id;
    out->is_output = is_output;
    size_t nlen = strcspn(format, " ");
    if (is_output) {
        snprintf(out->name, sizeof(out->name), "#output");
    } else {
        if (nlen == 0 || nlen >= sizeof(out->name))
            return -1;
        memcpy(out->name, format, nlen);
        out->name[nlen] = '\0';
    }
    const char *p = is_output ? format : format + nlen;
    while (*p) {
        if (is_output) {
            /* printf-style: every %X is a param, %% is a literal. */
            const char *pc = strchr(p, '%');
            if (!pc)
                break;
            p = pc + 1;
            if (*p == '%') {
                p++;
                continue;
            }
            if (out->nparams >= KL_MAX_PARAMS)
                return -1;
            struct kl_param *prm = &out->params[out->nparams];
            if (parse_conversion(&p, &prm->type) < 0)
                return -1;
            snprintf(prm->name, sizeof(prm->name), "arg%u", out->nparams);
            out->nparams++;
            continue;
        }
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *eq = strchr(p, '=');
        const char *sp = strchr(p, ' ');
        if (!eq || (sp && sp < eq) || eq == p || (size_t)(eq - p) >= sizeof(out->params[0].name) ||
            eq[1] != '%' || out->nparams >= KL_MAX_PARAMS)
            return -1;
        struct kl_param *prm = &out->params[out->nparams++];
        memcpy(prm->name, p, (size_t)(eq - p));
        prm->name[eq - p] = '\0';
        p = eq + 2;
        if (parse_conversion(&p, &prm->type) < 0)
            return -1;
        if (*p && *p != ' ')
            return -1;
    }
    out->format = strdup(format);
    return out->format ? 0 : -1;
}

void kl_msgfmt_free(struct kl_msgfmt *f)
{
    free(f->format);
    f->format = NULL;
}

static bool is_buffer(enum kl_ptype t)
{
    return t == KL_PT_STRING || t == KL_PT_PROGMEM || t == KL_PT_BUFFER;
}

size_t kl_msg_size(const struct kl_msgfmt *f, const struct kl_arg *args)
{
    size_t n = kl_vlq_size((uint32_t)f->id);
    for (unsigned i = 0; i < f->nparams; i++)
        n += is_buffer(f->params[i].type) ? 1u + args[i].len : kl_vlq_size(args[i].u);
    return n;
}

int kl_msg_encode(const struct kl_msgfmt *f, const struct kl_arg *args, uint8_t *out, size_t cap)
{
    if (kl_msg_size(f, args) > cap)
        return -1;
    size_t n = kl_vlq_encode((uint32_t)f->id, out);
    for (unsigned i = 0; i < f->nparams; i++) {
        if (is_buffer(f->params[i].type)) {
            out[n++] = args[i].len; /* a raw length byte, not a VLQ */
            if (args[i].len)
                memcpy(out + n, args[i].data, args[i].len);
            n += args[i].len;
        } else {
            n += kl_vlq_encode(args[i].u, out + n);
        }
    }
    return (int)n;
}

int kl_msg_decode_params(const struct kl_msgfmt *f, const uint8_t **p, const uint8_t *end,
                         struct kl_msg *out)
{
    size_t used = 0;
    out->fmt = f;
    for (unsigned i = 0; i < f->nparams; i++) {
        struct kl_arg *a = &out->args[i];
        memset(a, 0, sizeof(*a));
        if (is_buffer(f->params[i].type)) {
            if (*p >= end)
                return -1;
            uint8_t len = *(*p)++;
            if ((size_t)(end - *p) < len || used + len > sizeof(out->store))
                return -1;
            memcpy(out->store + used, *p, len);
            a->data = out->store + used;
            a->len = len;
            used += len;
            *p += len;
            continue;
        }
        if (kl_vlq_decode(p, end, &a->u) < 0)
            return -1;
        /* Narrow types keep only their width, as the MCU and klippy do. */
        switch (f->params[i].type) {
        case KL_PT_U16: a->u &= 0xffff; break;
        case KL_PT_I16: a->u = (uint32_t)(int32_t)(int16_t)a->u; break;
        case KL_PT_BYTE: a->u &= 0xff; break;
        default: break;
        }
    }
    return 0;
}

int kl_msg_index(const struct kl_msgfmt *f, const char *param)
{
    for (unsigned i = 0; i < f->nparams; i++)
        if (!strcmp(f->params[i].name, param))
            return (int)i;
    return -1;
}

const struct kl_arg *kl_msg_arg(const struct kl_msg *m, const char *param)
{
    int i = kl_msg_index(m->fmt, param);
    return i < 0 ? NULL : &m->args[i];
}

uint32_t kl_msg_u(const struct kl_msg *m, const char *param)
{
    const struct kl_arg *a = kl_msg_arg(m, param);
    return a ? a->u : 0;
}

int32_t kl_msg_i(const struct kl_msg *m, const char *param)
{
    return (int32_t)kl_msg_u(m, param);
}

char *kl_msg_format(const struct kl_msg *m, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "%s", m->fmt->name);
    for (unsigned i = 0; i < m->fmt->nparams && n < cap; i++) {
        const struct kl_param *prm = &m->fmt->params[i];
        const struct kl_arg *a = &m->args[i];
        if (is_buffer(prm->type)) {
            n += (size_t)snprintf(out + n, cap - n, " %s=b'", prm->name);
            for (unsigned j = 0; j < a->len && n < cap; j++) {
                uint8_t c = a->data[j];
                n += (size_t)snprintf(out + n, cap - n, (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
                                      ? "%c" : "\\x%02x", c);
            }
            if (n < cap)
                n += (size_t)snprintf(out + n, cap - n, "'");
        } else if (prm->type == KL_PT_I32 || prm->type == KL_PT_I16) {
            n += (size_t)snprintf(out + n, cap - n, " %s=%d", prm->name, (int)(int32_t)a->u);
        } else {
            n += (size_t)snprintf(out + n, cap - n, " %s=%u", prm->name, a->u);
        }
    }
    return out;
}
