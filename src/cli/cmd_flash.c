/* mcuflash flash [options] TARGET: the one command for flashing a board,
 * through whichever route it supports (or the one named with --route).
 * `mcuflash sdcard` is the same command in the shape of Klipper's
 * flash-sdcard.sh (cmd_sdcard.c): DEVICE BOARD, the SD-card route. */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board/search.h"
#include "cli/commands.h"
#include "cli/output.h"
#include "link/link.h"
#include "method/flash.h"
#include "method/identify.h"
#include "method/mcutarget.h"
#include "printer/service.h"
#include "util/interrupt.h"

static void flash_usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash flash [-h] [-c] [-s] [-b BAUD] [-f FIRMWARE] [-d DICT] [--board NAME]\n"
            "                      [--board-file FILE] [--route ROUTE] [--wait[=SECONDS]] [--json]\n"
            "                      [--config FILE]\n"
            "                      [DEVICE | MCU | usb:PORT | usb:VID:PID | --canbus-uuid UUID [--canbus-interface IFACE]]\n\n"
            "Flash a Klipper board through the route it supports - its SD card, the Katapult\n"
            "bootloader over USB, UART or CAN, or a USB DFU bootloader - entered from the running\n"
            "firmware; read back what was written, start it, and verify that the new firmware\n"
            "runs.  MCU is the name of an [mcu] section of printer.cfg ('mcu', 'toolhead'): it is\n"
            "reached as Klipper reaches it.  usb:PORT (e.g. usb:1-1.3) or usb:VID:PID names a\n"
            "board already in its DFU bootloader or BOOTSEL; with no target, the one such board\n"
            "there is.\n\n"
            "  -c                 only verify what runs now (no writing)\n"
            "  -s                 SD card route: clock the card at 4 MHz instead of 400 kHz (SPI)\n"
            "  -b BAUD            serial baud rate for UART boards (default 250000)\n"
            "  -f FIRMWARE        the image (default ~/klipper/out/klipper.bin)\n"
            "  -d DICT            klipper.dict to verify against (default: out/klipper.dict\n"
            "                     beside the default image, when it exists)\n"
            "      --board NAME   the board definition ('mcuflash boards'); the SD card route\n"
            "                     needs it for the card's wiring\n"
            "      --board-file F extra board definitions\n"
            "      --route ROUTE  sdcard, katapult, dfu or picoboot (default: the one the board supports)\n"
            "      --canbus-uuid UUID       flash this CAN node (12 hex digits, as in printer.cfg)\n"
            "      --canbus-interface IFACE the CAN interface (default can0)\n"
            "      --config FILE  printer.cfg, where an MCU name is looked up (default\n"
            "                     ~/printer_data/config/printer.cfg, else ~/printer.cfg)\n"
            "      --wait[=S]     if the board needs a power cycle to flash, wait up to S\n"
            "                     seconds (default 300) for it and verify\n"
            "      --json         one JSON event per line, ending with the result\n"
            "  -h, --help         show this help\n");
}

static bool valid_uuid(const char *u)
{
    size_t n = 0;
    for (; u[n]; n++)
        if (!isxdigit((unsigned char)u[n]))
            return false;
    return n == 12;
}

/* A definition's name or alias; else a family name ("skr2") narrowed to
 * the one definition whose MCU is the connected board's. */
static const struct board *find_board(const struct board_db *db, const char *name, const struct mf_target *t,
                                      struct mf_err *err)
{
    struct mf_err ignore;
    const struct board *b = board_db_find(db, name, &ignore), *family[2];
    if (b)
        return b;
    struct mf_identity id = { 0 };
    if (board_db_family(db, name, NULL, family, 2) > 1)
        mf_identify(t, false, &id);
    return board_db_find_for_mcu(db, name, id.mcu[0] ? id.mcu : NULL, err);
}

/* A port that is busy while the Klipper service runs: the service is what
 * holds it, so the advice names the service. */
