/* mcuflash update [NAME...]: every MCU of printer.cfg (or those named)
 * flashed with its own image in one planned run, with the Klipper service
 * stopped first and started again at the end, whatever happened. */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "method/connect.h"
#include "method/update.h"
#include "printer/service.h"
#include "util/interrupt.h"

#define MAX_ARGS 32

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash update [-h] [-f NAME=FILE]... [-d NAME=FILE]... [--config FILE]\n"
            "                       [--settings FILE] [--service UNIT | --no-service]\n"
            "                       [--board-file FILE] [--dry-run] [--json] [NAME...]\n\n"
            "Flash every MCU of printer.cfg, or the ones named, each with its own image, and verify\n"
            "each.  The plan (board, route, image and version, order) is printed first; CAN nodes\n"
            "behind a USB to CAN bridge come before the bridge, then the other boards.  The Klipper\n"
            "service is stopped first and started again at the end, also after a failure.  A\n"
            "failure on one MCU does not stop the others; the run ends with a summary.\n\n"
            "  -f, --firmware NAME=FILE  the image for MCU NAME (else 'firmware:' in its [mcu NAME]\n"
            "                            section of mcuflash.cfg beside printer.cfg)\n"
            "  -d, --dict NAME=FILE      the klipper.dict of that image, to verify against\n"
            "      --config FILE         printer.cfg (default ~/printer_data/config/printer.cfg,\n"
            "                            else ~/printer.cfg)\n"
            "      --settings FILE       mcuflash.cfg (default: beside printer.cfg)\n"
            "      --service UNIT        the Klipper systemd unit (default klipper, or 'klipper_service:')\n"
            "      --no-service          leave the Klipper service alone\n"
            "      --board-file FILE     extra board definitions\n"
            "      --dry-run             print the plan and stop; nothing is touched\n"
            "      --json                one JSON event per line, ending with the summary\n"
            "  -h, --help                show this help\n");
}

struct update_cli {
    struct mf_update_opts o;
    struct cli_common common;
    const char *images[MAX_ARGS], *dicts[MAX_ARGS];
    const char *service;
    bool no_service, dry_run, json;
};

/* A NAME=FILE value of -f or -d, added to list. */
static int add_arg(const char **list, size_t *n, const char *opt, const char *what, const char *arg,
                   struct mf_err *err)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg || !eq[1])
        return cli_usage_error(err, "update", "%s needs NAME=FILE (an MCU of printer.cfg and its %s), not '%s'", opt,
                               what, arg);
    if (*n == MAX_ARGS)
        return cli_usage_error(err, "update", "%s may be given at most %d times", opt, MAX_ARGS);
    list[(*n)++] = arg;
    return 0;
}

