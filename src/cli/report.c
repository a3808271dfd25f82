#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/output.h"

int cli_report_error(const struct mf_err *given, bool json)
{
    struct mf_err advised = *given, *err = &advised;
    cli_advise(err, NULL);
    int code = err->code ? (int)err->code : MF_E_FAIL;
    if (json) {
        /* The same shape as a command's final result line. */
        json_t *o = cli_json_result(false);
        json_object_set_new(o, "error", json_pack("{s:i,s:o}", "code", code, "message", cli_json_text(err->msg)));
        cli_json_line(o);
    } else {
        fprintf(stderr, "mcuflash: %s\n", err->msg);
    }
    return code;
}
