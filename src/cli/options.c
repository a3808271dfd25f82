#include "cli/options.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "method/connect.h"

struct shared_option {
    unsigned flag;
    struct option opt;
    const char *short_spec; /* "b:" for -b BAUD; NULL for long-only */
};

static const struct shared_option shared_options[] = {
    { CLI_HELP, { "help", no_argument, NULL, 'h' }, "h" },
    { CLI_JSON, { "json", no_argument, NULL, CLI_O_JSON }, NULL },
    { CLI_BAUD, { "baud", required_argument, NULL, 'b' }, "b:" },
    { CLI_FAST_SPI, { "fast-spi", no_argument, NULL, 's' }, "s" },
    { CLI_FIRMWARE, { "firmware", required_argument, NULL, 'f' }, "f:" },
    { CLI_DICT, { "dict", required_argument, NULL, 'd' }, "d:" },
    { CLI_CHECK, { "check", no_argument, NULL, 'c' }, "c" },
    { CLI_BOARD, { "board", required_argument, NULL, CLI_O_BOARD }, NULL },
    { CLI_BOARD_FILE, { "board-file", required_argument, NULL, CLI_O_BOARD_FILE }, NULL },
    { CLI_CONFIG, { "config", required_argument, NULL, CLI_O_CONFIG }, NULL },
    { CLI_WAIT, { "wait", optional_argument, NULL, CLI_O_WAIT }, NULL },
    { CLI_CAN_IFACE, { "canbus-interface", required_argument, NULL, CLI_O_CAN_IFACE }, NULL },
    { CLI_BOOT_TIMEOUT, { "boot-timeout", required_argument, NULL, CLI_O_BOOT_TIMEOUT }, NULL },
};
#define NSHARED (sizeof(shared_options) / sizeof(shared_options[0]))

int cli_usage_error(struct mf_err *err, const char *command, const char *fmt, ...)
{
    char what[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return mf_fail(err, MF_E_USAGE, "%s; nothing was done; see 'mcuflash %s --help'.", what, command);
}

void cli_parse_begin(struct cli_parser *p, int argc, char **argv)
{
    struct cli_common *c = p->common;
    memset(c, 0, sizeof(*c));
    c->baud = MF_DEFAULT_BAUD;
    c->wait_seconds = -1;
    c->boot_timeout_seconds = -1;
    /* ':' first: a missing value is told apart from an unknown option. */
    size_t n = 0, len = (size_t)snprintf(p->shorts, sizeof(p->shorts), ":%s", p->own_short ? p->own_short : "");
    for (size_t i = 0; i < NSHARED; i++) {
        if (!(p->shared & shared_options[i].flag))
            continue;
        p->table[n++] = shared_options[i].opt;
        if (shared_options[i].short_spec)
            len += (size_t)snprintf(p->shorts + len, sizeof(p->shorts) - len, "%s", shared_options[i].short_spec);
    }
    for (const struct option *o = p->own; o && o->name && n + 1 < sizeof(p->table) / sizeof(p->table[0]); o++)
        p->table[n++] = *o;
    memset(&p->table[n], 0, sizeof(p->table[n]));
    p->argc = argc;
    p->argv = argv;
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        c->json |= !strcmp(argv[i], "--json");
    optind = 1;
    opterr = 0; /* the errors below say it in mcuflash's words */
}

const char *cli_typed_name(const struct cli_parser *p, const char *long_name, const char *short_name)
{
    int at = optind > 1 && optarg == p->argv[optind - 1] ? optind - 2 : optind - 1;
    return short_name && at >= 0 && strncmp(p->argv[at], "--", 2) ? short_name : long_name;
}

/* A whole number from 0 to max. */
static int parse_uint(const struct cli_parser *p, const char *opt, const char *text, unsigned long min,
                      unsigned long max, unsigned long *out, struct mf_err *err)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return cli_usage_error(err, p->command, "%s needs a whole number from %lu to %lu, not '%s'", opt, min, max,
                               text);
    *out = v;
    return 0;
}

