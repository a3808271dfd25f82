/* mcuflash flash [options] TARGET: the one command for flashing a board,
 * through whichever route it supports (or the one named with --route).
 * `mcuflash sdcard` is the same command in the shape of Klipper's
 * flash-sdcard.sh (cmd_sdcard.c): DEVICE BOARD, the SD-card route. */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board/search.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "method/flash.h"
#include "method/identify.h"
#include "method/mcutarget.h"
#include "util/interrupt.h"

static void flash_usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash flash [-h] [-c] [-s] [-b BAUD] [-f FIRMWARE] [-d DICT] [--board NAME]\n"
            "                      [--board-file FILE] [--route ROUTE] [--wait[=SECONDS]] [--json]\n"
            "                      [--config FILE] [--boot-timeout SECONDS]\n"
            "                      [DEVICE | MCU | usb:PORT | usb:VID:PID | --canbus-uuid UUID [--canbus-interface IFACE]]\n\n"
            "Flash a Klipper board through the route it supports - its SD card, the Katapult\n"
            "bootloader over USB, UART or CAN, or a USB DFU bootloader - entered from the running\n"
            "firmware; read back what was written, start it, and verify that the new firmware\n"
            "runs.  MCU is the name of an [mcu] section of printer.cfg ('mcu', 'toolhead'): it is\n"
            "reached as Klipper reaches it.  usb:PORT (e.g. usb:1-1.3) or usb:VID:PID names a\n"
            "board already in its DFU bootloader or BOOTSEL; with no target, the one such board\n"
            "there is.\n\n"
            "  -c, --check              only verify what runs now (no writing)\n"
            "  -s, --fast-spi           SD card route: clock the card at 4 MHz instead of 400 kHz (SPI)\n"
            "  -b, --baud BAUD          serial baud rate for UART boards (default 250000)\n"
            "  -f, --firmware FIRMWARE  the image (default ~/klipper/out/klipper.bin)\n"
            "  -d, --dict DICT          klipper.dict to verify against (default: out/klipper.dict\n"
            "                           beside the default image, when it exists)\n"
            "      --board NAME         the board definition ('mcuflash boards'); the SD card route\n"
            "                           needs it for the card's wiring\n"
            "      --board-file FILE    extra board definitions\n"
            "      --route ROUTE        sdcard, katapult, dfu or picoboot (default: the one the\n"
            "                           board supports)\n"
            "      --canbus-uuid UUID   flash this CAN node (12 hex digits, as in printer.cfg)\n"
            "      --canbus-interface IFACE  the CAN interface (default can0)\n"
            "      --config FILE        printer.cfg, where an MCU name is looked up (default\n"
            "                           ~/printer_data/config/printer.cfg, else ~/printer.cfg)\n"
            "      --wait[=SECONDS]     if the board needs a power cycle to flash, wait up to\n"
            "                           SECONDS (default 300) for it and verify\n"
            "      --boot-timeout SECONDS  how long the new firmware may take to answer once\n"
            "                           started (default 30)\n"
            "      --json               one JSON event per line, ending with the result\n"
            "  -h, --help               show this help\n");
}

static bool valid_uuid(const char *u)
{
    size_t n = 0;
    for (; u[n]; n++)
        if (!isxdigit((unsigned char)u[n]))
            return false;
    return n == 12;
}

/* The definition called name, else the one of that family name that fits
 * the board's MCU; *why then says how it was chosen ("" for a name). */
static const struct board *find_board(const struct board_db *db, const char *name, const struct mf_target *t,
                                      char *why, size_t cap, struct mf_err *err)
{
    struct mf_err ignore;
    const struct board *b = board_db_find(db, name, &ignore), *family[2];
    why[0] = '\0';
    if (b)
        return b;
    struct mf_identity id = { 0 };
    if (board_db_family(db, name, NULL, family, 2) > 1)
        mf_identify(t, false, &id);
    b = board_db_find_for_mcu(db, name, id.mcu[0] ? id.mcu : NULL, err);
    if (b)
        snprintf(why, cap, "Board '%s' taken as %s, %s.", name, b->name,
                 id.mcu[0] ? "the definition of that name for the MCU the board reports"
                           : "the only definition of that name");
    return b;
}

