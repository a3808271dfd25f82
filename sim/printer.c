/* `mcuflash-sim printer --dir DIR`: the boards of a typical Klipper printer
 * brought up at once, each a mcuflash-sim of its own: a main board on USB
 * with an SD card and Katapult, a UART board with Katapult, a USB to CAN
 * bridge with Katapult, and two CAN toolheads with Katapult on the bus
 * behind it.  The bridge sits on an emulated USB bus (umockdev), where its
 * serial number gives its UUID as a real bridge's does; it serves the
 * host's CAN interface DIR/can0, which is gone while it is in Katapult.
 * Once all run, DIR holds the printer.cfg that reaches them (its MCUs in an
 * included file), as Klipper's would, and usb.env, the environment under
 * which a program sees the emulated USB bus; printer.cfg is written last,
 * so its presence says the printer is up.  SIGTERM or SIGINT stops every
 * board and the bus.
 */
#include "printer.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "link/canbus.h"
#include "sim.h"
#include "usb_testbed.h"

extern char **environ;

/* The printer: one line per board.  link "can" puts it on the CAN bus
 * behind the bridge; "usb-can" is that bridge. */
struct vp_board {
    const char *name;      /* its printer.cfg name and file names in DIR */
    const char *what;      /* --board NAME or --mcu TYPE */
    const char *value;
    const char *link;      /* usb, uart:BAUD, can, usb-can */
    const char *canbus_uuid; /* can: its UUID; usb-can: its chip id (the UUID follows) */
    bool card;
};

static const struct vp_board vp_boards[] = {
    { "mcu", "--board", "btt-octopus-f446-v1", "usb", NULL, true },
    { "uartboard", "--board", "btt-skr-mini-v3", "uart:250000", NULL, false },
    { "bridge", "--mcu", "stm32g0b1xx", "usb-can", SIM_BRIDGE_CHIP_ID, false },
    { "toolhead", "--mcu", "stm32g0b1xx", "can", "0a1b2c3d4e5f", false },
    { "toolhead2", "--mcu", "stm32g0b1xx", "can", "112233445566", false },
};
#define VP_BRIDGE_USB_PORT "1-1"
/* The bus the toolheads and the bridge sit on, and the host's interface
 * the bridge serves (what printer.cfg names). */
#define VP_WIRE "canbus"
#define VP_IFACE "can0"
#define VP_NBOARDS (sizeof(vp_boards) / sizeof(vp_boards[0]))
#define VP_CARD_SECTORS "131072" /* 64 MiB */
#define VP_START_POLLS 200       /* of 50 ms */

static volatile sig_atomic_t vp_stop;

static void on_signal(int sig)
{
    (void)sig;
    vp_stop = 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: mcuflash-sim printer --dir DIR [--timing none|realistic] [--version-string V]\n\n"
                 "Run a virtual printer: a main board on USB with an SD card (DIR/mcu, card DIR/mcu.img),\n"
                 "a UART board (DIR/uartboard), a USB to CAN bridge on an emulated USB bus serving the\n"
                 "host's CAN interface DIR/can0, two CAN toolheads behind it, all with Katapult, each\n"
                 "with its control socket DIR/NAME.ctl.  When all run, DIR/printer.cfg (and DIR/mcus.cfg,\n"
                 "which it includes) says how Klipper reaches them, and DIR/usb.env the environment in\n"
                 "which a program sees the bridge on USB.  Runs until SIGTERM or SIGINT.\n\n"
                 "  --dir DIR             where the devices, sockets, card and printer.cfg go\n"
                 "  --timing MODE         none (default) or realistic, for every board and the bus\n"
                 "  --version-string V    the version every board's firmware reports\n"
                 "  -h, --help            show this help\n");
}