static int store_shared(struct cli_parser *p, int c, struct mf_err *err)
{
    struct cli_common *cm = p->common;
    unsigned long v = 0;
    switch (c) {
    case 'h': cm->help = true; break;
    case CLI_O_JSON: cm->json = true; break;
    case 's': cm->fast_spi = true; break;
    case 'c': cm->check = true; break;
    case 'f': cm->firmware = optarg; break;
    case 'd': cm->dict = optarg; break;
    case CLI_O_BOARD: cm->board = optarg; break;
    case CLI_O_CONFIG: cm->config = optarg; break;
    case CLI_O_CAN_IFACE: cm->can_iface = optarg; break;
    case 'b':
        if (parse_uint(p, cli_typed_name(p, "--baud", "-b"), optarg, 1, 20000000, &v, err) < 0)
            return -1;
        cm->baud = v;
        cm->baud_given = true;
        break;
    case CLI_O_WAIT:
        cm->wait = true;
        /* `--wait 60` means `--wait=60`: a lone number after --wait is its value. */
        if (!optarg && optind < p->argc && p->argv[optind][0] &&
            strspn(p->argv[optind], "0123456789") == strlen(p->argv[optind]))
            optarg = p->argv[optind++];
        if (optarg) {
            if (parse_uint(p, "--wait", optarg, 0, 86400, &v, err) < 0)
                return -1;
            cm->wait_seconds = (int)v;
        }
        break;
    case CLI_O_BOOT_TIMEOUT:
        /* A restarting board needs a moment to answer at all. */
        if (parse_uint(p, "--boot-timeout", optarg, 1, 3600, &v, err) < 0)
            return -1;
        cm->boot_timeout_seconds = (int)v;
        break;
    case CLI_O_BOARD_FILE:
        if (cm->nboard_files == CLI_MAX_BOARD_FILES)
            return cli_usage_error(err, p->command, "--board-file may be given at most %d times",
                                   CLI_MAX_BOARD_FILES);
        cm->board_files[cm->nboard_files++] = optarg;
        break;
    default: return 1; /* the command's own */
    }
    return 0;
}

/* The error for what getopt refused ('?' or ':'), naming the option as the
 * user typed it: "--baud", "-x". */
static void refused(const struct cli_parser *p, int c, struct mf_err *err)
{
    const char *arg = optind > 0 && optind <= p->argc ? p->argv[optind - 1] : "";
    bool typed_long = !strncmp(arg, "--", 2) && (optopt == 0 || c == ':' || strchr(arg, '='));
    char opt[64];
    if (typed_long)
        snprintf(opt, sizeof(opt), "%.*s", (int)strcspn(arg, "="), arg);
    else
        snprintf(opt, sizeof(opt), "-%c", optopt);
    if (c == ':')
        cli_usage_error(err, p->command, "%s needs a value", opt);
    else if (optopt && typed_long)
        cli_usage_error(err, p->command, "%s takes no value", opt);
    else
        cli_usage_error(err, p->command, "'%s' is not an option of 'mcuflash %s'", opt, p->command);
}

int cli_parse_next(struct cli_parser *p, struct mf_err *err)
{
    optopt = 0;
    int c = getopt_long(p->argc, p->argv, p->shorts, p->table, NULL);
    if (c == '?' || c == ':') {
        refused(p, c, err);
        return -2;
    }
    if (c == -1)
        return -1;
    return store_shared(p, c, err) < 0 ? -2 : c;
}

int cli_parse_shared(struct cli_parser *p, int argc, char **argv, struct mf_err *err)
{
    int c;
    cli_parse_begin(p, argc, argv);
    while ((c = cli_parse_next(p, err)) != -1)
        if (c == -2)
            return -1;
    if (!p->common->help)
        return 0;
    if (p->usage)
        p->usage(stdout);
    return 1;
}
