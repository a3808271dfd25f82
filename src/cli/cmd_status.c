/* mcuflash status: every MCU of printer.cfg, and every flashable board on
 * USB and CAN that it does not name, with what each runs against the
 * host's Klipper and the routes that can flash it. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/search.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "method/connect.h"
#include "method/discover.h"
#include "method/identify.h"
#include "method/mcutarget.h"
#include "printer/hostklipper.h"

#define MAX_FOUND 32
#define MAX_BOARDS_SHOWN 4

struct status_row {
    const char *name;       /* "" for a board printer.cfg does not name */
    char reach[600];
    struct mf_identity id;
    char boards[256];       /* matching board definitions */
    char routes[64];
    const char *differs;    /* "yes", "no", "-" */
    const char *found_as;   /* unnamed boards: "klipper", "katapult", "dfu", "bootsel" */
    const char *restart;    /* printer.cfg's restart_method, "" when none */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mcuflash status [-h] [--config FILE] [--klipper-dir DIR] [--board-file FILE] [--json]\n\n"
                 "For every MCU of printer.cfg, and every Klipper, Katapult, DFU or BOOTSEL device on\n"
                 "USB and on the printer's CAN interfaces that printer.cfg does not name: how it is\n"
                 "reached, its MCU, the firmware it runs against the host's Klipper version, the board\n"
                 "definitions that match, the routes that can flash it, and printer.cfg's restart_method.\n"
                 "Nothing is changed.\n\n"
                 "      --config FILE      printer.cfg (default ~/printer_data/config/printer.cfg,\n"
                 "                         else ~/printer.cfg)\n"
                 "      --klipper-dir DIR  the host's Klipper checkout (default ~/klipper)\n"
                 "      --board-file FILE  extra board definitions\n"
                 "      --json             one JSON object\n"
                 "  -h, --help             show this help\n");
}

static void match_boards(const struct board_db *db, struct status_row *r)
{
    const struct board *b[MAX_BOARDS_SHOWN];
    size_t n = r->id.mcu[0] ? board_db_by_mcu(db, r->id.mcu, b, MAX_BOARDS_SHOWN) : 0, len = 0;
    r->boards[0] = '\0';
    for (size_t i = 0; i < n && i < MAX_BOARDS_SHOWN; i++)
        len += (size_t)snprintf(r->boards + len, sizeof(r->boards) - len, "%s%s", i ? " " : "", b[i]->name);
    if (n > MAX_BOARDS_SHOWN)
        snprintf(r->boards + len, sizeof(r->boards) - len, " (+%zu)", n - MAX_BOARDS_SHOWN);
}

/* Katapult reaches every running Klipper (if installed) and every board
 * waiting in it; the SD card route needs a serial link and a board whose
 * card is wired to the MCU. */
static void routes(const struct board_db *db, bool can, struct status_row *r)
{
    bool sd = false;
    if (!can && r->id.state == MF_BOARD_KLIPPER && r->id.mcu[0]) {
        const struct board *b[64];
        size_t n = board_db_by_mcu(db, r->id.mcu, b, 64);
        for (size_t i = 0; i < n && i < 64; i++)
            sd |= b[i]->spi_bus || b[i]->sdio_bus;
    }
    snprintf(r->routes, sizeof(r->routes), "%s", r->id.state == MF_BOARD_UNREACHABLE ? "-"
                                                 : sd                                ? "katapult,sdcard"
                                                                                     : "katapult");
}

static const char *state_text(const struct status_row *r)
{
    const struct mf_identity *id = &r->id;
    if (r->found_as)
        return !strcmp(r->found_as, "klipper") ? "Klipper" : !strcmp(r->found_as, "katapult") ? "in Katapult"
               : !strcmp(r->found_as, "dfu")   ? "in DFU"
                                               : "in BOOTSEL";
    if (id->state == MF_BOARD_KATAPULT)
        return "in Katapult";
    if (id->state == MF_BOARD_UNREACHABLE)
        return "unreachable";
    return id->version[0] ? id->version : "?";
}

