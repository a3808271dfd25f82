/* mcuflash demo: flash virtual boards with realistic timing, showing
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
#include "cli/options.h"
#include "cli/output.h"
#include "link/link.h"
#include "method/flash.h"

extern char **environ;

/* One scene: a virtual board (or a CAN toolhead on a virtual bus) running
 * an old build, flashed with a new one as a user would. */
struct demo_scene {
    const char *title;
    const char *board; /* a board definition (the SD card scenes), or NULL */
    const char *mcu;   /* with board NULL */
    const char *link;  /* usb, uart:BAUD, or can (a bus of its own) */
};

#define DEMO_UUID "0c1d2e3f4a5b"

static const struct demo_scene demo_scenes[] = {
    { "BTT SKR 2 (STM32F407, SD-mode bootloader, USB): flashed over SDIO, a warm reset is enough", "btt-skr2-f407",
      NULL, "usb" },
    { "BTT SKR 1.4 (LPC1768, SPI bootloader, UART 250000 baud): flashed over SPI", "btt-skr-v1.4", NULL,
      "uart:250000" },
    { "CAN toolhead (STM32G0B1 with Katapult, CAN bus at 1 Mbit/s): entered by the admin frame, written, read back, "
      "started", NULL, "stm32g0b1xx", "can" },
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

static int spawn(const char *sim, char *const argv[], pid_t *pid, struct mf_err *err)
{
    if (posix_spawnp(pid, sim, NULL, NULL, argv, environ) != 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not start %s; build it, or give its path with --sim.", sim);
    return 0;
}

static void stop(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* Wait for the virtual board's device, or a virtual bus's or board's
 * control socket, to appear. */
static int wait_for(const char *path, struct mf_err *err)
{
    for (int i = 0; i < 100; i++) {
        if (access(path, F_OK) == 0)
            return 0;
        usleep(50000);
    }
    return mf_fail(err, MF_E_FAIL, "The demo's virtual board did not come up (%s is missing).", path);
}

static int flash_scene(const struct demo_scene *sc, struct mf_flash_opts *o, struct mf_err *err)
{
    struct board_db *bdb;
    int rc = board_db_load(NULL, 0, &bdb, err);
    if (rc == 0 && sc->board && !(o->board = board_db_find(bdb, sc->board, err)))
        rc = -1;
    if (rc == 0) {
        struct cli_output out;
        struct mf_progress p = cli_output_init(&out, false, false);
        o->progress = &p;
        struct mf_flash_result r;
        rc = mf_flash_run(o, &r, err);
        cli_output_done(&out);
        if (rc == 0)
            printf("Flashed: the board now runs %s.\n", r.running_after);
    }
    board_db_free(bdb);
    return rc;
}

static int demo_one(const char *sim, const char *dir, const struct demo_scene *sc, struct mf_err *err)
{
    const char *name = sc->board ? sc->board : sc->mcu;
    bool can = !strcmp(sc->link, "can");
    char card[PATH_MAX], newfw[PATH_MAX], dict[PATH_MAX], dev[PATH_MAX], bus[PATH_MAX], buslink[PATH_MAX + 8],
        iface[PATH_MAX + 8], ctl[PATH_MAX];
    snprintf(card, sizeof(card), "%s/%s-card.img", dir, name);
    snprintf(newfw, sizeof(newfw), "%s/%s-klipper.bin", dir, name);
    snprintf(dict, sizeof(dict), "%s/%s-klipper.dict", dir, name);
    snprintf(dev, sizeof(dev), "%s/serial-%s", dir, name);
    snprintf(bus, sizeof(bus), "%s/can0", dir);
    snprintf(buslink, sizeof(buslink), "can:%s", bus);
    snprintf(iface, sizeof(iface), "sim:%s", bus);
    snprintf(ctl, sizeof(ctl), "%s/%s.ctl", dir, name);
    printf("\n== %s\n", sc->title);
    fflush(stdout);

    char *mkfs[] = { "mkfs.fat", "-C", "-F", "32", "-n", "KLIPPER", card, "131072", NULL };
    if (!can && run_quiet(mkfs) < 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not make a card image with mkfs.fat (from Debian's "
                       "dosfstools); install it and run the demo again.");
    /* Built for the board's own link, as a real build must be. */
    char *mkfw_sd[] = { (char *)sim, "make-firmware", "--board", (char *)name, "--link", (char *)sc->link,
                        "--version-string", "v0.13.0-demo-new", "--size", "40000", "-o", newfw, "--dict-out", dict,
                        NULL };
    char *mkfw_can[] = { (char *)sim, "make-firmware", "--mcu", (char *)name, "--link", "can", "--bootloader",
                         "katapult", "--version-string", "v0.13.0-demo-new", "--size", "40000", "-o", newfw,
                         "--dict-out", dict, NULL };
    if (run_quiet(can ? mkfw_can : mkfw_sd) < 0)
        return mf_fail(err, MF_E_FAIL, "The demo could not run %s make-firmware; build mcuflash-sim, or give its "
                       "path with --sim.", sim);
    char *bus_argv[] = { (char *)sim, "canbus", "--path", bus, "--timing", "realistic", NULL };
    char *sd_argv[] = { (char *)sim, "--path", dev, "--board", (char *)name, "--card", card, "--link",
                        (char *)sc->link, "--timing", "realistic", "--version-string", "v0.12.0-demo-old", NULL };
    char *can_argv[] = { (char *)sim, "--mcu", (char *)name, "--link", buslink, "--canbus-uuid", DEMO_UUID,
                         "--bootloader", "katapult", "--control", ctl, "--timing", "realistic", "--version-string",
                         "v0.12.0-demo-old", NULL };
    pid_t bus_pid = -1, pid = -1;
    int rc = 0;
    if (can)
        rc = spawn(sim, bus_argv, &bus_pid, err) < 0 || wait_for(bus, err) < 0 ? -1 : 0;
    if (rc == 0)
        rc = spawn(sim, can ? can_argv : sd_argv, &pid, err);
    if (rc == 0)
        rc = wait_for(can ? ctl : dev, err);
    if (rc == 0) {
        struct mf_flash_opts o;
        mf_flash_opts_init(&o);
        o.command = cli_flash_command;
        o.firmware_path = newfw;
        o.firmware_given = true;
        o.dict_path = dict;
        if (can) {
            printf("Virtual CAN toolhead %s on %s (running v0.12.0-demo-old); flashing %s:\n", DEMO_UUID, iface,
                   newfw);
            printf("$ mcuflash flash -f %s -d %s --canbus-uuid %s --canbus-interface %s\n", newfw, dict, DEMO_UUID,
                   iface);
            o.target.can_uuid = DEMO_UUID;
            o.target.can_iface = iface;
        } else {
            printf("Virtual board ready on %s (running v0.12.0-demo-old); flashing %s:\n", dev, newfw);
            printf("$ mcuflash sdcard -f %s -d %s %s %s\n", newfw, dict, dev, name);
            o.route = "sdcard";
            o.front_end = "sdcard";
            o.target.device = dev;
        }
        fflush(stdout);
        rc = flash_scene(sc, &o, err);
    }
    stop(pid);
    stop(bus_pid);
    return rc;
}

/* The printer-wide scene: `mcuflash-sim printer` brings up a main board,
 * a UART board, a USB to CAN bridge and two CAN toolheads behind it;
 * `mcuflash update` flashes them all in one planned run, as a user would
 * after updating Klipper. */
static const struct {
    const char *name, *what, *value, *link;
} printer_images[] = {
    { "mcu", "--board", "btt-octopus-f446-v1", "usb" },
    { "uartboard", "--board", "btt-skr-mini-v3", "uart:250000" },
    { "toolhead", "--mcu", "stm32g0b1xx", "can" },
    { "toolhead2", "--mcu", "stm32g0b1xx", "can" },
    { "bridge", "--mcu", "stm32g0b1xx", "usb-can" },
};

/* The printer's usb.env (KEY=VALUE lines) into the environment, so that the
 * update sees the bridge on its emulated USB bus. */
static int take_usb_env(const char *dir, struct mf_err *err)
{
    char path[PATH_MAX], line[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/usb.env", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return mf_fail(err, MF_E_FAIL, "The virtual printer wrote no %s; the demo cannot see its USB bus.", path);
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        setenv(line, eq + 1, 1);
    }
    fclose(f);
    /* An AddressSanitizer build refuses a preload ahead of its runtime otherwise. */
    char asan[512];
    const char *was = getenv("ASAN_OPTIONS");
    snprintf(asan, sizeof(asan), "%s%sverify_asan_link_order=0", was ? was : "", was && *was ? ":" : "");
    setenv("ASAN_OPTIONS", asan, 1);
    return 0;
}
#define PRINTER_NIMAGES (sizeof(printer_images) / sizeof(printer_images[0]))

static int demo_printer(const char *sim, const char *dir, struct mf_err *err)
{
    char pdir[PATH_MAX - 64], cfg[PATH_MAX], self[PATH_MAX];
    char fw[PRINTER_NIMAGES][PATH_MAX], farg[PRINTER_NIMAGES][PATH_MAX + 64];
    snprintf(pdir, sizeof(pdir), "%s/printer", dir);
    snprintf(cfg, sizeof(cfg), "%s/printer.cfg", pdir);
    printf("\n== A whole printer after a Klipper update: a main board on USB, a UART board, a USB to CAN bridge "
           "and two CAN toolheads behind it, all with Katapult, updated in one run\n");
    printf("$ mcuflash-sim printer --dir %s --timing realistic\n", pdir);
    fflush(stdout);
    char *vp_argv[] = { (char *)sim, "printer", "--dir", pdir, "--timing", "realistic", "--version-string",
                        "v0.12.0-demo-old", NULL };
    pid_t vp_pid = -1;
    if (spawn(sim, vp_argv, &vp_pid, err) < 0)
        return -1;
    int rc = wait_for(cfg, err);
    if (rc == 0)
        rc = take_usb_env(pdir, err);
    char *up_argv[8 + 2 * PRINTER_NIMAGES] = { self, "update", "--config", cfg, "--no-service" };
    int n = 5;
    for (size_t i = 0; rc == 0 && i < PRINTER_NIMAGES; i++) {
        snprintf(fw[i], sizeof(fw[i]), "%s/%s-klipper.bin", dir, printer_images[i].name);
        char *mkfw[] = { (char *)sim, "make-firmware", (char *)printer_images[i].what, (char *)printer_images[i].value,
                         "--link", (char *)printer_images[i].link, "--bootloader", "katapult", "--version-string",
                         "v0.13.0-demo-new", "--size", "40000", "-o", fw[i], NULL };
        if (run_quiet(mkfw) < 0)
            rc = mf_fail(err, MF_E_FAIL, "The demo could not run %s make-firmware; build mcuflash-sim, or give its "
                         "path with --sim.", sim);
        snprintf(farg[i], sizeof(farg[i]), "%s=%s", printer_images[i].name, fw[i]);
        up_argv[n++] = "-f";
        up_argv[n++] = farg[i];
    }
    up_argv[n] = NULL;
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (rc == 0 && len <= 0)
        rc = mf_fail(err, MF_E_FAIL, "The demo cannot find the mcuflash program it runs from.");
    if (rc == 0) {
        self[len] = '\0';
        printf("$ mcuflash update --config %s --no-service", cfg);
        for (size_t i = 0; i < PRINTER_NIMAGES; i++)
            printf(" -f %s", farg[i]);
        printf("\n");
        fflush(stdout);
        pid_t pid;
        int st;
        if (posix_spawn(&pid, self, NULL, NULL, up_argv, environ) != 0 || waitpid(pid, &st, 0) < 0 ||
            !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            rc = mf_fail(err, MF_E_FAIL, "The printer-wide update of the demo failed (see above).");
    }
    stop(vp_pid);
    return rc;
}

static void remove_dir(const char *dir)
{
    char *rm[] = { "rm", "-rf", (char *)dir, NULL };
    run_quiet(rm);
}

int cmd_demo(int argc, char **argv)
{
    enum { O_SIM = CLI_OWN, O_SCENE };
    static const struct option own[] = {
        { "sim", required_argument, NULL, O_SIM },
        { "scene", required_argument, NULL, O_SCENE },
        { 0 },
    };
    struct cli_common cm;
    struct cli_parser parser = { .command = "demo", .shared = CLI_HELP, .own = own, .common = &cm };
    const char *sim_arg = NULL, *scene = NULL;
    struct mf_err err = { 0 };
    int c;
    cli_parse_begin(&parser, argc, argv);
    while ((c = cli_parse_next(&parser, &err)) != -1) {
        if (c == -2)
            return cli_report_error(&err, false);
        if (c == O_SIM) {
            sim_arg = optarg;
        } else if (c == O_SCENE) {
            scene = optarg;
        } else if (c == 'h') {
            printf("usage: mcuflash demo [-h] [--sim PATH] [--scene boards|printer]\n\n"
                   "Flash a generated firmware onto virtual boards (mcuflash-sim) with realistic\n"
                   "timing: a BTT SKR 2 through SDIO, a BTT SKR 1.4 through SPI over UART, a\n"
                   "CAN toolhead through Katapult (--scene boards: those alone), and a whole\n"
                   "virtual printer with mcuflash update (--scene printer: that one alone).\n"
                   "Everything happens in a temporary directory, removed afterwards.\n\n"
                   "      --sim PATH       the mcuflash-sim program (default: beside mcuflash)\n"
                   "      --scene SCENE    run one scene alone: boards, or printer\n"
                   "  -h, --help           show this help\n");
            return 0;
        }
    }
    if (optind != argc) {
        cli_usage_error(&err, "demo", "demo takes no arguments (got '%s')", argv[optind]);
        return cli_report_error(&err, false);
    }
    char sim[PATH_MAX], dir[] = "/tmp/mcuflash-demo.XXXXXX";
    find_sim(sim_arg, sim, sizeof(sim));
    if (!mkdtemp(dir)) {
        mf_fail(&err, MF_E_FAIL, "Cannot make a temporary directory for the demo: %s.", strerror(errno));
        return cli_report_error(&err, false);
    }
    int rc = 0;
    bool boards = !scene || !strcmp(scene, "boards"), printer = !scene || !strcmp(scene, "printer");
    if (!boards && !printer) {
        rmdir(dir);
        cli_usage_error(&err, "demo", "There is no demo scene called '%s'; the scenes are 'boards' and 'printer'",
                        scene);
        return cli_report_error(&err, false);
    }
    for (size_t i = 0; boards && i < sizeof(demo_scenes) / sizeof(demo_scenes[0]) && rc == 0; i++)
        rc = demo_one(sim, dir, &demo_scenes[i], &err);
    if (rc == 0 && printer)
        rc = demo_printer(sim, dir, &err);
    remove_dir(dir);
    if (rc < 0)
        return cli_report_error(&err, false);
    printf("\nDemo done: every virtual board was flashed and verified.\n");
    return 0;
}
