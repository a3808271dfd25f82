#include "klipper/dict.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Dictionaries are a few KB compressed, tens of KB inflated; anything far
 * bigger is not a Klipper dictionary and must not exhaust memory. */
#define DICT_MAX_TEXT (4u << 20)

int kl_zlib_inflate(const uint8_t *z, size_t zlen, char **out, size_t *out_len, size_t *consumed)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit(&zs) != Z_OK)
        return -1;
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap + 1);
    int rc = Z_OK;
    zs.next_in = (Bytef *)z;
    zs.avail_in = (uInt)(zlen > UINT32_MAX ? UINT32_MAX : zlen);
    while (buf && rc == Z_OK) {
        if (len == cap) {
            char *nb = cap >= DICT_MAX_TEXT ? NULL : realloc(buf, cap * 2 + 1);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        zs.next_out = (Bytef *)buf + len;
        zs.avail_out = (uInt)(cap - len);
        rc = inflate(&zs, Z_NO_FLUSH);
        len = cap - zs.avail_out;
        if (rc == Z_BUF_ERROR && zs.avail_in == 0)
            break; /* input ended before the stream did */
        if (rc == Z_BUF_ERROR)
            rc = Z_OK;
    }
    size_t used = zs.total_in;
    inflateEnd(&zs);
    if (!buf || rc != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    buf[len] = '\0';
    *out = buf;
    *out_len = len;
    if (consumed)
        *consumed = used;
    return 0;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* {format: id} -> array of parsed formats. */
static int parse_formats(json_t *obj, bool is_output, struct kl_msgfmt **out, size_t *n, const char *what,
                         struct mf_err *err)
{
    *out = NULL;
    *n = 0;
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return mf_fail(err, MF_E_PROTOCOL, "The dictionary's \"%s\" is not an object.", what);
    *out = calloc(json_object_size(obj) + 1, sizeof(**out));
    if (!*out)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val) {
        if (!json_is_integer(val) || kl_msgfmt_parse(key, (int32_t)json_integer_value(val), is_output,
                                                     &(*out)[*n]) < 0)
            return mf_fail(err, MF_E_PROTOCOL, "The dictionary has a %s entry this tool cannot read: \"%.80s\".",
                           what, key);
        (*n)++;
    }
    return 0;
}

static int parse_enums(json_t *obj, struct kl_dict *d, struct mf_err *err)
{
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return mf_fail(err, MF_E_PROTOCOL, "The dictionary's \"enumerations\" is not an object.");
    d->enums = calloc(json_object_size(obj) + 1, sizeof(*d->enums));
    if (!d->enums)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    const char *ename;
    json_t *eval;
    json_object_foreach(obj, ename, eval) {
        if (!json_is_object(eval))
            return mf_fail(err, MF_E_PROTOCOL, "Enumeration \"%.60s\" in the dictionary is not an object.", ename);
        struct kl_enum *e = &d->enums[d->nenums++];
        e->name = strdup(ename);
        e->entries = calloc(json_object_size(eval) + 1, sizeof(*e->entries));
        if (!e->name || !e->entries)
            return mf_fail(err, MF_E_FAIL, "Out of memory.");
        const char *name;
        json_t *v;
        json_object_foreach(eval, name, v) {
            struct kl_enum_entry *en = &e->entries[e->n];
            if (json_is_integer(v)) {
                en->value = (int32_t)json_integer_value(v);
            } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_integer(json_array_get(v, 0)) &&
                       json_is_integer(json_array_get(v, 1)) && json_integer_value(json_array_get(v, 1)) > 0 &&
                       json_integer_value(json_array_get(v, 1)) <= 1 << 20) {
                en->value = (int32_t)json_integer_value(json_array_get(v, 0));
                en->count = (int32_t)json_integer_value(json_array_get(v, 1));
            } else {
                return mf_fail(err, MF_E_PROTOCOL, "Enumeration entry \"%.60s\" in the dictionary is malformed.",
                               name);
            }
            if (!(en->name = strdup(name)))
                return mf_fail(err, MF_E_FAIL, "Out of memory.");
            e->n++;
        }
    }
    return 0;
}

