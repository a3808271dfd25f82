#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"

int cli_report_error(const struct mf_err *err, bool json)
{
    int code = err->code ? (int)err->code : MF_E_FAIL;
    if (json) {
        /* The same shape as a command's final result line. */
        json_t *o = json_pack("{s:s,s:b,s:{s:i,s:s}}", "event", "result", "ok", 0, "error", "code", code, "message",
                              err->msg);
        char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
        json_decref(o);
    } else {
        fprintf(stderr, "mcuflash: %s\n", err->msg);
    }
    return code;
}

int cli_parse_uint(const char *opt, const char *text, unsigned long max, unsigned long *out,
                   struct mf_err *err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 0);
    if (errno || end == text || *end || text[0] == '-' || v > max)
        return mf_fail(err, MF_E_USAGE, "%s needs a whole number from 0 to %lu, not '%s'; nothing "
                       "was done.", opt, max, text);
    *out = v;
    return 0;
}
