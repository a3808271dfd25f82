/* mcuflash demo: flash two virtual boards with realistic timing, showing
 * what a user sees on real hardware.  Needs mcuflash-sim and mkfs.fat. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/output.h"
#include "link/link.h"
#include "method/flash.h"

extern char **environ;

struct demo_board {
    const char *board, *title, *link;
};

static const struct demo_board demo_boards[] = {
    { "btt-skr2-f407", "BTT SKR 2 (STM32F407, SD-mode bootloader, USB): flashed over SDIO, a warm reset is enough",
      "usb" },
    { "btt-skr-v1.4", "BTT SKR 1.4 (LPC1768, SPI bootloader, UART 250000 baud): flashed over SPI", "uart:250000" },
};

/* Run argv to completion, output discarded; 0 if it exited 0. */
static int run_quiet(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    int st;
    if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return -1;
    return 0;
}

static void find_sim(const char *given, char *buf, size_t cap)
{
    if (given) {
        snprintf(buf, cap, "%s", given);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        snprintf(buf, cap, "%s/mcuflash-sim", dirname(self));
        if (access(buf, X_OK) == 0)
            return;
    }
    snprintf(buf, cap, "mcuflash-sim");
}

static int demo_one(const char *sim, const char *dir, const struct demo_board *db, struct mf_err *err)
{
    char card[PATH_MAX], newfw[PATH_MAX], dict[PATH_MAX], dev[PATH_MAX];
    snprintf(card, sizeof(card), "%s/%s-card.img", dir, db->board);
    snprintf(newfw, sizeof(newfw), "%s/%s-klipper.bin", dir, db->board);
    snprintf(dict, sizeof(dict), "%s/%s-klipper.dict", dir, db->board);
    snprintf(dev, sizeof(dev), "%s/serial-%s", dir, db->board);
    printf("\n== %s\n", db->title);
    fflush(stdout);

    char *mkfs[] = { "mkfs.fat", "-C", "-F", "32", "-n", "KLIPPER", card, "131072", NULL };
    if (run_quiet(mkfs) < 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not make a card image with mkfs.fat (from Debian's "
                       "dosfstools); install it and run the demo again.");
    char *mkfw[] = { (char *)sim, "make-firmware", "--board", (char *)db->board, "--version-string",
                     "v0.13.0-demo-new", "--size", "40000", "-o", newfw, "--dict-out", dict, NULL };
    if (run_quiet(mkfw) < 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not run %s make-firmware; build mcuflash-sim, or give its "
                       "path with --sim.", sim);
    char *simargv[] = { (char *)sim, "--path", dev, "--board", (char *)db->board, "--card", card, "--link",
                        (char *)db->link, "--timing", "realistic", "--version-string", "v0.12.0-demo-old", NULL };
    pid_t pid;
    if (posix_spawnp(&pid, sim, NULL, NULL, simargv, environ) != 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not start %s; build it, or give its path with --sim.", sim);
    int rc = 0;
    if (link_wait_present(dev, 5000, err) == 0) {
        printf("Virtual board ready on %s (running v0.12.0-demo-old); flashing %s:\n", dev, newfw);
        printf("$ mcuflash sdcard -f %s -d %s %s %s\n", newfw, dict, dev, db->board);
        fflush(stdout);
        struct mf_flash_opts o;
        mf_flash_opts_init(&o);
        o.route = "sdcard";
        o.front_end = "sdcard";
        o.target.device = dev;
        o.firmware_path = newfw;
        o.firmware_given = true;
        o.dict_path = dict;
        struct board_db *bdb;
        rc = board_db_load(NULL, 0, &bdb, err);
        if (rc == 0 && !(o.board = board_db_find(bdb, db->board, err)))
            rc = -1;
        if (rc == 0) {
            struct cli_output out;
            struct mf_progress p = cli_output_init(&out, false, false);
            o.progress = &p;
            struct mf_flash_result r;
            rc = mf_flash_run(&o, &r, err);
            cli_output_done(&out);
            if (rc == 0)
                printf("Flashed: the board now runs %s.\n", r.running_after);
        }
        board_db_free(bdb);
    } else {
        rc = -1;
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return rc;
}

static void remove_dir(const char *dir)
{
    char *rm[] = { "rm", "-rf", (char *)dir, NULL };
    run_quiet(rm);
}

int cmd_demo(int argc, char **argv)
{
    static const struct option opts[] = {
        { "sim", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    const char *sim_arg = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 's') {
            sim_arg = optarg;
        } else if (c == 'h') {
            printf("usage: mcuflash demo [--sim PATH]\n\n"
                   "Flash a generated firmware onto two virtual boards (mcuflash-sim) with realistic\n"
                   "timing: a BTT SKR 2 through SDIO and a BTT SKR 1.4 through SPI over UART.\n"
                   "Everything happens in a temporary directory, removed afterwards.\n");
            return 0;
        } else {
            return MF_E_USAGE;
        }
    }
    char sim[PATH_MAX], dir[] = "/tmp/mcuflash-demo.XXXXXX";
    find_sim(sim_arg, sim, sizeof(sim));
    struct mf_err err = { 0 };
    if (!mkdtemp(dir)) {
        mf_fail(&err, MF_E_FAIL, "Cannot make a temporary directory for the demo: %s.", strerror(errno));
        return cli_report_error(&err, false);
    }
    int rc = 0;
    for (size_t i = 0; i < sizeof(demo_boards) / sizeof(demo_boards[0]) && rc == 0; i++)
        rc = demo_one(sim, dir, &demo_boards[i], &err);
    remove_dir(dir);
    if (rc < 0)
        return cli_report_error(&err, false);
    printf("\nDemo done: both virtual boards were flashed and verified.\n");
    return 0;
}
