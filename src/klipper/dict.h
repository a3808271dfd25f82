/* The data dictionary: the zlib-compressed JSON an MCU sends on identify,
 * and the same text embedded in a firmware image or saved as klipper.dict. */
#ifndef MF_KLIPPER_DICT_H
#define MF_KLIPPER_DICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klipper/msgformat.h"
#include "util/err.h"

/* One enumeration entry: a single value (count 0) or a range "PA0":[0,16]
 * standing for root+first .. root+(first+count-1). */
struct kl_enum_entry {
    char *name;
    int32_t value;
    int32_t count;
};

struct kl_enum {
    char *name;
    size_t n;
    struct kl_enum_entry *entries;
};

struct kl_const {
    char *name;
    char *text;   /* the value as text (numbers printed in decimal) */
    bool is_int;
    int64_t ival;
};

struct kl_dict {
    char *json;            /* the exact uncompressed text */
    size_t json_len;
    const char *version, *build_versions, *app; /* NULL if absent */
    struct kl_msgfmt *commands, *responses, *outputs;
    size_t ncommands, nresponses, noutputs;
    struct kl_enum *enums;
    size_t nenums;
    struct kl_const *consts;
    size_t nconsts;
};

/* Inflate a zlib stream; *consumed gets the compressed length used.
 * Returns 0, or -1 if the data is not a complete zlib stream. */
int kl_zlib_inflate(const uint8_t *z, size_t zlen, char **out, size_t *out_len, size_t *consumed);

int kl_dict_parse(const char *json, size_t len, struct kl_dict **out, struct mf_err *err);
void kl_dict_free(struct kl_dict *d);

/* Lookup by message name (first word of the format); NULL if absent. */
const struct kl_msgfmt *kl_dict_command(const struct kl_dict *d, const char *name);
const struct kl_msgfmt *kl_dict_response(const struct kl_dict *d, const char *name);
/* Lookup by exact format text; NULL if absent. */
const struct kl_msgfmt *kl_dict_command_exact(const struct kl_dict *d, const char *format);
const struct kl_msgfmt *kl_dict_response_exact(const struct kl_dict *d, const char *format);
/* Any message (command, response or output) by dictionary id. */
const struct kl_msgfmt *kl_dict_by_id(const struct kl_dict *d, int32_t id);

/* Enumerations.  A param binds to enumeration E if its name is E or ends in _E. */
const struct kl_enum *kl_dict_enum(const struct kl_dict *d, const char *name);
const struct kl_enum *kl_dict_enum_for_param(const struct kl_dict *d, const char *param);
int kl_enum_value(const struct kl_enum *e, const char *name, int32_t *value);
/* Name of a value (ranges expanded into buf); NULL if none. */
const char *kl_enum_name(const struct kl_enum *e, int32_t value, char *buf, size_t cap);
/* Call fn for every name the enumeration expands to. */
void kl_enum_foreach(const struct kl_enum *e, void (*fn)(const char *name, int32_t value, void *ctx),
                     void *ctx);

/* Constants from the "config" section; NULL / false if absent. */
const char *kl_dict_const(const struct kl_dict *d, const char *name);
bool kl_dict_const_int(const struct kl_dict *d, const char *name, int64_t *v);

/* The interface a build talks over, from the constants its communication
 * code adds: "usb", "uart", "can", "usb-can-bridge"; NULL when d is NULL or
 * the build names none (older builds). */
const char *kl_dict_interface(const struct kl_dict *d);
/* That interface in words: "USB", "serial (UART)", "CAN bus", ... */
const char *kl_interface_words(const char *iface);

#endif