static int parse_consts(json_t *obj, struct kl_dict *d, struct mf_err *err)
{
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return mf_fail(err, MF_E_PROTOCOL, "The dictionary's \"config\" is not an object.");
    d->consts = calloc(json_object_size(obj) + 1, sizeof(*d->consts));
    if (!d->consts)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    const char *name;
    json_t *v;
    json_object_foreach(obj, name, v) {
        struct kl_const *c = &d->consts[d->nconsts++];
        char num[64];
        c->name = strdup(name);
        if (json_is_integer(v)) {
            c->is_int = true;
            c->ival = json_integer_value(v);
            snprintf(num, sizeof(num), "%lld", (long long)c->ival);
            c->text = strdup(num);
        } else if (json_is_real(v)) {
            snprintf(num, sizeof(num), "%.17g", json_real_value(v));
            c->text = strdup(num);
        } else if (json_is_string(v)) {
            c->text = strdup(json_string_value(v));
        } else {
            c->text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        }
        if (!c->name || !c->text)
            return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    return 0;
}

int kl_dict_parse(const char *text, size_t len, struct kl_dict **out, struct mf_err *err)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return mf_fail(err, MF_E_PROTOCOL, "The data dictionary is not valid JSON (%s at offset %d).",
                       root ? "not an object" : jerr.text, root ? 0 : jerr.position);
    }
    struct kl_dict *d = calloc(1, sizeof(*d));
    if (!d) {
        json_decref(root);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    d->json = malloc(len + 1);
    if (d->json) {
        memcpy(d->json, text, len);
        d->json[len] = '\0';
        d->json_len = len;
    }
    json_t *cmds = json_object_get(root, "commands"), *resps = json_object_get(root, "responses");
    int rc = -1;
    if (!d->json)
        mf_fail(err, MF_E_FAIL, "Out of memory.");
    else if (!json_is_object(cmds) || !json_is_object(resps))
        mf_fail(err, MF_E_PROTOCOL, "The data dictionary has no commands or responses; it is not a Klipper "
                "dictionary (or one older than 2019).");
    else if (parse_formats(cmds, false, &d->commands, &d->ncommands, "command", err) == 0 &&
             parse_formats(resps, false, &d->responses, &d->nresponses, "response", err) == 0 &&
             parse_formats(json_object_get(root, "output"), true, &d->outputs, &d->noutputs, "output", err) == 0 &&
             parse_enums(json_object_get(root, "enumerations"), d, err) == 0 &&
             parse_consts(json_object_get(root, "config"), d, err) == 0)
        rc = 0;
    d->version = xstrdup(json_string_value(json_object_get(root, "version")));
    d->build_versions = xstrdup(json_string_value(json_object_get(root, "build_versions")));
    d->app = xstrdup(json_string_value(json_object_get(root, "app")));
    json_decref(root);
    if (rc < 0) {
        kl_dict_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

static void free_formats(struct kl_msgfmt *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        kl_msgfmt_free(&f[i]);
    free(f);
}

void kl_dict_free(struct kl_dict *d)
{
    if (!d)
        return;
    free(d->json);
    free((char *)d->version);
    free((char *)d->build_versions);
    free((char *)d->app);
    free_formats(d->commands, d->ncommands);
    free_formats(d->responses, d->nresponses);
    free_formats(d->outputs, d->noutputs);
    for (size_t i = 0; i < d->nenums; i++) {
        for (size_t j = 0; j < d->enums[i].n; j++)
            free(d->enums[i].entries[j].name);
        free(d->enums[i].entries);
        free(d->enums[i].name);
    }
    free(d->enums);
    for (size_t i = 0; i < d->nconsts; i++) {
        free(d->consts[i].name);
        free(d->consts[i].text);
    }
    free(d->consts);
    free(d);
}

static const struct kl_msgfmt *find_name(const struct kl_msgfmt *f, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            return &f[i];
    return NULL;
}

static const struct kl_msgfmt *find_exact(const struct kl_msgfmt *f, size_t n, const char *format)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].format, format))
            return &f[i];
    return NULL;
}

const struct kl_msgfmt *kl_dict_command(const struct kl_dict *d, const char *name)
{
    return find_name(d->commands, d->ncommands, name);
}

const struct kl_msgfmt *kl_dict_response(const struct kl_dict *d, const char *name)
{
    return find_name(d->responses, d->nresponses, name);
}

const struct kl_msgfmt *kl_dict_command_exact(const struct kl_dict *d, const char *format)
{
    return find_exact(d->commands, d->ncommands, format);
}

const struct kl_msgfmt *kl_dict_response_exact(const struct kl_dict *d, const char *format)
{
    return find_exact(d->responses, d->nresponses, format);
}

const struct kl_msgfmt *kl_dict_by_id(const struct kl_dict *d, int32_t id)
{
    const struct { const struct kl_msgfmt *f; size_t n; } sets[] = {
        { d->responses, d->nresponses }, { d->commands, d->ncommands }, { d->outputs, d->noutputs },
    };
    for (size_t s = 0; s < 3; s++)
        for (size_t i = 0; i < sets[s].n; i++)
            if (sets[s].f[i].id == id)
                return &sets[s].f[i];
    return NULL;
}

