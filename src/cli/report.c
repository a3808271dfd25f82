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