/* The image and the board definition name different MCUs: the board itself
 * says which of the two is wrong.  When it does not have the definition's
 * MCU, the definition is the one to change (an image still built for
 * another MCU is refused on the next run, with the right definition). */
static void blame_definition(const struct board_db *db, const struct mf_flash_opts *o, struct mf_err *err)
{
    struct mf_identity id = { 0 };
    if (err->code != MF_E_MISMATCH || !o->board || !o->target.device)
        return;
    mf_identify(&o->target, false, &id);
    if (id.state != MF_BOARD_KLIPPER || !id.mcu[0] || !strcasecmp(id.mcu, o->board->mcu))
        return;
    /* The definitions of this MCU that share the chosen one's family name
     * ("btt-skr2-" of "btt-skr2-f429"). */
    const struct board *same_mcu[32];
    size_t n = board_db_by_mcu(db, id.mcu, same_mcu, 32);
    const char *dash = strrchr(o->board->name, '-');
    size_t stem = dash ? (size_t)(dash - o->board->name + 1) : strlen(o->board->name);
    char names[256] = "";
    for (size_t i = 0, len = 0; i < n && i < 32 && len < sizeof(names); i++)
        if (!strncmp(same_mcu[i]->name, o->board->name, stem))
            len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", len ? ", " : "", same_mcu[i]->name);
    if (names[0])
        mf_fail(err, MF_E_MISMATCH, "The board at %s has a %s, but board definition %s is for a %s; nothing was "
                "changed; the definition is the wrong one: pick %s and try again.", o->target.device, id.mcu,
                o->board->name, o->board->mcu, names);
    else
        mf_fail(err, MF_E_MISMATCH, "The board at %s has a %s, but board definition %s is for a %s; nothing was "
                "changed; the definition is the wrong one: pick one for the %s ('mcuflash boards %s*' lists them) "
                "and try again.", o->target.device, id.mcu, o->board->name, o->board->mcu, id.mcu, id.mcu);
}

static const unsigned flash_shared = CLI_HELP | CLI_JSON | CLI_BAUD | CLI_FAST_SPI | CLI_FIRMWARE | CLI_DICT |
                                     CLI_CHECK | CLI_BOARD | CLI_BOARD_FILE | CLI_CONFIG | CLI_WAIT | CLI_CAN_IFACE |
                                     CLI_BOOT_TIMEOUT;