/* A CAN node behind a bridge that waits in Katapult: the bridge is why. */
static void explain_bridges_down(const struct printer_mcus *m, struct status_row *rows, size_t n)
{
    for (size_t b = 0; b < n; b++) {
        if (!rows[b].id.bridge || rows[b].id.state != MF_BOARD_KATAPULT)
            continue;
        for (size_t i = 0; i < n; i++)
            if (i != b && rows[i].id.state == MF_BOARD_UNREACHABLE && m->mcu[i].canbus_uuid[0] &&
                !strcmp(m->mcu[i].canbus_interface, m->mcu[b].canbus_interface))
                snprintf(rows[i].id.why, sizeof(rows[i].id.why), "%.300s is gone while the USB to CAN bridge %s "
                         "waits in Katapult; flash %s ('mcuflash flash %s') and the nodes behind it come back.",
                         m->mcu[i].canbus_interface, m->mcu[b].name, m->mcu[b].name, m->mcu[b].name);
    }
}

static void print_table(const struct status_row *rows, size_t n, const char *host)
{
    printf("%-12s %-40s %-14s %-28s %-8s %-16s %-8s %s\n", "NAME", "REACHED AS", "MCU", "RUNS", "DIFFERS", "ROUTES",
           "RESTART", "BOARDS");
    for (size_t i = 0; i < n; i++) {
        const struct status_row *r = &rows[i];
        printf("%-12s %-40s %-14s %-28s %-8s %-16s %-8s %s\n", r->name[0] ? r->name : "(unnamed)", r->reach,
               r->id.mcu[0] ? r->id.mcu : "?", state_text(r), r->differs, r->routes,
               r->restart && r->restart[0] ? r->restart : "-", r->boards[0] ? r->boards : "-");
    }
    printf("Host Klipper: %s\n", host);
    for (size_t i = 0; i < n; i++)
        if (rows[i].id.bridge)
            printf("%s: the USB to CAN bridge on USB port %s; the CAN nodes on its interface are reached through "
                   "it.\n", rows[i].name, rows[i].id.bridge_port);
    for (size_t i = 0; i < n; i++)
        if (rows[i].id.state == MF_BOARD_UNREACHABLE && rows[i].id.why[0])
            printf("%s: %s\n", rows[i].name[0] ? rows[i].name : rows[i].reach, rows[i].id.why);
}

static void print_json(const struct status_row *rows, size_t n, const char *config, const char *host, bool host_ok)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct status_row *r = &rows[i];
        json_t *o = json_object();
        json_object_set_new(o, "name", r->name[0] ? json_string(r->name) : json_null());
        json_object_set_new(o, "reach", cli_json_text(r->reach));
        json_object_set_new(o, "state", json_string(r->found_as ? r->found_as : mf_board_state_name(r->id.state)));
        json_object_set_new(o, "mcu", r->id.mcu[0] ? json_string(r->id.mcu) : json_null());
        json_object_set_new(o, "version", r->id.version[0] ? json_string(r->id.version) : json_null());
        json_object_set_new(o, "differs", !strcmp(r->differs, "-") ? json_null()
                                                                    : json_boolean(!strcmp(r->differs, "yes")));
        json_object_set_new(o, "bridge", json_boolean(r->id.bridge));
        json_object_set_new(o, "restart_method", r->restart && r->restart[0] ? json_string(r->restart) : json_null());
        json_object_set_new(o, "routes", json_string(r->routes));
        json_object_set_new(o, "boards", json_string(r->boards));
        json_object_set_new(o, "error", r->id.why[0] && r->id.state == MF_BOARD_UNREACHABLE ? cli_json_text(r->id.why)
                                                                                            : json_null());
        json_array_append_new(arr, o);
    }
    json_t *top = cli_json_result(true);
    json_object_set_new(top, "config", cli_json_text(config));
    json_object_set_new(top, "host_klipper", host_ok ? json_string(host) : json_null());
    json_object_set_new(top, "mcus", arr);
    cli_json_line(top);
}