/* 0 to go on, 1 after --help, -1 with err. */
static int parse(int argc, char **argv, struct update_cli *c, struct mf_err *err)
{
    enum { O_SETTINGS = CLI_OWN, O_SERVICE, O_NO_SERVICE, O_DRY_RUN };
    static const struct option own[] = {
        { "settings", required_argument, NULL, O_SETTINGS },
        { "service", required_argument, NULL, O_SERVICE },
        { "no-service", no_argument, NULL, O_NO_SERVICE },
        { "dry-run", no_argument, NULL, O_DRY_RUN },
        { 0 },
    };
    struct cli_parser parser = { .command = "update", .shared = CLI_HELP | CLI_JSON | CLI_FIRMWARE | CLI_DICT |
                                 CLI_CONFIG | CLI_BOARD_FILE, .own = own, .common = &c->common };
    int ch;
    cli_parse_begin(&parser, argc, argv);
    c->json = c->common.json;
    while ((ch = cli_parse_next(&parser, err)) != -1) {
        switch (ch) {
        case -2: return -1;
        case 'h': usage(stdout); return 1;
        case 'f':
            if (add_arg(c->images, &c->o.nimages, cli_typed_name(&parser, "--firmware", "-f"), "image", optarg,
                        err) < 0)
                return -1;
            break;
        case 'd':
            if (add_arg(c->dicts, &c->o.ndicts, cli_typed_name(&parser, "--dict", "-d"), "klipper.dict", optarg,
                        err) < 0)
                return -1;
            break;
        case O_SETTINGS: c->o.settings_path = optarg; break;
        case O_SERVICE: c->service = optarg; break;
        case O_NO_SERVICE: c->no_service = true; break;
        case O_DRY_RUN: c->dry_run = true; break;
        default: break; /* a shared option, stored in c->common */
        }
    }
    c->o.config_path = c->common.config;
    c->o.command = cli_flash_command;
    c->o.images = c->images;
    c->o.dicts = c->dicts;
    c->o.board_files = c->common.board_files;
    c->o.nboard_files = c->common.nboard_files;
    c->o.names = (const char *const *)argv + optind;
    c->o.nnames = (size_t)(argc - optind);
    return 0;
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static const char *running(const struct mf_update_item *it)
{
    if (!it->identified)
        return "not asked";
    switch (it->before.state) {
    case MF_BOARD_KLIPPER: return or_dash(it->before.version);
    case MF_BOARD_KATAPULT: return "in Katapult";
    case MF_BOARD_UNREACHABLE: return "unreachable";
    }
    return "?";
}

static void print_plan(const struct update_cli *c, const struct mf_update *u)
{
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < u->n; i++) {
            const struct mf_update_item *it = &u->items[i];
            char where[600];
            json_t *o = json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s}", "name", it->mcu.name, "reach",
                                  mf_target_name(&it->target, where, sizeof(where)), "route", mf_update_route(it),
                                  "bridge", it->bridge, "running", running(it), "image", it->image, "image_mcu",
                                  it->image_mcu, "image_version", it->image_version);
            json_object_set_new(o, "board", it->board ? json_string(it->board->name) : json_null());
            json_object_set_new(o, "behind", it->behind ? json_string(it->behind) : json_null());
            json_array_append_new(arr, o);
        }
        cli_json_line(json_pack("{s:s,s:o,s:b}", "event", "plan", "mcus", arr, "dry_run", c->dry_run));
        return;
    }
    printf("Plan for %s (%zu MCU%s, in this order):\n", u->config, u->n, u->n == 1 ? "" : "s");
    for (size_t i = 0; i < u->n; i++) {
        const struct mf_update_item *it = &u->items[i];
        char where[600];
        char behind[96] = "";
        if (it->behind)
            snprintf(behind, sizeof(behind), " (behind the bridge %s)", it->behind);
        printf("  %zu. %s: %s%s, %s, runs %s -> %s (%s), route %s%s%s\n", i + 1, it->mcu.name,
               mf_target_name(&it->target, where, sizeof(where)), it->bridge ? " (USB to CAN bridge)" : behind,
               or_dash(it->image_mcu), running(it), or_dash(it->image_version), it->image, mf_update_route(it),
               it->board ? ", board " : "", it->board ? it->board->name : "");
    }
    fflush(stdout);
}

/* The summary; with --json the result event, carrying the error of a
 * restart that failed (restart NULL when none did). */
static void print_summary(const struct update_cli *c, const struct mf_update *u, int rc,
                          const struct mf_err *restart)
{
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < u->n; i++) {
            const struct mf_update_item *it = &u->items[i];
            json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "name", it->mcu.name, "before", running(it), "after",
                                  it->after, "result", mf_update_result_name(it->result));
            json_object_set_new(o, "error", it->error[0] ? json_string(it->error) : json_null());
            json_array_append_new(arr, o);
        }
        json_t *o = cli_json_result(rc == 0);
        json_object_set_new(o, "mcus", arr);
        if (restart)
            json_object_set_new(o, "error", json_pack("{s:i,s:s}", "code", (int)restart->code, "message",
                                                      restart->msg));
        cli_json_line(o);
        return;
    }
    printf("\n%-14s %-30s %-30s %s\n", "MCU", "BEFORE", "AFTER", "RESULT");
    for (size_t i = 0; i < u->n; i++) {
        const struct mf_update_item *it = &u->items[i];
        printf("%-14s %-30s %-30s %s\n", it->mcu.name, running(it), or_dash(it->after),
               mf_update_result_name(it->result));
    }
    for (size_t i = 0; i < u->n; i++)
        if (u->items[i].error[0])
            printf("%s: %s\n", u->items[i].mcu.name, u->items[i].error);
    if (restart)
        cli_report_error(restart, false);
}

/* A restart that failed after another failure: a note beside that
 * failure's result. */
static void report_restart_failure(const struct update_cli *c, const struct mf_err *serr)
{
    if (c->json)
        mf_progress_note(c->o.progress, "service", serr->msg);
    else
        cli_report_error(serr, false);
}

/* Stop the service if it runs; *stopped says whether it must be started
 * again. */
