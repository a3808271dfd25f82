/* Progress and event output for long commands: a one-line bar with bytes,
 * rate and time left on a terminal, one JSON object per line with --json,
 * plain notes otherwise. */
#ifndef MF_CLI_OUTPUT_H
#define MF_CLI_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

#include "method/progress.h"

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