int cmd_status(int argc, char **argv)
{
    enum { O_KLIPPER_DIR = CLI_OWN };
    static const struct option own[] = {
        { "klipper-dir", required_argument, NULL, O_KLIPPER_DIR },
        { 0 },
    };
    struct cli_common cm;
    struct cli_parser parser = { .command = "status", .shared = CLI_HELP | CLI_JSON | CLI_CONFIG | CLI_BOARD_FILE,
                                 .own = own, .common = &cm };
    const char *klipper_dir = NULL;
    struct mf_err err = { 0 };
    int c;
    cli_parse_begin(&parser, argc, argv);
    while ((c = cli_parse_next(&parser, &err)) != -1) {
        if (c == -2)
            return cli_report_error(&err, cm.json);
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        if (c == O_KLIPPER_DIR)
            klipper_dir = optarg;
    }
    const char *config = cm.config;
    bool json = cm.json;
    if (optind != argc) {
        cli_usage_error(&err, "status", "status takes no arguments (got '%s')", argv[optind]);
        return cli_report_error(&err, json);
    }
    char used[4096], host[128];
    struct pcfg *cfg;
    struct printer_mcus mcus;
    struct board_db *db;
    if (printer_load(config, used, sizeof(used), &cfg, &mcus, &err) < 0)
        return cli_report_error(&err, json);
    pcfg_free(cfg);
    if (board_db_load(cm.board_files, cm.nboard_files, &db, &err) < 0) {
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    bool host_ok = printer_host_klipper_version(klipper_dir, host, sizeof(host)) == 0;
    struct mf_found found[MAX_FOUND];
    size_t nfound = mf_discover_unnamed(&mcus, found, MAX_FOUND);
    struct status_row *rows = calloc(mcus.n + nfound + 1, sizeof(*rows));
    if (!rows) {
        mf_fail(&err, MF_E_FAIL, "Out of memory.");
        board_db_free(db);
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    size_t n = 0;
    for (size_t i = 0; i < mcus.n; i++, n++) {
        struct mf_target t;
        mf_target_from_mcu(&mcus.mcu[i], &t);
        rows[n].name = mcus.mcu[i].name;
        rows[n].restart = mcus.mcu[i].restart_method;
        mf_target_name(&t, rows[n].reach, sizeof(rows[n].reach));
        mf_identify(&t, false, &rows[n].id); /* never cut a running Klipper off its CAN nodes */
        match_boards(db, &rows[n]);
        routes(db, t.can_uuid != NULL, &rows[n]);
        rows[n].differs = rows[n].id.state != MF_BOARD_KLIPPER || !host_ok ? "-"
                          : strcmp(rows[n].id.version, host)               ? "yes"
                                                                           : "no";
    }
    explain_bridges_down(&mcus, rows, mcus.n);
    for (size_t i = 0; i < nfound; i++, n++) {
        rows[n].name = "";
        const char *what = found[i].what;
        memcpy(rows[n].reach, found[i].reach, sizeof(rows[n].reach));
        rows[n].found_as = what;
        rows[n].id.state = !strcmp(what, "klipper") ? MF_BOARD_KLIPPER : MF_BOARD_KATAPULT;
        snprintf(rows[n].routes, sizeof(rows[n].routes), "%s", !strcmp(what, "dfu")       ? "dfu"
                                                               : !strcmp(what, "bootsel") ? "picoboot"
                                                                                          : "katapult");
        rows[n].differs = "-";
    }
    if (json)
        print_json(rows, n, used, host, host_ok);
    else
        print_table(rows, n, host);
    free(rows);
    board_db_free(db);
    printer_mcus_free(&mcus);
    return 0;
}