static int stop_service(const struct update_cli *c, const char *unit, bool *stopped, struct mf_err *err)
{
    *stopped = false;
    if (c->no_service)
        return 0;
    enum service_state st = service_state(unit);
    if (st == SERVICE_NO_SYSTEMD) {
        mf_progress_note(c->o.progress, "service", "systemctl is not there: make sure Klipper does not run.");
        return 0;
    }
    if (st == SERVICE_INACTIVE)
        return 0;
    char text[128];
    snprintf(text, sizeof(text), "Stopping the %s service%s.", unit,
             service_via_moonraker() ? " through Moonraker" : "");
    mf_progress_note(c->o.progress, "service", text);
    if (service_stop(unit, err) < 0)
        return mf_wrap(err, "Nothing was flashed: ");
    *stopped = true;
    if (service_state(unit) == SERVICE_ACTIVE)
        return mf_fail(err, MF_E_DEVICE, "The %s service still runs after %s%s%s and holds the boards; nothing was "
                       "flashed; stop it and run the update again.", unit,
                       service_via_moonraker() ? "Moonraker stopped it" : "'systemctl stop ",
                       service_via_moonraker() ? "" : unit, service_via_moonraker() ? "" : "'");
    return 0;
}

static int start_service(const struct update_cli *c, const char *unit, struct mf_err *err)
{
    char text[128];
    snprintf(text, sizeof(text), "Starting the %s service again%s.", unit,
             service_via_moonraker() ? " through Moonraker" : "");
    mf_progress_note(c->o.progress, "service", text);
    if (service_start(unit, err) < 0)
        return mf_wrap(err, "Klipper was not started again: ");
    return 0;
}

int cmd_update(int argc, char **argv)
{
    struct update_cli c;
    struct mf_update u;
    struct mf_err err = { 0 };
    memset(&c, 0, sizeof(c));
    int prc = parse(argc, argv, &c, &err);
    if (prc != 0)
        return prc > 0 ? 0 : cli_report_error(&err, c.json);
    struct cli_output out;
    struct mf_progress p = cli_output_init(&out, c.json, false);
    c.o.progress = &p;
    if (mf_update_prepare(&c.o, &u, &err) < 0) {
        mf_update_free(&u);
        return cli_report_error(&err, c.json);
    }
    const char *unit = c.service ? c.service : u.service;
    service_use_moonraker(u.moonraker);
    bool stopped = false;
    int rc = 0;
    if (c.dry_run) {
        /* While Klipper runs, its boards are not asked anything. */
        if (!c.no_service && service_state(unit) == SERVICE_ACTIVE) {
            char text[160];
            snprintf(text, sizeof(text), "The %s service runs: the boards were not asked what they run.", unit);
            mf_progress_note(&p, "service", text);
        } else if (mf_update_identify(&u, false, &err) < 0) {
            rc = -1;
        }
        print_plan(&c, &u);
        if (c.json && rc == 0)
            cli_json_line(json_pack("{s:s,s:b,s:b}", "event", "result", "ok", 1, "dry_run", 1));
        else if (rc == 0)
            printf("Dry run: nothing was touched.\n");
        mf_update_free(&u);
        return rc < 0 ? cli_report_error(&err, c.json) : 0;
    }
    /* From here on a Ctrl-C or SIGTERM stops at the next safe point, and
     * the service stopped below is started again. */
    mf_interrupt_catch(!c.json);
    if (stop_service(&c, unit, &stopped, &err) < 0 || mf_update_identify(&u, true, &err) < 0) {
        struct mf_err serr = { 0 };
        if (stopped && start_service(&c, unit, &serr) < 0)
            report_restart_failure(&c, &serr);
        mf_update_free(&u);
        return cli_report_error(&err, c.json);
    }
    print_plan(&c, &u);
    size_t failed = mf_update_flash(&c.o, &u);
    cli_output_done(&out);
    struct mf_err serr = { 0 };
    bool restart_failed = stopped && start_service(&c, unit, &serr) < 0;
    for (size_t i = 0; i < u.n && !rc; i++)
        if (u.items[i].result != MF_UPDATE_FLASHED)
            rc = (int)u.items[i].code;
    if (!rc && (failed || restart_failed))
        rc = restart_failed && serr.code ? (int)serr.code : MF_E_FAIL;
    /* Stopped by a signal: the shell's convention, 128 + the signal. */
    if (mf_interrupted())
        rc = mf_interrupted() == SIGTERM ? 128 + SIGTERM : MF_E_INTERRUPTED;
    print_summary(&c, &u, rc, restart_failed ? &serr : NULL);
    mf_update_free(&u);
    return rc;
}