static void name_klipper_service(const struct mf_target *t, struct mf_err *err)
{
    char real[PATH_MAX], holders[256];
    if (err->code != MF_E_DEVICE || !t->device || !realpath(t->device, real) ||
        link_holders(real, holders, sizeof(holders)) <= 0 || service_state("klipper") != SERVICE_ACTIVE)
        return;
    mf_fail(err, MF_E_DEVICE, "%s is in use by %s while the klipper service runs; nothing was sent to the board; "
            "stop the service first (sudo systemctl stop klipper) and try again, or let 'mcuflash update' stop "
            "and start it.", t->device, holders);
}

static int flash_front_end(int argc, char **argv, const struct cli_flash_shape *shape)
{
    enum { O_WAIT = 256, O_BOARD, O_BOARD_FILE, O_ROUTE, O_UUID, O_IFACE, O_JSON, O_CONFIG };
    static const struct option opts[] = {
        { "wait", optional_argument, NULL, O_WAIT },
        { "board", required_argument, NULL, O_BOARD },
        { "board-file", required_argument, NULL, O_BOARD_FILE },
        { "route", required_argument, NULL, O_ROUTE },
        { "canbus-uuid", required_argument, NULL, O_UUID },
        { "canbus-interface", required_argument, NULL, O_IFACE },
        { "json", no_argument, NULL, O_JSON },
        { "config", required_argument, NULL, O_CONFIG },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    bool sdcard = shape->sdcard;
    struct mf_flash_opts o;
    mf_flash_opts_init(&o);
    struct mf_err err = { 0 };
    const char *board_files[8], *board = NULL, *firmware = NULL, *dict = NULL, *config = NULL;
    struct printer_mcus mcus = { 0 };
    size_t nfiles = 0;
    bool json = false, list = false, baud_given = false;
    unsigned long v;
    int c;
    optind = 1;
    opterr = 0; /* the message below says it in mcuflash's words */
    for (int i = 1; i < argc; i++)
        json |= !strcmp(argv[i], "--json");
    o.target.can_iface = "can0";
    if (sdcard) {
        o.route = "sdcard";
        o.front_end = "sdcard";
    }
    while ((c = getopt_long(argc, argv, sdcard ? "hlcsb:f:d:" : "hcsb:f:d:", opts, NULL)) != -1) {
        /* The sdcard front end takes flash-sdcard.sh's options only. */
        if (sdcard && (c == O_BOARD || c == O_ROUTE || c == O_UUID || c == O_IFACE || c == O_CONFIG)) {
            mf_fail(&err, MF_E_USAGE, "sdcard takes the board as its second argument and flashes through the card "
                    "only; nothing was done; use 'mcuflash flash' for --board, --route, --config and CAN nodes.");
            return cli_report_error(&err, json);
        }
        switch (c) {
        case 'h': shape->usage(stdout); return 0;
        case 'l': list = true; break;
        case 'c': o.check_only = true; break;
        case 's': o.fast_spi = true; break;
        case 'b':
            if (cli_parse_uint("-b", optarg, 20000000, &v, &err) < 0)
                return cli_report_error(&err, json);
            o.target.baud = (uint32_t)v;
            baud_given = true;
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
        case O_BOARD: board = optarg; break;
        case O_BOARD_FILE:
            if (nfiles == sizeof(board_files) / sizeof(board_files[0])) {
                mf_fail(&err, MF_E_USAGE, "Too many --board-file options; nothing was done.");
                return cli_report_error(&err, json);
            }
            board_files[nfiles++] = optarg;
            break;
        case O_ROUTE: o.route = optarg; break;
        case O_UUID:
            if (!valid_uuid(optarg)) {
                mf_fail(&err, MF_E_USAGE, "--canbus-uuid needs the node's 12 hex digits (as 'canbus_uuid:' in "
                        "printer.cfg), not '%s'; nothing was done; 'mcuflash can scan' lists the nodes.", optarg);
                return cli_report_error(&err, json);
            }
            o.target.can_uuid = optarg;
            break;
        case O_IFACE: o.target.can_iface = optarg; break;
        case O_JSON: break;
        case O_CONFIG: config = optarg; break;
        default:
            mf_fail(&err, MF_E_USAGE, "'%s' is not an option of %s, or lacks its value; nothing was done; see "
                    "'mcuflash %s --help'.", argv[optind - 1], sdcard ? "sdcard" : "flash", sdcard ? "sdcard" : "flash");
            return cli_report_error(&err, json);
        }
    }
    if (list) {
        char *args[] = { "boards", NULL };
        return cmd_boards(1, args);
    }
    int npos = argc - optind;
    if (sdcard && npos != 2) {
        mf_fail(&err, MF_E_USAGE, "sdcard needs DEVICE and BOARD (got %d argument%s); nothing was done; see "
                "'mcuflash sdcard --help'.", npos, npos == 1 ? "" : "s");
        return cli_report_error(&err, json);
    }
    if (sdcard)
        board = argv[optind + 1];
    else if (o.target.can_uuid ? npos != 0 : npos > 1) {
        mf_fail(&err, MF_E_USAGE, "flash needs one target: a serial DEVICE, an MCU name, usb:PORT or usb:VID:PID, "
                "or --canbus-uuid UUID for a CAN node (got %d argument%s%s); nothing was done; see 'mcuflash flash "
                "--help'.", npos, npos == 1 ? "" : "s", o.target.can_uuid ? " besides --canbus-uuid" : "");
        return cli_report_error(&err, json);
    }
    /* No target: the one USB bootloader device waiting (refused when there
     * are several, or none). */
    if (!o.target.can_uuid)
        o.target.device = npos ? argv[optind] : "usb:";
    /* An MCU of printer.cfg: reached as Klipper reaches it, -b still wins. */
    if (o.target.device && mf_target_text_is_name(o.target.device)) {
        uint32_t baud = o.target.baud;
        if (mf_target_from_config(config, o.target.device, &mcus, &o.target, &err) < 0)
            return cli_report_error(&err, json);
        if (baud_given)
            o.target.baud = baud;
    }
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
    if (board_db_load(board_files, nfiles, &db, &err) < 0) {
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    if (board && !(o.board = find_board(db, board, &o.target, &err))) {
        board_db_free(db);
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    struct cli_output out;
    struct mf_progress p = cli_output_init(&out, json, false);
    o.progress = &p;
    struct mf_flash_result r;
    mf_interrupt_catch();
    int rc = mf_flash_run(&o, &r, &err);
    cli_output_done(&out);
    if (rc < 0)
        name_klipper_service(&o.target, &err);
    board_db_free(db);
    cli_flash_result(json, o.check_only, rc, &err, &r);
    /* Stopped by a signal: the shell's convention, 128 + the signal. */
    if (rc < 0 && err.code == MF_E_INTERRUPTED && mf_interrupted() == SIGTERM)
        err.code = 128 + SIGTERM;
    printer_mcus_free(&mcus);
    if (rc < 0)
        return json ? (int)(err.code ? err.code : MF_E_FAIL) : cli_report_error(&err, false);
    return 0;
}

static const struct cli_flash_shape flash_shape = { .sdcard = false, .usage = flash_usage };

int cmd_flash(int argc, char **argv)
{
    return cli_flash_front_end(argc, argv, &flash_shape);
}

int cli_flash_front_end(int argc, char **argv, const struct cli_flash_shape *shape)
{
    /* `--wait 60` means `--wait=60`: a lone number after --wait is its value. */
    char **args = calloc((size_t)argc + 1, sizeof(*args)), wait_opt[32];
    if (!args)
        return MF_E_FAIL;
    int nargs = 0;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--wait") && i + 1 < argc && argv[i + 1][0] &&
            strspn(argv[i + 1], "0123456789") == strlen(argv[i + 1])) {
            snprintf(wait_opt, sizeof(wait_opt), "--wait=%.20s", argv[++i]);
            args[nargs++] = wait_opt;
        } else {
            args[nargs++] = argv[i];
        }
    }
    int rc = flash_front_end(nargs, args, shape);
    free(args);
    return rc;
}

