/* mcuflash boards [PATTERN] | boards show NAME: the board database. */
#include <fnmatch.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"

static const char usage_text[] =
    "usage: mcuflash boards [PATTERN] [--board-file FILE]... [--json]\n"
    "       mcuflash boards show NAME [--board-file FILE]... [--json]\n"
    "\n"
    "List the board definitions whose name, alias or MCU matches PATTERN (a glob\n"
    "such as 'btt-*', or any part of a name), or show one definition in full.\n"
    "Definitions come from the built-in table, then " BOARD_DB_SYSTEM_FILE ",\n"
    "then ~/.config/mcuflash/boards.cfg, then each --board-file; a later\n"
    "definition of a name replaces an earlier one.\n"
    "\n"
    "      --board-file FILE  also read board definitions from FILE (may be repeated)\n"
    "      --json             print JSON instead of text\n"
    "  -h, --help             show this help\n";

static void usage(FILE *out)
{
    fputs(usage_text, out);
}

struct boards_opts {
    struct cli_common common;
    bool show;
    const char *arg;  /* PATTERN, or NAME for show */
};

static int usage_error(struct boards_opts *o, const char *what)
{
    struct mf_err err;
    cli_usage_error(&err, "boards", "%s", what);
    return cli_report_error(&err, o->common.json);
}

static int parse_positionals(struct boards_opts *o, int n, char **args)
{
    if (n > 0 && !strcmp(args[0], "show")) {
        o->show = true;
        if (n != 2)
            return usage_error(o, n < 2 ? "'boards show' needs a board name"
                                        : "'boards show' takes one board name");
        o->arg = args[1];
        return 0;
    }
    if (n > 1)
        return usage_error(o, "'boards' takes at most one pattern");
    o->arg = n ? args[0] : NULL;
    return 0;
}

/* Returns -1 to go on, or the exit status to stop with. */
static int parse_options(int argc, char **argv, struct boards_opts *o)
{
    struct cli_parser parser = { .command = "boards", .shared = CLI_HELP | CLI_JSON | CLI_BOARD_FILE,
                                 .common = &o->common, .usage = usage };
    struct mf_err err;
    int prc = cli_parse_shared(&parser, argc, argv, &err);
    if (prc != 0)
        return prc > 0 ? 0 : cli_report_error(&err, o->common.json);
    int rc = parse_positionals(o, argc - optind, argv + optind);
    return rc ? rc : -1;
}

static bool matches(const char *pattern, const char *s)
{
    if (strpbrk(pattern, "*?["))
        return fnmatch(pattern, s, FNM_CASEFOLD) == 0;
    return strcasestr(s, pattern) != NULL;
}

static bool board_matches(const struct board *b, const char *pattern)
{
    if (!pattern || matches(pattern, b->name) || matches(pattern, b->mcu))
        return true;
    for (size_t i = 0; i < b->naliases; i++)
        if (matches(pattern, b->aliases[i]))
            return true;
    return false;
}

static json_t *origin_json(const struct board_origin *o)
{
    char text[4200];
    return json_pack("{s:s?,s:i,s:s}", "file", o->file, "line", o->line, "text",
                     board_origin_text(o, text, sizeof(text)));
}

static json_t *strings_json(const char *const *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(list[i]));
    return a;
}

static json_t *app_addresses_json(const struct board *b)
{
    json_t *a = json_array();
    for (size_t i = 0; i < b->napp_addresses; i++) {
        char hex[16];
        snprintf(hex, sizeof(hex), "0x%08x", (unsigned)b->app_addresses[i]);
        json_array_append_new(a, json_string(hex));
    }
    return a;
}

static json_t *board_json(const struct board *b)
{
    size_t npins = b->spi_pins[0] ? 3 : 0;
    char dfu[16];
    snprintf(dfu, sizeof(dfu), "%04x:%04x", b->dfu_vid, b->dfu_pid);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:o,s:s?,s:s?,s:s,s:s,s:s,s:b,s:s,s:b,s:o,s:o}",
                     "name", b->name, "description", b->description, "mcu", b->mcu,
                     "spi_bus", b->spi_bus,
                     "spi_pins", strings_json((const char *const *)b->spi_pins, npins),
                     "cs_pin", b->cs_pin, "sdio_bus", b->sdio_bus,
                     "card_access", board_card_access_name(b->card_access),
                     "firmware_path", b->firmware_path,
                     "current_firmware_path", b->current_firmware_path,
                     "skip_verify", b->skip_verify,
                     "conversion", board_conversion_name(b->conversion),
                     "unique_name", b->unique_name,
                     "aliases", strings_json(b->aliases, b->naliases),
                     "origin", origin_json(&b->origin));
    json_object_set_new(o, "bootloader", json_string(board_bootloader_name(b->bootloader)));
    json_object_set_new(o, "application_address", app_addresses_json(b));
    json_object_set_new(o, "katapult", b->katapult ? json_string(board_katapult_name(b->katapult)) : json_null());
    json_object_set_new(o, "dfu", b->has_dfu ? json_string(dfu) : json_null());
    return o;
}

/* The result event with one field added, taking value. */
static void print_json(const char *key, json_t *value, const char *key2, json_t *value2)
{
    json_t *o = cli_json_result(true);
    json_object_set_new(o, key, value);
    if (key2)
        json_object_set_new(o, key2, value2);
    cli_json_line(o);
}

static void bus_text(const struct board *b, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s%s%s", b->spi_bus ? b->spi_bus : "", b->spi_bus && b->sdio_bus ? ", " : "",
             b->sdio_bus ? b->sdio_bus : "");
}

