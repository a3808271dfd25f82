/* Command line of the virtual board. */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "mcutypes.h"

void sim_usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash-sim --path PATH (--board NAME [--dict FILE] | --mcu TYPE | --dict FILE)\n"
            "                    [--board-file FILE]... [--flash-state FILE] [--card IMAGE]\n"
            "                    [--link usb|uart:BAUD] [--timing none|realistic] [--faults SPEC]\n"
            "                    [--control SOCKET] [--version-string V]\n"
            "       mcuflash-sim ctl SOCKET COMMAND...\n"
            "       mcuflash-sim make-firmware (--board NAME | --mcu TYPE | --dict FILE) [--board-file FILE]...\n"
            "                    [--version-string V] [--link L] [--size BYTES] [--seed N] -o FILE\n"
            "                    [--dict-out FILE]\n"
            "\n"
            "A virtual Klipper board on a pseudo-terminal; see docs/sim.md.\n"
            "MCU types: %s\n"
            "Fault SPEC: corrupt=P,drop=P,lose-response=P,seed=N,dir=both|in|out\n"
            "Control commands: status, reset, power-cycle, unplug, plug, faults SPEC, shutdown TEXT, quit\n",
            mcu_type_names());
}

int sim_parse_link(const char *text, enum sim_link_kind *kind, uint32_t *baud, struct mf_err *err)
{
    if (!strcmp(text, "usb")) {
        *kind = SIM_LINK_USB;
        *baud = 0;
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
                   "--link must be usb or uart:BAUD (e.g. uart:250000), not '%s'; nothing was started.", text);
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

int sim_options_parse(int argc, char **argv, struct sim_options *o, struct mf_err *err)
{
    memset(o, 0, sizeof(*o));
    o->link = SIM_LINK_USB;
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
        else if (!strcmp(a, "--version-string"))
            dest = &o->version;
        else if (!strcmp(a, "--flash-state"))
            dest = &o->flash_state;
        else if (strcmp(a, "--link") && strcmp(a, "--timing") && strcmp(a, "--board-file"))
            return mf_fail(err, MF_E_USAGE, "Unknown option '%s'; nothing was started. See --help.", a);
        if (need_value(argc, argv, i, err) < 0)
            return -1;
        const char *v = argv[++i];
        if (dest) {
            *dest = v;
        } else if (!strcmp(a, "--link")) {
            if (sim_parse_link(v, &o->link, &o->baud, err) < 0)
                return -1;
        } else if (!strcmp(a, "--board-file")) {
            if (sim_add_board_file(o->board_files, &o->nboard_files, v, err) < 0)
                return -1;
        } else if (!strcmp(v, "none") || !strcmp(v, "realistic")) {
            o->realistic = !strcmp(v, "realistic");
        } else {
            return mf_fail(err, MF_E_USAGE, "--timing must be none or realistic, not '%s'; nothing was started.", v);
        }
    }
    if (!o->path)
        return mf_fail(err, MF_E_USAGE, "--path is required (where the device link appears); nothing was started.");
    if (o->version && sim_check_version(o->version, err) < 0)
        return -1;
    return check_identity(o, err);
}