int cli_flash_front_end(int argc, char **argv, const struct cli_flash_shape *shape)
{
    enum { O_ROUTE = CLI_OWN, O_UUID };
    /* sdcard takes flash's own options too, to refuse them with a word
     * about the command that has them. */
    static const struct option flash_own[] = {
        { "route", required_argument, NULL, O_ROUTE },
        { "canbus-uuid", required_argument, NULL, O_UUID },
        { 0 },
    };
    static const struct option sdcard_own[] = {
        { "route", required_argument, NULL, O_ROUTE },
        { "canbus-uuid", required_argument, NULL, O_UUID },
        { "list", no_argument, NULL, 'l' },
        { 0 },
    };
    bool sdcard = shape->sdcard;
    const char *command = sdcard ? "sdcard" : "flash";
    struct cli_common cm;
    struct cli_parser parser = { .command = command, .shared = flash_shared, .own_short = sdcard ? "l" : "",
                                 .own = sdcard ? sdcard_own : flash_own, .common = &cm };
    struct mf_flash_opts o;
    mf_flash_opts_init(&o);
    o.command = cli_flash_command;
    struct mf_err err = { 0 };
    struct printer_mcus mcus = { 0 };
    bool list = false;
    int c;
    cli_parse_begin(&parser, argc, argv);
    if (sdcard) {
        o.route = "sdcard";
        o.front_end = "sdcard";
    }
    while ((c = cli_parse_next(&parser, &err)) != -1) {
        if (c == -2)
            return cli_report_error(&err, cm.json);
        if (sdcard && (c == O_ROUTE || c == O_UUID || c == CLI_O_BOARD || c == CLI_O_CONFIG || c == CLI_O_CAN_IFACE)) {
            mf_fail(&err, MF_E_USAGE, "sdcard takes the board as its second argument and flashes through the card "
                    "only; nothing was done; use 'mcuflash flash' for --board, --route, --config and CAN nodes.");
            return cli_report_error(&err, cm.json);
        }
        switch (c) {
        case 'h': shape->usage(stdout); return 0;
        case 'l': list = true; break;
        case O_ROUTE: o.route = optarg; break;
        case O_UUID:
            if (!valid_uuid(optarg)) {
                cli_usage_error(&err, command, "--canbus-uuid needs the node's 12 hex digits (as 'canbus_uuid:' in "
                                "printer.cfg), not '%s'; 'mcuflash can scan' lists the nodes", optarg);
                return cli_report_error(&err, cm.json);
            }
            o.target.can_uuid = optarg;
            break;
        default: break; /* a shared option, stored in cm */
        }
    }
    o.check_only = cm.check;
    o.fast_spi = cm.fast_spi;
    o.target.baud = (uint32_t)cm.baud;
    o.target.can_iface = cm.can_iface ? cm.can_iface : "can0";
    o.wait_power_cycle = cm.wait;
    if (cm.wait_seconds >= 0)
        o.wait_timeout_s = cm.wait_seconds;
    if (cm.boot_timeout_seconds >= 0)
        o.reconnect_timeout_s = cm.boot_timeout_seconds;
    const char *board = cm.board, *firmware = cm.firmware, *dict = cm.dict;
    bool json = cm.json;
    if (list) {
        char *args[] = { "boards", NULL };
        return cmd_boards(1, args);
    }
    int npos = argc - optind;
    if (sdcard && npos != 2) {
        cli_usage_error(&err, command, "sdcard needs DEVICE and BOARD (got %d argument%s)", npos, npos == 1 ? "" : "s");
        return cli_report_error(&err, json);
    }
    if (sdcard)
        board = argv[optind + 1];
    else if (o.target.can_uuid ? npos != 0 : npos > 1) {
        cli_usage_error(&err, command, "flash needs one target: a serial DEVICE, an MCU name, usb:PORT or "
                        "usb:VID:PID, or --canbus-uuid UUID for a CAN node (got %d argument%s%s)", npos,
                        npos == 1 ? "" : "s", o.target.can_uuid ? " besides --canbus-uuid" : "");
        return cli_report_error(&err, json);
    }
    /* No target: the one USB bootloader device waiting (refused when there
     * are several, or none). */
    if (!o.target.can_uuid)
        o.target.device = npos ? argv[optind] : "usb:";
    /* An MCU of printer.cfg: reached as Klipper reaches it, -b still wins. */
    if (o.target.device && mf_target_text_is_name(o.target.device)) {
        uint32_t baud = o.target.baud;
        if (mf_target_from_config(cm.config, o.target.device, &mcus, &o.target, &err) < 0)
            return cli_report_error(&err, json);
        if (cm.baud_given)
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
    if (board_db_load(cm.board_files, cm.nboard_files, &db, &err) < 0) {
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    char board_why[256];
    if (board && !(o.board = find_board(db, board, &o.target, board_why, sizeof(board_why), &err))) {
        board_db_free(db);
        printer_mcus_free(&mcus);
        return cli_report_error(&err, json);
    }
    struct cli_output out;
    struct mf_progress p = cli_output_init(&out, json, false);
    o.progress = &p;
    if (board && board_why[0])
        mf_progress_note(&p, "board", board_why);
    struct mf_flash_result r;
    mf_interrupt_catch(!json);
    int rc = mf_flash_run(&o, &r, &err);
    cli_output_done(&out);
    /* Refused by the image check, before the board was asked anything. */
    if (rc < 0 && !r.running_before[0] && !r.bytes)
        blame_definition(db, &o, &err);
    if (rc < 0) {
        cli_advise(&err, o.target.device);
        cli_advise_not_flashed(&err, db, o.board);
    }
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
