/* Command line of the virtual board. */
#include "options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/proto.h"
#include "link/canbus.h"
#include "mcutypes.h"
#include "sim.h"

void sim_usage(FILE *out)
{
    char commands[1024];
    sim_control_usage(commands, sizeof(commands), ", ");
    fprintf(out,
            "usage: mcuflash-sim --path PATH (--board NAME [--dict FILE] | --mcu TYPE | --dict FILE)\n"
            "                    (--path may be left out with --link can:BUS)\n"
            "                    [--board-file FILE]... [--flash-state FILE] [--card IMAGE]\n"
            "                    [--link usb|uart:BAUD] [--timing none|realistic [--tx-buffer BYTES]]\n"
            "                    [--faults SPEC] [--control SOCKET] [--version-string V] [--empty-flash]\n"
            "                    [--usb PORT[,weak-cell=ADDR][,leave-answers][,no-dfu]]\n"
            "                    [--link can:BUS --canbus-uuid HEX12 [--canbus-frequency N]]\n"
            "                    [--link usb-can:BUS --host-interface PATH [--chip-id HEX] [--canbus-frequency N]]\n"
            "                    [--bootloader katapult [--katapult-proto 1.0.0|1.1.0] [--katapult-version V]\n"
            "                     [--katapult-start ADDR]]\n"
            "       mcuflash-sim canbus --path PATH [--bitrate N] [--timing none|realistic]\n"
            "       mcuflash-sim ctl SOCKET COMMAND...\n"
            "       mcuflash-sim make-firmware (--board NAME | --mcu TYPE | --dict FILE) [--board-file FILE]...\n"
            "                    [--app-address ADDR] [--bootloader katapult] [--version-string V]\n"
            "                    [--link usb|uart:BAUD|can] [--canbus-frequency N] [--size BYTES] [--seed N]\n"
            "                    -o FILE [--dict-out FILE] [--uf2-family ID]\n"
            "\n"
            "A virtual Klipper board on a pseudo-terminal; see docs/sim.md.\n"
            "MCU types: %s\n"
            "Fault SPEC: corrupt=P,drop=P,lose-response=P,seed=N,dir=both|in|out\n"
            "Control commands: %s\n",
            mcu_type_names(), commands);
}

int sim_parse_link_bus(const char *text, enum sim_link_kind *kind, uint32_t *baud, const char **bus,
                       struct mf_err *err)
{
    *bus = NULL;
    if (!strcmp(text, "usb")) {
        *kind = SIM_LINK_USB;
        *baud = 0;
        return 0;
    }
    if (!strcmp(text, "can") || (!strncmp(text, "can:", 4) && text[4])) {
        *kind = SIM_LINK_CAN;
        *baud = SIM_CAN_DEFAULT_FREQUENCY;
        *bus = text[3] ? text + 4 : NULL;
        return 0;
    }
    if (!strcmp(text, "usb-can") || (!strncmp(text, "usb-can:", 8) && text[8])) {
        *kind = SIM_LINK_USBCAN;
        *baud = SIM_CAN_DEFAULT_FREQUENCY;
        *bus = text[7] ? text + 8 : NULL;
        return 0;
    }
    if (!strncmp(text, "uart:", 5)) {
        char *end;
        unsigned long b = strtoul(text + 5, &end, 10);
        if (*end == '\0' && b >= 1200 && b <= 10000000) {
            *kind = SIM_LINK_UART;
            *baud = (uint32_t)b;
            return 0;
        }
    }
    return mf_fail(err, MF_E_USAGE,
                   "--link must be usb or uart:BAUD (e.g. uart:250000), can:PATH for a board on a virtual CAN bus, "
                   "or usb-can:PATH for a USB to CAN bridge on one, not '%s'; nothing was started.",
                   text);
}

int sim_parse_link(const char *text, enum sim_link_kind *kind, uint32_t *baud, struct mf_err *err)
{
    const char *bus;
    return sim_parse_link_bus(text, kind, baud, &bus, err);
}

int sim_parse_uuid(const char *text, uint8_t uuid[6], struct mf_err *err)
{
    if (strlen(text) != 12 || strspn(text, "0123456789abcdefABCDEF") != 12)
        return mf_fail(err, MF_E_USAGE,
                       "--canbus-uuid needs 12 hex digits (e.g. 0a1b2c3d4e5f), not '%s'; nothing was started.", text);
    for (int i = 0; i < 6; i++) {
        char byte[3] = { text[2 * i], text[2 * i + 1], 0 };
        uuid[i] = (uint8_t)strtoul(byte, NULL, 16);
    }
    return 0;
}

