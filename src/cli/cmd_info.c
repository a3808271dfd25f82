/* mcuflash info DEVICE: what a connected board runs and offers. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/search.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "klipper/mcu.h"
#include "method/connect.h"
#include "method/identify.h"
#include "method/mcutarget.h"

#define MAX_BOARDS 64

struct info {
    const struct kl_dict *dict;
    const struct board *boards[MAX_BOARDS]; /* the definitions with this MCU */
    size_t nboards;
    struct kl_mcu_config cfg;
    char shutdown_reason[96];
    struct kl_mcu_features feat;
    struct kl_stats stats;
};

static const char *text_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

struct namelist {
    char text[1024];
    json_t *arr;
};

static void add_name(const char *name, int32_t value, void *ctx)
{
    json_array_append_new(((struct namelist *)ctx)->arr, json_string(name));
}

/* JSON gets every name; the text form shows ranges as "first..last". */
static void bus_names(const struct kl_dict *d, const char *enum_name, struct namelist *nl)
{
    nl->text[0] = '\0';
    nl->arr = json_array();
    const struct kl_enum *e = enum_name ? kl_dict_enum(d, enum_name) : NULL;
    if (!e)
        return;
    kl_enum_foreach(e, add_name, nl);
    for (size_t i = 0; i < e->n; i++) {
        const struct kl_enum_entry *en = &e->entries[i];
        size_t n = strlen(nl->text);
        char last[96];
        if (en->count > 1)
            snprintf(nl->text + n, sizeof(nl->text) - n, "%s%s..%s", n ? " " : "", en->name,
                     kl_enum_name(e, en->value + en->count - 1, last, sizeof(last)));
        else
            snprintf(nl->text + n, sizeof(nl->text) - n, "%s%s", n ? " " : "", en->name);
    }
}

static void state_text(const struct info *in, char *buf, size_t cap)
{
    if (in->cfg.is_shutdown)
        snprintf(buf, cap, "shut down (\"%s\")%s", in->shutdown_reason, in->cfg.is_config ? ", configured" : "");
    else if (in->cfg.is_config)
        snprintf(buf, cap, "configured (by Klipper or another tool; it will be reset before flashing)");
    else
        snprintf(buf, cap, "not configured");
}

static void print_human(const char *device, const struct info *in)
{
    const struct kl_dict *d = in->dict;
    struct namelist spi, sdio;
    char state[256];
    bus_names(d, in->feat.spi_bus_enum, &spi);
    bus_names(d, in->feat.sdio_bus_enum, &sdio);
    state_text(in, state, sizeof(state));
    printf("Device:         %s\n", device);
    printf("MCU:            %s\n", text_or(kl_dict_const(d, "MCU"), "(not stated)"));
    printf("Version:        %s\n", text_or(d->version, "(not stated)"));
    printf("Build versions: %s\n", text_or(d->build_versions, "(not stated)"));
    printf("Clock:          %s Hz\n", text_or(kl_dict_const(d, "CLOCK_FREQ"), "?"));
    const char *baud = kl_dict_const(d, "SERIAL_BAUD");
    printf("Link:           %s\n", baud ? "UART" : "USB (or other packet link)");
    if (baud)
        printf("Serial baud:    %s\n", baud);
    printf("State:          %s\n", state);
    printf("Boards:         ");
    for (size_t i = 0; i < in->nboards; i++)
        printf("%s%s", i ? " " : "", in->boards[i]->name);
    printf("%s\n", in->nboards ? "" : "(no board definition has this MCU)");
    printf("SPI buses:      %s\n", in->feat.spi ? (spi.text[0] ? spi.text : "(none named)") : "no SPI support");
    printf("Software SPI:   %s\n", in->feat.sw_spi ? "yes" : "no");
    printf("SDIO:           %s\n", in->feat.sdio ? (sdio.text[0] ? sdio.text : "yes") : "no");
    printf("Reset command:  %s\n", in->feat.reset             ? "yes"
                                    : in->feat.process_restart ? "no (config_reset restarts the Linux process)"
                                                               : "no (reset the board by hand)");
    printf("Link stats:     %llu blocks sent, %llu received, %llu retransmitted, %llu naks, %llu bad blocks, "
           "%llu lost replies asked again\n",
           (unsigned long long)in->stats.blocks_sent, (unsigned long long)in->stats.blocks_received,
           (unsigned long long)in->stats.retransmits, (unsigned long long)in->stats.naks,
           (unsigned long long)in->stats.bad_blocks, (unsigned long long)in->stats.lost_responses);
    json_decref(spi.arr);
    json_decref(sdio.arr);
}