const struct kl_enum *kl_dict_enum(const struct kl_dict *d, const char *name)
{
    for (size_t i = 0; i < d->nenums; i++)
        if (!strcmp(d->enums[i].name, name))
            return &d->enums[i];
    return NULL;
}

const struct kl_enum *kl_dict_enum_for_param(const struct kl_dict *d, const char *param)
{
    size_t plen = strlen(param);
    for (size_t i = 0; i < d->nenums; i++) {
        const char *e = d->enums[i].name;
        size_t elen = strlen(e);
        if (!strcmp(param, e) || (plen > elen && param[plen - elen - 1] == '_' && !strcmp(param + plen - elen, e)))
            return &d->enums[i];
    }
    return NULL;
}

/* A range entry "PA0" splits into root "PA" and first index 0. */
static size_t range_root_len(const char *name, long *first)
{
    size_t n = strlen(name), r = n;
    while (r > 0 && isdigit((unsigned char)name[r - 1]))
        r--;
    *first = r < n ? strtol(name + r, NULL, 10) : 0;
    return r;
}

int kl_enum_value(const struct kl_enum *e, const char *name, int32_t *value)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct kl_enum_entry *en = &e->entries[i];
        if (!en->count) {
            if (!strcmp(en->name, name)) {
                *value = en->value;
                return 0;
            }
            continue;
        }
        long first;
        size_t rl = range_root_len(en->name, &first);
        if (strncmp(name, en->name, rl))
            continue;
        const char *digits = name + rl;
        if (!isdigit((unsigned char)*digits) || (digits[0] == '0' && digits[1]))
            continue; /* "PA01" is not a name the range produces */
        char *end;
        long idx = strtol(digits, &end, 10);
        if (*end || idx < first || idx >= first + en->count)
            continue;
        *value = en->value + (int32_t)(idx - first);
        return 0;
    }
    return -1;
}

const char *kl_enum_name(const struct kl_enum *e, int32_t value, char *buf, size_t cap)
{
    for (size_t i = 0; i < e->n; i++) {
        const struct kl_enum_entry *en = &e->entries[i];
        if (!en->count) {
            if (en->value == value)
                return en->name;
            continue;
        }
        if (value < en->value || value >= en->value + en->count)
            continue;
        long first;
        size_t rl = range_root_len(en->name, &first);
        snprintf(buf, cap, "%.*s%ld", (int)rl, en->name, first + (value - en->value));
        return buf;
    }
    return NULL;
}

void kl_enum_foreach(const struct kl_enum *e, void (*fn)(const char *name, int32_t value, void *ctx), void *ctx)
{
    char buf[96];
    for (size_t i = 0; i < e->n; i++) {
        const struct kl_enum_entry *en = &e->entries[i];
        if (!en->count) {
            fn(en->name, en->value, ctx);
            continue;
        }
        long first;
        size_t rl = range_root_len(en->name, &first);
        for (int32_t k = 0; k < en->count; k++) {
            snprintf(buf, sizeof(buf), "%.*s%ld", (int)rl, en->name, first + k);
            fn(buf, en->value + k, ctx);
        }
    }
}

const char *kl_dict_const(const struct kl_dict *d, const char *name)
{
    for (size_t i = 0; i < d->nconsts; i++)
        if (!strcmp(d->consts[i].name, name))
            return d->consts[i].text;
    return NULL;
}

bool kl_dict_const_int(const struct kl_dict *d, const char *name, int64_t *v)
{
    for (size_t i = 0; i < d->nconsts; i++)
        if (!strcmp(d->consts[i].name, name)) {
            if (d->consts[i].is_int) {
                *v = d->consts[i].ival;
                return true;
            }
            /* Some builds export numbers as strings. */
            char *end;
            long long x = strtoll(d->consts[i].text, &end, 0);
            if (*end || end == d->consts[i].text)
                return false;
            *v = x;
            return true;
        }
    return false;
}

const char *kl_dict_interface(const struct kl_dict *d)
{
    if (!d)
        return NULL;
    bool can = kl_dict_const(d, "CANBUS_FREQUENCY") != NULL, usb = kl_dict_const(d, "RESERVE_PINS_USB") != NULL;
    if (can && usb)
        return "usb-can-bridge";
    if (can)
        return "can";
    if (usb)
        return "usb";
    if (kl_dict_const(d, "SERIAL_BAUD"))
        return "uart";
    return NULL;
}

const char *kl_interface_words(const char *iface)
{
    if (!strcmp(iface, "can"))
        return "CAN bus";
    if (!strcmp(iface, "usb-can-bridge"))
        return "USB to CAN bus bridge";
    if (!strcmp(iface, "uart"))
        return "serial (UART)";
    return "USB";
}