static void print_row(const struct board *b, int wname, int wmcu, int wbus)
{
    char bus[128];
    bus_text(b, bus, sizeof(bus));
    const char *card = board_card_access_name(b->card_access);
    printf("%-*s  %-*s  %-*s  %-*s", wname, b->name, wmcu, b->mcu, wbus, bus,
           b->naliases ? 4 : 0, card);
    for (size_t i = 0; i < b->naliases; i++)
        printf("%s%s", i ? ", " : "  ", b->aliases[i]);
    putchar('\n');
}

static void print_table(const struct board **list, size_t n)
{
    int wname = 4, wmcu = 3, wbus = 3;
    for (size_t i = 0; i < n; i++) {
        char bus[128];
        bus_text(list[i], bus, sizeof(bus));
        wname = (int)strlen(list[i]->name) > wname ? (int)strlen(list[i]->name) : wname;
        wmcu = (int)strlen(list[i]->mcu) > wmcu ? (int)strlen(list[i]->mcu) : wmcu;
        wbus = (int)strlen(bus) > wbus ? (int)strlen(bus) : wbus;
    }
    printf("%-*s  %-*s  %-*s  %-4s  %s\n", wname, "NAME", wmcu, "MCU", wbus, "BUS", "CARD",
           "ALIASES");
    for (size_t i = 0; i < n; i++)
        print_row(list[i], wname, wmcu, wbus);
}

static int list_boards(const struct board_db *db, const struct boards_opts *o)
{
    size_t total = board_db_count(db), n = 0;
    const struct board **list = calloc(total ? total : 1, sizeof(*list));
    if (!list) {
        struct mf_err err;
        mf_fail(&err, MF_E_FAIL, "Out of memory while listing boards; nothing was done; close "
                "other programs and try again.");
        return cli_report_error(&err, o->common.json);
    }
    for (size_t i = 0; i < total; i++)
        if (board_matches(board_db_board(db, i), o->arg))
            list[n++] = board_db_board(db, i);
    if (!n) {
        /* As grep: no match is exit status 1, and --json says so too. */
        struct mf_err err;
        free(list);
        mf_fail(&err, MF_E_FAIL, "no board definition matches '%s'; run 'mcuflash boards' for the list.", o->arg);
        return cli_report_error(&err, o->common.json);
    }
    if (o->common.json) {
        json_t *a = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(a, board_json(list[i]));
        print_json("boards", a, NULL, NULL);
    } else {
        print_table(list, n);
    }
    free(list);
    return MF_OK;
}

static void print_optional(const char *key, const char *value, const char *absent)
{
    if (value)
        printf("%s: %s\n", key, value);
    else
        printf("# %s: (%s)\n", key, absent);
}

/* The definition in the format of a board file, so it can be copied into one. */
static void print_definition(const struct board *b, const struct board_alias *via)
{
    char where[4200];
    if (via)
        printf("# %s is an alias of %s (source: %s)\n", via->name, b->name,
               board_origin_text(&via->origin, where, sizeof(where)));
    printf("# source: %s\n", board_origin_text(&b->origin, where, sizeof(where)));
    printf("# aliases:");
    for (size_t i = 0; i < b->naliases; i++)
        printf("%s%s", i ? ", " : " ", b->aliases[i]);
    printf("%s\n[board %s]\n", b->naliases ? "" : " (none)", b->name);
    printf("description: %s\nmcu: %s\n", b->description, b->mcu);
    const char *no_spi = b->sdio_bus ? "none: SDIO only" : "none: no SD card";
    print_optional("spi_bus", b->spi_bus, no_spi);
    if (b->spi_pins[0])
        printf("spi_pins: %s, %s, %s\n", b->spi_pins[0], b->spi_pins[1], b->spi_pins[2]);
    else
        printf("# spi_pins: (only with spi_bus: swspi)\n");
    print_optional("cs_pin", b->cs_pin, no_spi);
    print_optional("sdio_bus", b->sdio_bus, "none");
    printf("card_access: %s\nfirmware_path: %s\ncurrent_firmware_path: %s\n",
           board_card_access_name(b->card_access), b->firmware_path, b->current_firmware_path);
    printf("skip_verify: %s\nconversion: %s\nbootloader: %s\n", b->skip_verify ? "true" : "false",
           board_conversion_name(b->conversion), board_bootloader_name(b->bootloader));
    char addrs[128];
    print_optional("application_address", b->napp_addresses ? board_app_addresses_text(b, addrs, sizeof(addrs))
                                                             : NULL, "not known");
    print_optional("katapult", board_katapult_name(b->katapult), "not known");
    char dfu[16];
    snprintf(dfu, sizeof(dfu), "%04x:%04x", b->dfu_vid, b->dfu_pid);
    print_optional("dfu", b->has_dfu ? dfu : NULL, "none");
}

static int show_board(const struct board_db *db, const struct boards_opts *o)
{
    struct mf_err err;
    const struct board *b = board_db_find(db, o->arg, &err);
    if (!b)
        return cli_report_error(&err, o->common.json);
    const struct board_alias *via = board_db_find_alias(db, o->arg);
    if (!o->common.json) {
        print_definition(b, via);
        return MF_OK;
    }
    json_t *alias = via ? json_pack("{s:s,s:o}", "name", via->name, "origin",
                                    origin_json(&via->origin))
                        : json_null();
    print_json("board", board_json(b), "alias", alias);
    return MF_OK;
}

int cmd_boards(int argc, char **argv)
{
    struct boards_opts o = { .show = false };
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct board_db *db;
    struct mf_err err;
    if (board_db_load(o.common.board_files, o.common.nboard_files, &db, &err))
        return cli_report_error(&err, o.common.json);
    rc = o.show ? show_board(db, &o) : list_boards(db, &o);
    board_db_free(db);
    return rc;
}
