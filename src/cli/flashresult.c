/* The last line of a flash, shared by `mcuflash flash` and `mcuflash sdcard`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "cli/output.h"

void cli_flash_result(bool json, bool check_only, int rc, const struct mf_err *err, const struct mf_flash_result *r)
{
    if (!json) {
        if (rc == 0 && check_only)
            printf("Verified: the board runs %s, the build given.\n", r->running_after);
        else if (rc == 0)
            printf("Flashed: the board now runs %s.\n", r->running_after);
        return;
    }
    json_t *o = cli_json_result(rc == 0);
    json_object_set_new(o, "verdict", json_string(mf_verdict_name(r->verdict)));
    json_object_set_new(o, "route", json_string(r->route ? r->route : ""));
    if (r->bus[0] || r->card[0]) {
        json_object_set_new(o, "bus", json_string(r->bus));
        json_object_set_new(o, "card", json_string(r->card));
    }
    if (r->bootloader[0])
        json_object_set_new(o, "bootloader", json_string(r->bootloader));
    json_object_set_new(o, "version_before", json_string(r->running_before));
    json_object_set_new(o, "version_after", json_string(r->running_after));
    json_object_set_new(o, "bytes", json_integer((json_int_t)r->bytes));
    json_object_set_new(o, "upload_seconds", json_real(cli_json_seconds(r->upload_seconds)));
    if (r->card_name[0])
        json_object_set_new(o, "file", cli_json_text(r->card_name));
    if (rc < 0)
        json_object_set_new(o, "error",
                            json_pack("{s:i,s:o}", "code", (int)err->code, "message", cli_json_text(err->msg)));
    cli_json_line(o);
}
