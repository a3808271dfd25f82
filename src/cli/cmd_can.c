/* mcuflash can scan [--canbus-interface IFACE] [--json]: the CAN nodes that
 * wait for a node id, with what they run (Klipper or Katapult). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "link/canbus.h"

/* Long enough for every node to answer once; Katapult's tool waits as long. */
#define SCAN_WINDOW_MS 1000
#define SCAN_MAX 64

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash can scan [-h] [--canbus-interface IFACE] [--json]\n\n"
            "List the CAN nodes that have no node id yet, with their UUID and what they run\n"
            "(Klipper or Katapult). Nodes that a running Klipper host has taken do not\n"
            "answer: stop Klipper first to see every node.\n\n"
            "      --canbus-interface IFACE  the CAN interface (default can0; sim:PATH for a\n"
            "                                virtual bus)\n"
            "      --json                    one JSON object per node, then the result\n"
            "  -h, --help                    show this help\n");
}

static const char *app_name(enum canbus_app a)
{
    return a == CANBUS_APP_KLIPPER ? "Klipper" : a == CANBUS_APP_KATAPULT ? "Katapult" : "unknown";
}

static int scan(int argc, char **argv)
{
    struct cli_common cm;
    struct cli_parser parser = { .command = "can scan", .shared = CLI_HELP | CLI_JSON | CLI_CAN_IFACE,
                                 .common = &cm, .usage = usage };
    struct mf_err err = { 0 };
    int prc = cli_parse_shared(&parser, argc, argv, &err);
    if (prc != 0)
        return prc > 0 ? 0 : cli_report_error(&err, cm.json);
    const char *iface = cm.can_iface ? cm.can_iface : "can0";
    bool json = cm.json;
    if (optind != argc) {
        cli_usage_error(&err, "can scan", "can scan takes no arguments (got '%s')", argv[optind]);
        return cli_report_error(&err, json);
    }
    struct canbus *bus;
    if (canbus_open(iface, &bus, &err) < 0)
        return cli_report_error(&err, json);
    struct canbus_node_info nodes[SCAN_MAX];
    int n = canbus_query_unassigned(bus, SCAN_WINDOW_MS, nodes, SCAN_MAX, &err);
    uint32_t bitrate = canbus_bitrate(bus);
    canbus_close(bus);
    if (n < 0)
        return cli_report_error(&err, json);
    for (int i = 0; i < n; i++) {
        char uuid[2 * CANBUS_UUID_LEN + 1];
        canbus_uuid_format(nodes[i].uuid, uuid);
        if (json) {
            cli_json_line(json_pack("{s:s,s:s,s:s,s:s}", "event", "node", "interface", iface, "uuid", uuid,
                                    "application", app_name(nodes[i].app)));
        } else {
            printf("%s  %s\n", uuid, app_name(nodes[i].app));
        }
    }
    if (json) {
        json_t *o = cli_json_result(true);
        json_object_set_new(o, "interface", json_string(iface));
        json_object_set_new(o, "nodes", json_integer(n));
        json_object_set_new(o, "bitrate", json_integer((json_int_t)bitrate));
        cli_json_line(o);
    } else if (n == 0) {
        printf("No unassigned CAN node answered on %s. Nodes that a running Klipper has taken stay silent: stop "
               "Klipper (sudo systemctl stop klipper) and scan again.\n", iface);
    }
    return 0;
}

int cmd_can(int argc, char **argv)
{
    struct mf_err err = { 0 };
    if (argc >= 2 && !strcmp(argv[1], "scan"))
        return scan(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    bool json = false;
    for (int i = 1; i < argc; i++)
        json |= !strcmp(argv[i], "--json");
    cli_usage_error(&err, "can", "can needs a subcommand: 'mcuflash can scan'");
    return cli_report_error(&err, json);
}
