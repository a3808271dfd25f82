/* Subcommands of `mcuflash`.  Each lives in its own cmd_*.c file, parses its
 * options (through cli/options.h, with --help), and returns an exit status from
 * enum mf_code (util/err.h). */
#ifndef MF_CLI_COMMANDS_H
#define MF_CLI_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "method/flash.h"
#include "util/err.h"

int cmd_info(int argc, char **argv);
int cmd_fwinfo(int argc, char **argv);
int cmd_boards(int argc, char **argv);
int cmd_card(int argc, char **argv);
int cmd_sdcard(int argc, char **argv);
int cmd_flash(int argc, char **argv);
int cmd_can(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_update(int argc, char **argv);

/* Report a failure: "mcuflash: <message>" on stderr, or a JSON object
 * {"error": {"code": N, "message": "..."}} on stdout with --json.
 * Returns err->code for use as the exit status. */
int cli_report_error(const struct mf_err *err, bool json);

/* Add what to do next for the fact behind err (see enum mf_fact), in
 * mcuflash's own terms; device, when known, is the port the command used.
 * cli_report_error does it too, without a device. */
void cli_advise(struct mf_err *err, const char *device);

/* After an exit 9 with a user's definition that drives an STM32's SDIO
 * slot over software SPI: say so, and which definition flashes it on a
 * warm reset. */
struct board_db;
void cli_advise_not_flashed(struct mf_err *err, const struct board_db *db, const struct board *b);

/* The flash front ends: `flash` (any route, TARGET) and `sdcard` (the SD
 * card route, DEVICE BOARD, flash-sdcard.sh's options). */
struct cli_flash_shape {
    bool sdcard;
    void (*usage)(FILE *out);
};
int cli_flash_front_end(int argc, char **argv, const struct cli_flash_shape *shape);

/* mf_flash_opts.command: the flash or sdcard command line for o's target. */
void cli_flash_command(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap);

/* The result of a flash: "Flashed: ..." ("Verified: ..." after -c) or,
 * with --json, the result object. */
void cli_flash_result(bool json, bool check_only, int rc, const struct mf_err *err, const struct mf_flash_result *r);

#endif
