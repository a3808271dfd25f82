/* Subcommands of `mcuflash`.  Each lives in its own cmd_*.c file, parses its
 * own options (getopt_long, with --help), and returns an exit status from
 * enum mf_code (util/err.h). */
#ifndef MF_CLI_COMMANDS_H
#define MF_CLI_COMMANDS_H

#include <stdbool.h>

#include "util/err.h"

int cmd_info(int argc, char **argv);
int cmd_fwinfo(int argc, char **argv);
int cmd_boards(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_sdcard(int argc, char **argv);
int cmd_demo(int argc, char **argv);

/* Report a failure: "mcuflash: <message>" on stderr, or a JSON object
 * {"error": {"code": N, "message": "..."}} on stdout with --json.
 * Returns err->code for use as the exit status. */
int cli_report_error(const struct mf_err *err, bool json);

/* Parse a non-negative integer option; fails with a usage error naming it. */
int cli_parse_uint(const char *opt, const char *text, unsigned long max, unsigned long *out,
                   struct mf_err *err);

#endif
