/* Progress and event output for long commands: a one-line bar with bytes,
 * rate and time left on a terminal, one JSON object per line with --json,
 * plain notes otherwise. */
#ifndef MF_CLI_OUTPUT_H
#define MF_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "method/progress.h"

typedef struct json_t json_t;

/* --json output: one object per line, and every command ends with one
 * "result" event, {"event":"result","ok":...} and what the command found
 * (an error, as cli_report_error prints it).  Events in between carry their
 * own "event" name: "progress", the steps of a flash, "plan", "node". */

/* A new result event, to which the command adds its fields. */
json_t *cli_json_result(bool ok);
/* Print o on one line (taking it), with reals rounded for people to read. */
void cli_json_line(json_t *o);
/* Seconds rounded to milliseconds. */
double cli_json_seconds(double seconds);
/* A JSON string of text: a byte that is not UTF-8 (a file name in another
 * encoding) becomes U+FFFD, where jansson would refuse the whole string and
 * the field, or the object holding it, would be lost.  NULL gives null. */
json_t *cli_json_text(const char *text);

struct cli_output {
    bool json, tty, quiet;
    char phase[32];
    uint64_t phase_start_us, last_draw_us;
    bool bar_open;
};

/* Set up from the flags; the returned progress reports into out. */
struct mf_progress cli_output_init(struct cli_output *out, bool json, bool quiet);
/* End any open progress line. */
void cli_output_done(struct cli_output *out);

#endif
