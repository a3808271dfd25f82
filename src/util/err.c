#include "util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int mf_fail(struct mf_err *err, enum mf_code code, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->code = code;
    err->fact = MF_FACT_NONE;
    return -1;
}

int mf_fact(struct mf_err *err, enum mf_fact fact)
{
    if (err)
        err->fact = fact;
    return -1;
}

int mf_wrap(struct mf_err *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char old[sizeof(err->msg)];
    memcpy(old, err->msg, sizeof(old));
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(err->msg))
        memcpy(err->msg + n, old, sizeof(err->msg) - (size_t)n - 1);
    err->msg[sizeof(err->msg) - 1] = '\0';
    return -1;
}

void mf_err_clear(struct mf_err *err)
{
    if (err) {
        err->code = MF_OK;
        err->fact = MF_FACT_NONE;
        err->msg[0] = '\0';
    }
}