static void print_json(const char *device, const struct info *in)
{
    const struct kl_dict *d = in->dict;
    struct namelist spi, sdio;
    int64_t clock = 0;
    kl_dict_const_int(d, "CLOCK_FREQ", &clock);
    bus_names(d, in->feat.spi_bus_enum, &spi);
    bus_names(d, in->feat.sdio_bus_enum, &sdio);
    json_t *o = cli_json_result(true);
    json_object_set_new(o, "device", json_string(device));
    json_object_set_new(o, "mcu", kl_dict_const(d, "MCU") ? json_string(kl_dict_const(d, "MCU")) : json_null());
    json_object_set_new(o, "version", d->version ? json_string(d->version) : json_null());
    json_object_set_new(o, "build_versions", d->build_versions ? json_string(d->build_versions) : json_null());
    json_object_set_new(o, "app", d->app ? json_string(d->app) : json_null());
    json_object_set_new(o, "clock_freq", json_integer(clock));
    json_object_set_new(o, "configured", json_boolean(in->cfg.is_config));
    json_object_set_new(o, "shutdown", json_boolean(in->cfg.is_shutdown));
    json_object_set_new(o, "shutdown_reason", in->cfg.is_shutdown ? json_string(in->shutdown_reason) : json_null());
    json_t *boards = json_array();
    for (size_t i = 0; i < in->nboards; i++)
        json_array_append_new(boards, json_string(in->boards[i]->name));
    json_object_set_new(o, "boards", boards);
    json_object_set_new(o, "spi_buses", spi.arr);
    json_object_set_new(o, "software_spi", json_boolean(in->feat.sw_spi));
    json_object_set_new(o, "sdio", json_boolean(in->feat.sdio));
    json_object_set_new(o, "sdio_buses", sdio.arr);
    json_object_set_new(o, "reset", json_boolean(in->feat.reset));
    json_object_set_new(o, "link", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "blocks_sent",
                                             (json_int_t)in->stats.blocks_sent, "blocks_received",
                                             (json_int_t)in->stats.blocks_received, "retransmits",
                                             (json_int_t)in->stats.retransmits, "naks", (json_int_t)in->stats.naks,
                                             "bad_blocks", (json_int_t)in->stats.bad_blocks, "lost_responses",
                                             (json_int_t)in->stats.lost_responses));
    cli_json_line(o);
}

static void usage(FILE *out)
{
    fprintf(out, "usage: mcuflash info [-h] [-b BAUD] [--config FILE] [--board-file FILE] [--json] DEVICE|MCU\n\n"
                 "Connect to the Klipper firmware on DEVICE (or the MCU of printer.cfg so named) and\n"
                 "show its MCU type, version, state, the board definitions with that MCU, the SPI and\n"
                 "SDIO buses it offers, and link statistics.  Nothing is changed.\n\n"
                 "  -b, --baud BAUD       serial baud rate for UART boards (default 250000)\n"
                 "      --config FILE     printer.cfg, where an MCU name is looked up (default\n"
                 "                        ~/printer_data/config/printer.cfg, else ~/printer.cfg)\n"
                 "      --board-file FILE extra board definitions\n"
                 "      --json            print one JSON object\n"
                 "  -h, --help            show this help\n");
}

/* A board that does not answer as Klipper may be waiting in Katapult, as an
 * interrupted or refused flash leaves it: say so, and how to go on. */
static void explain_silence(const struct mf_target *t, const char *device, const char *given, struct mf_err *err)
{
    struct mf_identity id;
    mf_identify(t, false, &id);
    if (id.state != MF_BOARD_KATAPULT)
        return;
    mf_fail(err, MF_E_PROTOCOL, "%s is waiting in the Katapult bootloader%s%s, not running Klipper; nothing was "
            "changed; finish flashing it with 'mcuflash flash -f klipper.bin %s', or power-cycle it to start the "
            "firmware it holds.", device, id.mcu[0] ? " of a " : "", id.mcu, given);
}

int cmd_info(int argc, char **argv)
{
    struct cli_common cm;
    struct cli_parser parser = { .command = "info", .shared = CLI_HELP | CLI_JSON | CLI_BAUD | CLI_CONFIG |
                                 CLI_BOARD_FILE, .common = &cm, .usage = usage };
    struct mf_err err = { 0 };
    int prc = cli_parse_shared(&parser, argc, argv, &err);
    if (prc != 0)
        return prc > 0 ? 0 : cli_report_error(&err, cm.json);
    bool json = cm.json;
    if (optind + 1 != argc) {
        cli_usage_error(&err, "info", "info takes exactly one DEVICE (for example /dev/serial/by-id/usb-Klipper_...) "
                        "or MCU name");
        return cli_report_error(&err, json);
    }
    const char *device = argv[optind];
    struct mf_target t = { .device = device, .baud = (uint32_t)cm.baud };
    struct printer_mcus mcus = { 0 };
    char name[320];
    /* An MCU of printer.cfg, reached as Klipper reaches it. */
    if (mf_target_text_is_name(device)) {
        if (mf_target_from_config(cm.config, device, &mcus, &t, &err) < 0)
            return cli_report_error(&err, json);
        if (cm.baud_given)
            t.baud = (uint32_t)cm.baud;
        device = mf_target_name(&t, name, sizeof(name));
    }
    struct mf_conn conn;
    int crc = mf_target_connect(&t, &conn, &err);
    if (crc < 0 && err.code == MF_E_DEVICE && !err.fact)
        explain_silence(&t, device, argv[optind], &err);
    if (crc < 0)
        cli_advise(&err, t.device); /* before t's strings are freed */
    printer_mcus_free(&mcus);
    if (crc < 0)
        return cli_report_error(&err, json);
    struct info in = { .dict = kl_session_dict(conn.session) };
    int rc = kl_mcu_get_config(conn.session, &in.cfg, &err);
    if (rc == 0 && in.cfg.is_shutdown)
        kl_mcu_shutdown_reason(conn.session, in.shutdown_reason, sizeof(in.shutdown_reason), &err);
    if (rc == 0) {
        kl_mcu_features(in.dict, &in.feat);
        struct board_db *db = NULL;
        const char *mcu = kl_dict_const(in.dict, "MCU");
        if (mcu && board_db_load(cm.board_files, cm.nboard_files, &db, &err) == 0)
            in.nboards = board_db_by_mcu(db, mcu, in.boards, MAX_BOARDS);
        in.nboards = in.nboards > MAX_BOARDS ? MAX_BOARDS : in.nboards;
        in.stats = kl_session_stats(conn.session);
        if (json)
            print_json(device, &in);
        else
            print_human(device, &in);
        board_db_free(db);
    }
    mf_disconnect(&conn);
    return rc < 0 ? cli_report_error(&err, json) : 0;
}
