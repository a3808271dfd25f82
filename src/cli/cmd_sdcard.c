/* mcuflash sdcard [options] DEVICE BOARD: flash through the board's SD card.
 * Takes the options of Klipper's scripts/flash-sdcard.sh with the same
 * meaning and defaults. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "method/sdcard.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash sdcard [-h] [-l] [-c] [-s] [-b BAUD] [-f FIRMWARE] [-d DICT] [--wait[=SECONDS]]\n"
            "                       [--board-file FILE] [--json] DEVICE BOARD\n\n"
            "Flash a Klipper board through its SD card, using the firmware running on it:\n"
            "upload, read back, rename, reset, and verify that the new firmware runs.\n\n"
            "  -l                 list the known boards\n"
            "  -c                 only verify what runs and what is on the card (no upload)\n"
            "  -s                 clock the card at 4 MHz instead of 400 kHz (SPI)\n"
            "  -b BAUD            serial baud rate for UART boards (default 250000)\n"
            "  -f FIRMWARE        the image (default ~/klipper/out/klipper.bin)\n"
            "  -d DICT            klipper.dict to verify against (default: out/klipper.dict\n"
            "                     beside the default image, when it exists)\n"
            "      --wait[=S]     if the board needs a power cycle to flash, wait up to S\n"
            "                     seconds (default 300) for it and verify\n"
            "      --board-file F extra board definitions\n"
            "      --json         one JSON event per line, ending with the result\n"
            "  -h, --help         show this help\n");
}

static const char *verdict_name(enum mf_verdict v)
{
    switch (v) {
    case MF_FLASHED: return "flashed";
    case MF_NOT_FLASHED: return "not-flashed";
    case MF_OLD_RUNNING: return "old-firmware-running";
    }
    return "unknown";
}

static void print_result(bool json, int rc, const struct mf_err *err, const struct mf_sdcard_result *r)
{
    if (!json) {
        if (rc == 0)
            printf("Flashed: the board now runs %s.\n", r->running_after);
        return;
    }
    json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:f}", "event", "result", "ok", rc == 0, "verdict",
                          verdict_name(r->verdict), "bus", r->bus, "card", r->card, "version_before",
                          r->running_before, "version_after", r->running_after, "bytes", (json_int_t)r->bytes,
                          "upload_seconds", r->upload_seconds);
    json_object_set_new(o, "file", json_string(r->card_name));
    if (rc < 0)
        json_object_set_new(o, "error", json_pack("{s:i,s:s}", "code", (int)err->code, "message", err->msg));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    printf("%s\n", s);
    free(s);
    json_decref(o);
}

int cmd_sdcard(int argc, char **argv)
{
    enum { O_WAIT = 256, O_BOARD_FILE, O_JSON };
    static const struct option opts[] = {
        { "wait", optional_argument, NULL, O_WAIT },
        { "board-file", required_argument, NULL, O_BOARD_FILE },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct mf_sdcard_opts o;
    mf_sdcard_opts_init(&o);
    struct mf_err err = { 0 };
    const char *board_files[8];
    size_t nfiles = 0;
    bool json = false, list = false;
    const char *firmware = NULL, *dict = NULL;
    unsigned long v;
    int c;
    optind = 1;
    for (int i = 1; i < argc; i++)
        json |= !strcmp(argv[i], "--json");
    while ((c = getopt_long(argc, argv, "hlcsb:f:d:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'l': list = true; break;
        case 'c': o.check_only = true; break;
        case 's': o.fast_spi = true; break;
        case 'b':
            if (cli_parse_uint("-b", optarg, 20000000, &v, &err) < 0)
                return cli_report_error(&err, json);
            o.baud = (uint32_t)v;
            break;
        case 'f': firmware = optarg; break;
        case 'd': dict = optarg; break;
        case O_WAIT:
            o.wait_power_cycle = true;
            if (optarg) {
                if (cli_parse_uint("--wait", optarg, 86400, &v, &err) < 0)
                    return cli_report_error(&err, json);
                o.wait_timeout_s = (int)v;
            }
            break;
        case O_BOARD_FILE:
            if (nfiles == sizeof(board_files) / sizeof(board_files[0])) {
                mf_fail(&err, MF_E_USAGE, "Too many --board-file options; nothing was done.");
                return cli_report_error(&err, json);
            }
            board_files[nfiles++] = optarg;
            break;
        case O_JSON: break;
        default: usage(stderr); return MF_E_USAGE;
        }
    }
    if (list) {
        char *args[] = { "boards", NULL };
        return cmd_boards(1, args);
    }
    if (optind + 2 != argc) {
        mf_fail(&err, MF_E_USAGE, "sdcard needs DEVICE and BOARD (got %d argument%s); nothing was done; see "
                "'mcuflash sdcard --help'.", argc - optind, argc - optind == 1 ? "" : "s");
        return cli_report_error(&err, json);
    }
    o.device = argv[optind];
    /* flash-sdcard.sh's defaults: ~/klipper/out/klipper.bin, and the
     * klipper.dict of the same build only when that image is used. */
    char def_bin[4096], def_dict[4096];
    const char *home = getenv("HOME") ? getenv("HOME") : "";
    snprintf(def_bin, sizeof(def_bin), "%s/klipper/out/klipper.bin", home);
    snprintf(def_dict, sizeof(def_dict), "%s/klipper/out/klipper.dict", home);
    o.firmware_path = firmware ? firmware : def_bin;
    o.firmware_given = firmware != NULL;
    o.dict_path = dict ? dict : (!firmware && access(def_dict, R_OK) == 0) ? def_dict : NULL;

    struct board_db *db;
    if (board_db_load(board_files, nfiles, &db, &err) < 0)
        return cli_report_error(&err, json);
    o.board = board_db_find(db, argv[optind + 1], &err);
    if (!o.board) {
        board_db_free(db);
        return cli_report_error(&err, json);
    }
    struct cli_output out;
    struct mf_progress p = cli_output_init(&out, json, false);
    o.progress = &p;
    struct mf_sdcard_result r;
    int rc = mf_sdcard_run(&o, &r, &err);
    cli_output_done(&out);
    board_db_free(db);
    print_result(json, rc, &err, &r);
    if (rc < 0)
        return json ? (int)(err.code ? err.code : MF_E_FAIL) : cli_report_error(&err, false);
    return 0;
}