/* Run argv to its end with its output dropped; 0 if it exited 0. */
static int run_wait(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int st, rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static bool wait_path(const char *path)
{
    for (int i = 0; i < VP_START_POLLS && !vp_stop; i++) {
        if (access(path, F_OK) == 0)
            return true;
        usleep(50000);
    }
    return false;
}

struct vp {
    char self[PATH_MAX], dir[PATH_MAX - 64];
    char bridge_uuid[2 * CANBUS_UUID_LEN + 1];
    const char *timing, *version;
    pid_t pids[VP_NBOARDS + 1];
    size_t npids;
};

static int spawn(struct vp *vp, char **argv)
{
    pid_t pid;
    if (posix_spawn(&pid, vp->self, NULL, NULL, argv, environ) != 0)
        return -1;
    vp->pids[vp->npids++] = pid;
    return 0;
}

static int start_board(struct vp *vp, const struct vp_board *b)
{
    char dev[PATH_MAX], ctl[PATH_MAX], card[PATH_MAX], link[PATH_MAX];
    snprintf(dev, sizeof(dev), "%s/%s", vp->dir, b->name);
    snprintf(ctl, sizeof(ctl), "%s/%s.ctl", vp->dir, b->name);
    snprintf(card, sizeof(card), "%s/%s.img", vp->dir, b->name);
    bool can = !strcmp(b->link, "can"), bridge = !strcmp(b->link, "usb-can");
    char iface[PATH_MAX];
    snprintf(iface, sizeof(iface), "%s/%s", vp->dir, VP_IFACE);
    if (can || bridge)
        snprintf(link, sizeof(link), "%s:%s/%s", b->link, vp->dir, VP_WIRE);
    else
        snprintf(link, sizeof(link), "%s", b->link);
    if (b->card) {
        char *mkfs[] = { "mkfs.fat", "-C", "-F", "32", "-n", "KLIPPER", card, VP_CARD_SECTORS, NULL };
        unlink(card);
        if (run_wait(mkfs) < 0) {
            fprintf(stderr, "mcuflash-sim printer: mkfs.fat (Debian's dosfstools) could not make %s.\n", card);
            return -1;
        }
    }
    char *argv[32];
    int n = 0;
    argv[n++] = vp->self;
    argv[n++] = (char *)b->what;
    argv[n++] = (char *)b->value;
    argv[n++] = "--link";
    argv[n++] = link;
    argv[n++] = "--bootloader";
    argv[n++] = "katapult";
    argv[n++] = "--control";
    argv[n++] = ctl;
    argv[n++] = "--timing";
    argv[n++] = (char *)vp->timing;
    if (vp->version) {
        argv[n++] = "--version-string";
        argv[n++] = (char *)vp->version;
    }
    if (can) {
        argv[n++] = "--canbus-uuid";
        argv[n++] = (char *)b->canbus_uuid;
    } else {
        argv[n++] = "--path";
        argv[n++] = dev;
    }
    if (bridge) {
        argv[n++] = "--host-interface";
        argv[n++] = iface;
        argv[n++] = "--chip-id";
        argv[n++] = (char *)b->canbus_uuid;
        if (usb_testbed_available()) {
            argv[n++] = "--usb";
            argv[n++] = VP_BRIDGE_USB_PORT;
        }
    }
    if (b->card) {
        argv[n++] = "--card";
        argv[n++] = card;
    }
    argv[n] = NULL;
    /* The bridge's Klipper has no serial port: the host's interface shows it runs. */
    if (spawn(vp, argv) < 0 || !wait_path(ctl) || (!can && !wait_path(bridge ? iface : dev))) {
        fprintf(stderr, "mcuflash-sim printer: board %s did not start.\n", b->name);
        return -1;
    }
    return 0;
}

/* printer.cfg and the file of MCUs it includes, as Klipper would read them. */
static int write_config(const struct vp *vp)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof(path), "%s/mcus.cfg", vp->dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "# The virtual printer's MCUs (mcuflash-sim printer)\n");
    for (size_t i = 0; i < VP_NBOARDS; i++) {
        const struct vp_board *b = &vp_boards[i];
        if (strcmp(b->name, "mcu"))
            fprintf(f, "\n[mcu %s]\n", b->name);
        else
            fprintf(f, "\n[mcu]\n");
        if (b->canbus_uuid)
            fprintf(f, "canbus_uuid: %s\ncanbus_interface: sim:%s/%s\n",
                    strcmp(b->link, "usb-can") ? b->canbus_uuid : vp->bridge_uuid, vp->dir, VP_IFACE);
        else
            fprintf(f, "serial: %s/%s\n", vp->dir, b->name);
        if (!strncmp(b->link, "uart:", 5))
            fprintf(f, "baud: %s\n", b->link + 5);
    }
    if (fclose(f) != 0)
        return -1;
    snprintf(tmp, sizeof(tmp), "%s/printer.cfg.tmp", vp->dir);
    snprintf(path, sizeof(path), "%s/printer.cfg", vp->dir);
    if (!(f = fopen(tmp, "w")))
        return -1;
    fprintf(f, "[include mcus.cfg]\n\n[printer]\nkinematics: corexy\nmax_velocity: 300\nmax_accel: 3000\n");
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

