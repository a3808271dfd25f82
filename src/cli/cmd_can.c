/* mcuflash can scan [--canbus-interface IFACE] [--json]: the CAN nodes that
 * wait for a node id, with what they run (Klipper or Katapult). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
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
    enum { O_IFACE = 256, O_JSON };
    static const struct option opts[] = {
        { "canbus-interface", required_argument, NULL, O_IFACE },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *iface = "can0";
    bool json = false;
    struct mf_err err = { 0 };
    int c;
    optind = 1;
    for (int i = 1; i < argc; i++)
        json |= !strcmp(argv[i], "--json");
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case O_IFACE: iface = optarg; break;
        case O_JSON: break;
        default: usage(stderr); return MF_E_USAGE;
        }
    }
    if (optind != argc) {
        mf_fail(&err, MF_E_USAGE, "can scan takes no arguments (got '%s'); nothing was done; see 'mcuflash can "
                "scan --help'.", argv[optind]);
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
            json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "event", "node", "interface", iface, "uuid", uuid,
                                  "application", app_name(nodes[i].app));
            char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            printf("%s\n", s);
            free(s);
            json_decref(o);
        } else {
            printf("%s  %s\n", uuid, app_name(nodes[i].app));
        }
    }
    if (json) {
        json_t *o = json_pack("{s:s,s:b,s:s,s:i,s:I}", "event", "result", "ok", 1, "interface", iface, "nodes", n,
                              "bitrate", (json_int_t)bitrate);
        char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        printf("%s\n", s);
        free(s);
        json_decref(o);
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
    mf_fail(&err, MF_E_USAGE, "can needs a subcommand: 'mcuflash can scan'; nothing was done.");
    return cli_report_error(&err, false);
}
