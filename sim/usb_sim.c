/* mcuflash-sim usb: a USB bootloader device for a command run under it.
 *
 *   mcuflash-sim usb --mcu MCU [--port 1-1[=MCU]]... [--timing none|realistic]
 *                    [--weak-cell ADDR] [--leave-answers] [--stall-after-erase]
 *                    [--lose-erase-answer] [--read-only-node]
 *                    [--flash-out FILE] -- COMMAND [ARG]...
 *
 * The device is the STM32 ROM's DfuSe bootloader, for an lpc176x MCU the
 * LPC176x DFU bootloader, for an rp2040 or rp2350 the BOOTSEL ROM.  It is emulated with umockdev: COMMAND (and what it starts) runs
 * with umockdev's preload library, so its libusb finds the device at the
 * port and its requests reach the model here.  Each --port adds one more
 * such device (=MCU: the bootloader of another MCU).  --read-only-node leaves the device nodes readable only
 * (and the testbed readable by all), as without the udev rules.  When
 * COMMAND exits, a summary of what each device was asked to do goes to
 * stderr, the first one's flash is written to FILE, and COMMAND's exit
 * status is returned.
 */
#include "usb_sim.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usb_dfu_lpc.h"
#include "usb_dfuse.h"
#include "usb_picoboot.h"
#include "usb_testbed.h"

#define MAX_PORTS 4

struct usb_sim_opts {
    struct dfuse_opts dfuse;
    const char *ports[MAX_PORTS];
    const char *port_mcus[MAX_PORTS]; /* NULL: --mcu's */
    int nports;
    bool read_only_node;
    const char *flash_out;
    char **command;
};

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "mcuflash-sim usb: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: mcuflash-sim usb --mcu MCU [--port 1-1[=MCU]]... [--timing none|realistic] "
                    "[--weak-cell ADDR] [--leave-answers] [--stall-after-erase] [--lose-erase-answer] [--read-only-node] "
                    "[--flash-out FILE] -- "
                    "COMMAND "
                    "[ARG]...\n");
    return MF_E_USAGE;
}

static int parse(int argc, char **argv, struct usb_sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            o->command = argv + i + 1;
            break;
        }
        if (!strcmp(a, "--leave-answers")) {
            o->dfuse.leave_answers = true;
            continue;
        }
        if (!strcmp(a, "--stall-after-erase")) {
            o->dfuse.stall_after_erase = true;
            continue;
        }
        if (!strcmp(a, "--lose-erase-answer")) {
            o->dfuse.lose_first_erase_answer = true;
            continue;
        }
        if (!strcmp(a, "--read-only-node")) {
            o->read_only_node = true;
            continue;
        }
        if (i + 1 >= argc)
            return usage("option %s needs a value; nothing was started.", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--mcu")) {
            o->dfuse.mcu = v;
        } else if (!strcmp(a, "--port")) {
            if (o->nports == MAX_PORTS)
                return usage("at most 4 ports, not '%s' too.", v);
            char *mcu = strchr(argv[i], '=');
            if (mcu)
                *mcu++ = '\0';
            o->port_mcus[o->nports] = mcu;
            o->ports[o->nports++] = v;
        } else if (!strcmp(a, "--flash-out")) {
            o->flash_out = v;
        } else if (!strcmp(a, "--timing") && (!strcmp(v, "none") || !strcmp(v, "realistic"))) {
            o->dfuse.realistic = !strcmp(v, "realistic");
        } else if (!strcmp(a, "--weak-cell")) {
            char *end;
            o->dfuse.weak_cell = (uint32_t)strtoul(v, &end, 0);
            if (*end || !o->dfuse.weak_cell)
                return usage("--weak-cell needs a flash address like 0x08008400, not '%s'.", v);
        } else {
            return usage("unknown option or value '%s'; nothing was started.", a);
        }
    }
    if (!o->dfuse.mcu)
        return usage("--mcu is needed (%s).", dfuse_chip_names());
    if (!o->command || !o->command[0])
        return usage("no command given after --%s.", "");
    if (o->nports == 0)
        o->ports[o->nports++] = "1-1";
    return 0;
}

#define LPC_FLASH_SIZE (512u * 1024u)

/* One emulated bootloader with its flash. */
struct device {
    struct dfuse_dev *dfuse;
    struct picoboot_dev *pico;
    struct lpc_dfu *lpc;
    uint8_t *lpc_flash;
};

static bool lpc_mcu(const char *mcu)
{
    return !strncmp(mcu, "lpc176", 6);
}

static int device_new(struct device *d, const struct dfuse_opts *given, const char *mcu)
{
    struct dfuse_opts own = *given;
    const struct dfuse_opts *o = &own;
    if (mcu)
        own.mcu = mcu;
    memset(d, 0, sizeof(*d));
    if (picoboot_mcu(o->mcu)) {
        struct picoboot_opts po = { .mcu = o->mcu, .realistic = o->realistic, .weak_cell = o->weak_cell };
        return (d->pico = picoboot_new(&po)) ? 0 : -1;
    }
    if (!lpc_mcu(o->mcu))
        return (d->dfuse = dfuse_new(o)) ? 0 : -1;
    d->lpc_flash = malloc(LPC_FLASH_SIZE);
    if (d->lpc_flash)
        memset(d->lpc_flash, 0xff, LPC_FLASH_SIZE);
    d->lpc = d->lpc_flash ? lpc_dfu_new(d->lpc_flash, LPC_FLASH_SIZE, o->realistic) : NULL;
    return d->lpc ? 0 : -1;
}

static void device_free(struct device *d)
{
    dfuse_free(d->dfuse);
    picoboot_free(d->pico);
    lpc_dfu_free(d->lpc);
    free(d->lpc_flash);
    memset(d, 0, sizeof(*d));
}

