/* The options several commands share, parsed in one place so that each has
 * the same long and short name, the same value check and the same one-line
 * error ("see 'mcuflash CMD --help'") in every command that takes it. */
#ifndef MF_CLI_OPTIONS_H
#define MF_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "util/err.h"

#define CLI_MAX_BOARD_FILES 16

/* The shared options; a command takes the set it names (a mask of these). */
enum cli_shared {
    CLI_HELP = 1u << 0,         /* -h, --help */
    CLI_JSON = 1u << 1,         /* --json */
    CLI_BAUD = 1u << 2,         /* -b, --baud BAUD */
    CLI_FAST_SPI = 1u << 3,     /* -s, --fast-spi */
    CLI_FIRMWARE = 1u << 4,     /* -f, --firmware FILE */
    CLI_DICT = 1u << 5,         /* -d, --dict FILE */
    CLI_CHECK = 1u << 6,        /* -c, --check */
    CLI_BOARD = 1u << 7,        /* --board NAME */
    CLI_BOARD_FILE = 1u << 8,   /* --board-file FILE (repeatable) */
    CLI_CONFIG = 1u << 9,       /* --config FILE */
    CLI_WAIT = 1u << 10,        /* --wait[=SECONDS], also --wait SECONDS */
    CLI_CAN_IFACE = 1u << 11,   /* --canbus-interface IFACE */
    CLI_BOOT_TIMEOUT = 1u << 12, /* --boot-timeout SECONDS */
};

/* What getopt returns for the shared options without a short name; a
 * command's own long-only options use values from CLI_OWN up. */
enum {
    CLI_O_JSON = 256,
    CLI_O_BOARD,
    CLI_O_BOARD_FILE,
    CLI_O_CONFIG,
    CLI_O_WAIT,
    CLI_O_CAN_IFACE,
    CLI_O_BOOT_TIMEOUT,
    CLI_OWN = 300,
};

/* The values of the shared options, as parsed. */
struct cli_common {
    bool help, json, fast_spi, check;
    unsigned long baud;         /* MF_DEFAULT_BAUD unless given */
    bool baud_given;
    const char *firmware, *dict, *board, *config, *can_iface;
    bool wait;
    int wait_seconds;           /* -1: not given */
    int boot_timeout_seconds;   /* -1: not given */
    const char *board_files[CLI_MAX_BOARD_FILES];
    size_t nboard_files;
};

struct cli_parser {
    const char *command;        /* as typed after mcuflash: "flash", "can scan" */
    unsigned shared;            /* enum cli_shared */
    const char *own_short;      /* the command's own short options, getopt style */
    const struct option *own;   /* the command's own long options, or NULL */
    struct cli_common *common;
    void (*usage)(FILE *out);   /* cli_parse_shared shows it for --help */
    /* private */
    struct option table[40];
    char shorts[64];
    int argc;
    char **argv;
};

/* Start parsing argv (argv[0] is the command name); also notes --json
 * anywhere on the line, so that even an early error is reported as JSON. */
void cli_parse_begin(struct cli_parser *p, int argc, char **argv);

/* The next option: its short character or long value (shared ones already
 * stored in p->common, a command's own ones with optarg set), -1 after the
 * last, or -2 with err filled for a bad option, a missing value or a value
 * a shared option refuses.  Arguments are permuted as GNU getopt does; the
 * first argument left is argv[optind]. */
int cli_parse_next(struct cli_parser *p, struct mf_err *err);

/* The option whose value optarg is, as the user typed it: "-b" or "--baud". */
const char *cli_typed_name(const struct cli_parser *p, const char *long_name, const char *short_name);

/* For a command with no options of its own: begin, then parse them all.
 * 0 to go on (the first argument left is argv[optind]), 1 when --help was
 * given (and p->usage shown), -1 with err. */
int cli_parse_shared(struct cli_parser *p, int argc, char **argv, struct mf_err *err);

/* A usage error of the command: the sentence, then where to read more. */
int cli_usage_error(struct mf_err *err, const char *command, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