int sim_check_version(const char *v, struct mf_err *err)
{
    for (const char *p = v; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            return mf_fail(err, MF_E_USAGE,
                           "--version-string may hold printable ASCII only (no quotes or backslashes); "
                           "nothing was started.");
    return 0;
}

static int need_value(int argc, char **argv, int i, struct mf_err *err)
{
    if (i + 1 >= argc)
        return mf_fail(err, MF_E_USAGE, "Option %s needs a value; nothing was started. See --help.", argv[i]);
    return 0;
}

int sim_add_board_file(const char **files, size_t *n, const char *path, struct mf_err *err)
{
    if (*n >= SIM_BOARD_FILES_MAX)
        return mf_fail(err, MF_E_USAGE, "At most %d --board-file options are allowed; nothing was started.",
                       SIM_BOARD_FILES_MAX);
    files[(*n)++] = path;
    return 0;
}

static int check_identity(const struct sim_options *o, struct mf_err *err)
{
    if (o->mcu ? o->board || o->dict : !o->board && !o->dict)
        return mf_fail(err, MF_E_USAGE,
                       "Give one of --mcu TYPE, --dict FILE or --board NAME (which may come with --dict "
                       "FILE); nothing was started. See --help.");
    if (!o->board && (o->nboard_files || o->flash_state))
        return mf_fail(err, MF_E_USAGE,
                       "--board-file and --flash-state go with --board; nothing was started. See --help.");
    if (o->mcu && !mcu_type_find(o->mcu))
        return mf_fail(err, MF_E_USAGE, "Unknown MCU type '%s'; nothing was started. Known types: %s.", o->mcu,
                       mcu_type_names());
    return 0;
}

static int parse_u32(const char *opt, const char *v, uint32_t min, uint32_t max, uint32_t *out, struct mf_err *err)
{
    char *end;
    errno = 0;
    unsigned long long n = strtoull(v, &end, 0);
    if (end == v || *end || errno || n < min || n > max)
        return mf_fail(err, MF_E_USAGE, "%s needs a number from %u to %u, not '%s'; nothing was started.", opt, min,
                       max, v);
    *out = (uint32_t)n;
    return 0;
}

int sim_bridge_uuid(const char *chip_id, uint8_t uuid[6], struct mf_err *err)
{
    if (strlen(chip_id) > 24 || canbus_uuid_from_usb_serial(chip_id, uuid) < 0)
        return mf_fail(err, MF_E_USAGE, "--chip-id needs 1 to 12 bytes as hex digits (e.g. %s), not '%s'; nothing "
                       "was started.", SIM_BRIDGE_CHIP_ID, chip_id);
    return 0;
}

/* A USB to CAN bridge: its UUID is its chip id's, as Klipper's bridge
 * builds compute it, so the host finds it by its USB serial number. */
static int check_bridge(struct sim_options *o, struct mf_err *err)
{
    if (o->link != SIM_LINK_USBCAN)
        return o->host_interface ? mf_fail(err, MF_E_USAGE, "--host-interface goes with --link usb-can:PATH; "
                                                            "nothing was started.")
                                 : 0;
    if (o->have_uuid)
        return mf_fail(err, MF_E_USAGE, "A USB to CAN bridge takes its UUID from its chip id (--chip-id), not "
                                        "--canbus-uuid; nothing was started.");
    if (!o->can_bus || !o->host_interface)
        return mf_fail(err, MF_E_USAGE, "A USB to CAN bridge needs the bus it sits on (--link usb-can:PATH) and "
                                        "where the host's interface appears (--host-interface PATH); nothing was "
                                        "started.");
    if (!o->chip_id)
        o->chip_id = SIM_BRIDGE_CHIP_ID;
    return sim_bridge_uuid(o->chip_id, o->can_uuid, err);
}

static int check_can(const struct sim_options *o, struct mf_err *err)
{
    if (o->link == SIM_LINK_USBCAN)
        return 0;
    if (o->link != SIM_LINK_CAN)
        return o->have_uuid ? mf_fail(err, MF_E_USAGE, "--canbus-uuid goes with --link can:PATH; nothing was "
                                                       "started.")
                            : 0;
    if (!o->can_bus)
        return mf_fail(err, MF_E_USAGE, "A board needs the bus it sits on: --link can:PATH (the socket of "
                                        "`mcuflash-sim canbus`); nothing was started.");
    if (!o->have_uuid)
        return mf_fail(err, MF_E_USAGE, "A CAN board needs --canbus-uuid HEX12; nothing was started.");
    return 0;
}

static int check_katapult(const struct sim_options *o, struct mf_err *err)
{
    if (!o->katapult && (o->katapult_proto || o->katapult_version || o->katapult_start))
        return mf_fail(err, MF_E_USAGE, "--katapult-* options go with --bootloader katapult; nothing was started.");
    if (o->katapult_proto && strcmp(o->katapult_proto, "1.0.0") && strcmp(o->katapult_proto, "1.1.0"))
        return mf_fail(err, MF_E_USAGE, "--katapult-proto must be 1.0.0 or 1.1.0, not '%s'; nothing was started.",
                       o->katapult_proto);
    if (o->katapult_version && (strlen(o->katapult_version) > 63 || sim_check_version(o->katapult_version, err) < 0))
        return mf_fail(err, MF_E_USAGE, "--katapult-version takes up to 63 printable ASCII characters; nothing "
                                        "was started.");
    if (o->katapult_start & 63)
        return mf_fail(err, MF_E_USAGE, "--katapult-start must be a multiple of the 64-byte block; nothing was "
                                        "started.");
    return 0;
}

int sim_options_parse(int argc, char **argv, struct sim_options *o, struct mf_err *err)
{
    memset(o, 0, sizeof(*o));
    o->link = SIM_LINK_USB;
    uint32_t can_frequency = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dest = NULL;
        if (!strcmp(a, "--path"))
            dest = &o->path;
        else if (!strcmp(a, "--board"))
            dest = &o->board;
        else if (!strcmp(a, "--mcu"))
            dest = &o->mcu;
        else if (!strcmp(a, "--dict"))
            dest = &o->dict;
        else if (!strcmp(a, "--card"))
            dest = &o->card;
        else if (!strcmp(a, "--faults"))
            dest = &o->faults;
        else if (!strcmp(a, "--control"))
            dest = &o->control;
        else if (!strcmp(a, "--usb"))
            dest = &o->usb;
        else if (!strcmp(a, "--version-string"))
            dest = &o->version;
        else if (!strcmp(a, "--flash-state"))
            dest = &o->flash_state;
        else if (!strcmp(a, "--katapult-proto"))
            dest = &o->katapult_proto;
        else if (!strcmp(a, "--katapult-version"))
            dest = &o->katapult_version;
        else if (!strcmp(a, "--host-interface"))
            dest = &o->host_interface;
        else if (!strcmp(a, "--chip-id"))
            dest = &o->chip_id;
        else if (!strcmp(a, "--empty-flash")) {
            o->empty_flash = true;
            continue;
        } else if (strcmp(a, "--link") && strcmp(a, "--timing") && strcmp(a, "--board-file") &&
                   strcmp(a, "--canbus-uuid") && strcmp(a, "--canbus-frequency") && strcmp(a, "--bootloader") &&
                   strcmp(a, "--katapult-start") && strcmp(a, "--tx-buffer"))
            return mf_fail(err, MF_E_USAGE, "Unknown option '%s'; nothing was started. See --help.", a);
        if (need_value(argc, argv, i, err) < 0)
            return -1;
        const char *v = argv[++i];
        if (dest) {
            *dest = v;
        } else if (!strcmp(a, "--link")) {
            if (sim_parse_link_bus(v, &o->link, &o->baud, &o->can_bus, err) < 0)
                return -1;
            if ((o->link == SIM_LINK_CAN || o->link == SIM_LINK_USBCAN) && can_frequency)
                o->baud = can_frequency;
        } else if (!strcmp(a, "--canbus-uuid")) {
            if (sim_parse_uuid(v, o->can_uuid, err) < 0)
                return -1;
            o->have_uuid = true;
        } else if (!strcmp(a, "--canbus-frequency")) {
            if (parse_u32(a, v, 10000, 8000000, &can_frequency, err) < 0)
                return -1;
            if (o->link == SIM_LINK_CAN || o->link == SIM_LINK_USBCAN)
                o->baud = can_frequency;
        } else if (!strcmp(a, "--tx-buffer")) {
            if (parse_u32(a, v, KL_MESSAGE_MAX, 4096, &o->tx_buffer, err) < 0)
                return -1;
        } else if (!strcmp(a, "--katapult-start")) {
            if (parse_u32(a, v, 0, UINT32_MAX, &o->katapult_start, err) < 0)
                return -1;
        } else if (!strcmp(a, "--bootloader")) {
            if (strcmp(v, "katapult"))
                return mf_fail(err, MF_E_USAGE, "--bootloader takes katapult, not '%s'; nothing was started.", v);
            o->katapult = true;
        } else if (!strcmp(a, "--board-file")) {
            if (sim_add_board_file(o->board_files, &o->nboard_files, v, err) < 0)
                return -1;
        } else if (!strcmp(v, "none") || !strcmp(v, "realistic")) {
            o->realistic = !strcmp(v, "realistic");
        } else {
            return mf_fail(err, MF_E_USAGE, "--timing must be none or realistic, not '%s'; nothing was started.", v);
        }
    }
    if (o->tx_buffer && !o->realistic)
        return mf_fail(err, MF_E_USAGE, "--tx-buffer goes with --timing realistic (without it nothing is "
                                        "buffered); nothing was started.");
    if (!o->path && o->link != SIM_LINK_CAN)
        return mf_fail(err, MF_E_USAGE, "--path is required (where the device link appears); nothing was started.");
    if (o->version && sim_check_version(o->version, err) < 0)
        return -1;
    if (check_can(o, err) < 0 || check_bridge(o, err) < 0 || check_katapult(o, err) < 0)
        return -1;
    return check_identity(o, err);
}