static struct usb_model *device_usb(struct device *d)
{
    return d->dfuse ? dfuse_usb(d->dfuse) : d->pico ? picoboot_usb(d->pico) : lpc_dfu_usb(d->lpc);
}

static int write_flash(const struct device *d, const char *path)
{
    uint32_t base, size = LPC_FLASH_SIZE;
    const uint8_t *mem = d->dfuse ? dfuse_flash(d->dfuse, &base, &size)
                       : d->pico  ? picoboot_flash(d->pico, &base, &size)
                                  : d->lpc_flash;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(mem, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "mcuflash-sim usb: the flash could not be written to %s: %s.\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void report(const struct device *dev, const char *port)
{
    if (dev->pico) {
        const struct picoboot_stats *p = picoboot_stats(dev->pico);
        fprintf(stderr, "mcuflash-sim usb: %s: %s%s%u sector erases, %u pages written, %u reads (%u bytes); %s\n",
                port, p->exclusive ? "exclusive, " : "", p->xip_exited ? "XIP exited, " : "", p->erases, p->pages,
                p->reads, p->bytes_read, p->rebooted ? "rebooted" : "still in BOOTSEL");
        return;
    }
    if (dev->lpc) {
        const struct lpc_dfu_stats *l = lpc_dfu_stats(dev->lpc);
        fprintf(stderr, "mcuflash-sim usb: %s: %u erases, %u blocks written (%u bytes); %s\n", port, l->erases,
                l->blocks, l->bytes_written, l->left ? "manifested and reset" : "still in DFU");
        return;
    }
    const struct dfuse_stats *s = dfuse_stats(dev->dfuse);
    fprintf(stderr, "mcuflash-sim usb: %s: %u erases, %u blocks written (%u bytes), %u blocks read; ", port,
            s->erases, s->writes, s->bytes_written, s->uploads);
    if (s->left)
        fprintf(stderr, "left DFU to 0x%08X\n", s->left_to);
    else
        fprintf(stderr, "still in DFU\n");
}

/* Serve the device until the child exits; its exit status, or 128+signal. */
static int run_child(struct usb_testbed *tb, char **command)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execvp(command[0], command);
        fprintf(stderr, "mcuflash-sim usb: %s could not be started: %s.\n", command[0], strerror(errno));
        _exit(127);
    }
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (r < 0 && errno != EINTR)
            return -1;
        usb_testbed_iterate(tb, 20);
    }
}

/* Without the udev rules a device node is root's: readable, not writable.
 * The testbed itself is opened to all, for a command run as another user
 * (umockdev's stand-in for the udev monitor is a socket made in it). */
static void make_nodes_read_only(const char *root, const char *port)
{
    char dir[512], path[1024];
    chmod(root, 01777);
    snprintf(dir, sizeof(dir), "%s/dev/bus/usb/%03d", root, atoi(port));
    DIR *dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            chmod(path, 0444);
        }
    if (dp)
        closedir(dp);
    /* The preload reaches the ioctl handler through a socket per node. */
    snprintf(dir, sizeof(dir), "%s/ioctl/dev/bus/usb/%03d", root, atoi(port));
    for (const char *sub = strchr(dir + strlen(root) + 1, '/'); sub; sub = strchr(sub + 1, '/')) {
        snprintf(path, sizeof(path), "%.*s", (int)(sub - dir), dir);
        chmod(path, 0755);
    }
    chmod(dir, 0755);
    dp = opendir(dir);
    for (struct dirent *e; dp && (e = readdir(dp));)
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            chmod(path, 0777);
        }
    if (dp)
        closedir(dp);
}

int sim_usb_main(int argc, char **argv)
{
    struct usb_sim_opts o;
    int rc = parse(argc, argv, &o);
    if (rc)
        return rc;
    if (!usb_testbed_available()) {
        fprintf(stderr, "mcuflash-sim usb: this mcuflash-sim was built without umockdev, so it cannot "
                        "emulate USB devices; install libumockdev-dev and rebuild.\n");
        return MF_E_FAIL;
    }
    struct device d[MAX_PORTS] = { 0 };
    for (int i = 0; i < o.nports; i++)
        if (device_new(&d[i], &o.dfuse, o.port_mcus[i]) < 0) {
            for (int k = 0; k <= i; k++)
                device_free(&d[k]);
            return usage("no bootloader model for this MCU; models: lpc1768, lpc1769, rp2040, rp2350, %s.",
                         dfuse_chip_names());
        }
    struct mf_err err = { 0 };
    struct usb_testbed *tb = usb_testbed_new(&err);
    rc = tb ? 0 : -1;
    for (int i = 0; i < o.nports && rc == 0; i++)
        rc = usb_testbed_plug(tb, o.ports[i], device_usb(&d[i]), NULL, &err);
    if (rc == 0)
        rc = usb_testbed_child_env(tb, &err);
    if (rc == 0) {
        if (o.read_only_node)
            make_nodes_read_only(usb_testbed_root(tb), o.ports[0]);
        rc = run_child(tb, o.command);
        for (int i = 0; i < o.nports; i++)
            report(&d[i], o.ports[i]);
        if (rc >= 0 && o.flash_out && write_flash(&d[0], o.flash_out))
            rc = MF_E_FAIL;
        rc = rc < 0 ? MF_E_FAIL : rc;
    } else {
        fprintf(stderr, "mcuflash-sim usb: %s\n", err.msg);
        rc = err.code ? (int)err.code : MF_E_FAIL;
    }
    usb_testbed_free(tb);
    for (int i = 0; i < o.nports; i++)
        device_free(&d[i]);
    return rc;
}
