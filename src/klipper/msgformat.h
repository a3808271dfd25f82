/* Message formats ("spi_send oid=%c data=%*s") and their encoding.
 *
 * A format is parsed once from the dictionary; messages are then encoded and
 * decoded through it by parameter position or name.
 */
#ifndef MF_KLIPPER_MSGFORMAT_H
#define MF_KLIPPER_MSGFORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "klipper/proto.h"

enum kl_ptype {
    KL_PT_U32,     /* %u */
    KL_PT_I32,     /* %i */
    KL_PT_U16,     /* %hu */
    KL_PT_I16,     /* %hi */
    KL_PT_BYTE,    /* %c */
    KL_PT_STRING,  /* %s   (responses only) */
    KL_PT_PROGMEM, /* %.*s (responses only) */
    KL_PT_BUFFER,  /* %*s */
};

#define KL_MAX_PARAMS 12

struct kl_param {
    char name[32];
    enum kl_ptype type;
};

struct kl_msgfmt {
    char *format;      /* the dictionary text, owned */
    char name[48];     /* first word */
    int32_t id;        /* dictionary id (may be negative) */
    bool is_output;    /* printf-style #output format: params unnamed */
    uint8_t nparams;
    struct kl_param params[KL_MAX_PARAMS];
};

/* A parameter value: integers in u (signed types stored as their bits),
 * buffers as data/len. */
struct kl_arg {
    uint32_t u;
    const uint8_t *data;
    uint8_t len;
};
#define KL_U(v) ((struct kl_arg){ .u = (uint32_t)(v) })
#define KL_BUF(p, n) ((struct kl_arg){ .data = (const uint8_t *)(p), .len = (uint8_t)(n) })

/* A decoded message; buffer arguments point into store. */
struct kl_msg {
    const struct kl_msgfmt *fmt;
    struct kl_arg args[KL_MAX_PARAMS];
    uint8_t store[KL_MESSAGE_MAX];
    uint64_t seq; /* widened seq of the block that carried it */
};

/* Parse a format; 0 on success, -1 if it uses an unknown conversion. */
int kl_msgfmt_parse(const char *format, int32_t id, bool is_output, struct kl_msgfmt *out);
void kl_msgfmt_free(struct kl_msgfmt *f);

/* Encode id + params into out; returns bytes written or -1 if it exceeds cap. */
int kl_msg_encode(const struct kl_msgfmt *f, const struct kl_arg *args, uint8_t *out, size_t cap);
/* Upper bound of the encoded size for these args. */
size_t kl_msg_size(const struct kl_msgfmt *f, const struct kl_arg *args);
/* Decode the params of f at *p (the id already consumed); -1 if truncated. */
int kl_msg_decode_params(const struct kl_msgfmt *f, const uint8_t **p, const uint8_t *end,
                         struct kl_msg *out);

/* Parameter access by name; -1 / NULL if the format has no such param. */
int kl_msg_index(const struct kl_msgfmt *f, const char *param);
uint32_t kl_msg_u(const struct kl_msg *m, const char *param);
int32_t kl_msg_i(const struct kl_msg *m, const char *param);
const struct kl_arg *kl_msg_arg(const struct kl_msg *m, const char *param);

/* Render "name a=1 b=b'..'" for logs and the text protocol; returns out. */
char *kl_msg_format(const struct kl_msg *m, char *out, size_t cap);

#endif
