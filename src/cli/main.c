/* mcuflash: update the firmware of Klipper boards from the host. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    { "flash", cmd_flash, "flash a board through the route it supports, then verify" },
    { "sdcard", cmd_sdcard, "flash a board through its SD card, then verify" },
    { "can", cmd_can, "list the CAN nodes waiting for a node id (can scan)" },
    { "info", cmd_info, "show what a connected board runs and offers" },
    { "fwinfo", cmd_fwinfo, "show what a firmware image file contains" },
    { "card", cmd_card, "list, get, put or remove files on a board's SD card" },
    { "boards", cmd_boards, "list board definitions, or show one" },
    { "status", cmd_status, "list the printer's MCUs, what each runs and how to flash it" },
    { "update", cmd_update, "flash every MCU of printer.cfg in one planned run" },
    { "demo", cmd_demo, "flash virtual boards, as on real hardware" },
};

static void usage(FILE *out)
{
    fprintf(out, "usage: mcuflash COMMAND [options] [args]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'mcuflash COMMAND --help' for the options of one command.\n");
}

/* Edits (insert, delete, replace, swap two neighbours) from a to b, up to
 * 3: enough to tell a typo ("flsh", "stauts") from another word. */
static int edits(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 16 || lb > 16)
        return 3;
    int d[17][17];
    for (size_t i = 0; i <= la; i++)
        for (size_t j = 0; j <= lb; j++) {
            if (!i || !j) {
                d[i][j] = (int)(i + j);
                continue;
            }
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            best = d[i - 1][j] + 1 < best ? d[i - 1][j] + 1 : best;
            best = d[i][j - 1] + 1 < best ? d[i][j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] < 3 ? d[la][lb] : 3;
}

static int not_a_command(const char *word)
{
    const char *near = NULL;
    int best = 3;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        int e = edits(word, commands[i].name);
        if (e < best && e < (int)strlen(commands[i].name) - 1)
            best = e, near = commands[i].name;
    }
    if (near)
        fprintf(stderr, "mcuflash: '%s' is not a command; nothing was done; did you mean '%s'? ('mcuflash "
                "--help' lists them)\n", word, near);
    else
        fprintf(stderr, "mcuflash: '%s' is not a command; nothing was done; run 'mcuflash --help' for the list.\n",
                word);
    return MF_E_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return MF_E_USAGE;
    }
    /* `mcuflash help CMD` is `mcuflash CMD --help`. */
    if (!strcmp(argv[1], "help") && argc == 3 && argv[2][0] != '-') {
        char *help_argv[] = { argv[2], "--help", NULL };
        for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
            if (!strcmp(argv[2], commands[i].name))
                return commands[i].run(2, help_argv);
        return not_a_command(argv[2]);
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    /* --version answers in every command. */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--version")) {
            printf("mcuflash %s\n", MCUFLASH_VERSION);
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    return not_a_command(argv[1]);
}