/* usb.env: where the bridge's emulated USB bus is, for umockdev's preload. */
static int write_usb_env(const struct vp *vp)
{
    char ctl[PATH_MAX], path[PATH_MAX], reply[8192];
    snprintf(ctl, sizeof(ctl), "%s/bridge.ctl", vp->dir);
    snprintf(path, sizeof(path), "%s/usb.env", vp->dir);
    json_t *st = sim_ctl_query(ctl, "status", reply, sizeof(reply)) == 0 ? json_loads(reply, 0, NULL) : NULL;
    const char *tb = json_string_value(json_object_get(st, "usb_testbed"));
    FILE *f = st ? fopen(path, "w") : NULL;
    if (f && tb)
        fprintf(f, "# The virtual printer's USB to CAN bridge is on an emulated USB bus: run mcuflash\n"
                   "# with these set (env $(grep -v '^#' usb.env) mcuflash ...) to see it there.\n"
                   "LD_PRELOAD=libumockdev-preload.so.0\nUMOCKDEV_DIR=%s\n", tb);
    else if (f)
        fprintf(f, "# This mcuflash-sim was built without umockdev: the USB to CAN bridge is on no\n"
                   "# emulated USB bus, so mcuflash cannot tell it from another CAN node; say\n"
                   "# 'bridge: yes' in its section of mcuflash.cfg for the update's order.\n");
    json_decref(st);
    return f && fclose(f) == 0 ? 0 : -1;
}

static void stop_all(struct vp *vp)
{
    for (size_t i = vp->npids; i-- > 0;)
        kill(vp->pids[i], SIGTERM);
    for (size_t i = vp->npids; i-- > 0;)
        waitpid(vp->pids[i], NULL, 0);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/printer.cfg", vp->dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/usb.env", vp->dir);
    unlink(path);
}

int sim_printer_main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dir", required_argument, NULL, 'd' },
        { "timing", required_argument, NULL, 't' },
        { "version-string", required_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { 0 },
    };
    struct vp vp = { .timing = "none" };
    const char *dir = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc + 1, argv - 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': dir = optarg; break;
        case 't': vp.timing = optarg; break;
        case 'v': vp.version = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir || optind != argc + 1) {
        usage(stderr);
        return 2;
    }
    /* realpath needs PATH_MAX bytes; the folder must leave room for file names. */
    char real[PATH_MAX];
    if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || !realpath(dir, real) || strlen(real) >= sizeof(vp.dir)) {
        fprintf(stderr, "mcuflash-sim printer: cannot use %s as the printer's folder.\n", dir);
        return 1;
    }
    memcpy(vp.dir, real, strlen(real) + 1);
    ssize_t n = readlink("/proc/self/exe", vp.self, sizeof(vp.self) - 1);
    if (n <= 0) {
        fprintf(stderr, "mcuflash-sim printer: cannot find its own program.\n");
        return 1;
    }
    vp.self[n] = '\0';
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    uint8_t uuid[CANBUS_UUID_LEN];
    canbus_uuid_from_usb_serial(SIM_BRIDGE_CHIP_ID, uuid);
    canbus_uuid_format(uuid, vp.bridge_uuid);
    char bus[PATH_MAX];
    snprintf(bus, sizeof(bus), "%s/%s", vp.dir, VP_WIRE);
    unlink(bus);
    char *bus_argv[] = { vp.self, "canbus", "--path", bus, "--timing", (char *)vp.timing, NULL };
    int rc = spawn(&vp, bus_argv) == 0 && wait_path(bus) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < VP_NBOARDS; i++)
        rc = start_board(&vp, &vp_boards[i]);
    if (rc == 0 && write_usb_env(&vp) < 0) {
        fprintf(stderr, "mcuflash-sim printer: cannot write %s/usb.env (the bridge's USB bus is unknown).\n",
                vp.dir);
        rc = -1;
    }
    if (rc == 0 && write_config(&vp) < 0) {
        fprintf(stderr, "mcuflash-sim printer: cannot write %s/printer.cfg.\n", vp.dir);
        rc = -1;
    }
    if (rc == 0) {
        printf("Virtual printer up: %s/printer.cfg\n", vp.dir);
        fflush(stdout);
        while (!vp_stop)
            usleep(100000); /* no race with the signal, unlike pause() */
    }
    stop_all(&vp);
    return rc == 0 ? 0 : 1;
}
