/* mcuflash-sim usb: a USB bootloader device for a command run under it.
 *
 *   mcuflash-sim usb --mcu MCU [--port 1-1] [--timing none|realistic]
 *                    [--weak-cell ADDR] [--leave-answers] [--flash-out FILE]
 *                    -- COMMAND [ARG]...
 *
 * The device is emulated with umockdev: COMMAND (and what it starts) runs
 * with umockdev's preload library, so its libusb finds the device at the
 * port and its requests reach the model here.  When COMMAND exits, a
 * summary of what the device was asked to do goes to stderr, the flash is
 * written to FILE, and COMMAND's exit status is returned.
 */
#include "usb_sim.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "usb_dfuse.h"
#include "usb_testbed.h"

struct usb_sim_opts {
    struct dfuse_opts dfuse;
    const char *port;
    const char *flash_out;
    char **command;
};

static int usage(const char *fmt, const char *arg)
{
    fprintf(stderr, "mcuflash-sim usb: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nusage: mcuflash-sim usb --mcu MCU [--port 1-1] [--timing none|realistic] "
                    "[--weak-cell ADDR] [--leave-answers] [--flash-out FILE] -- COMMAND [ARG]...\n");
    return MF_E_USAGE;
}

static int parse(int argc, char **argv, struct usb_sim_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port = "1-1";
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
        if (i + 1 >= argc)
            return usage("option %s needs a value; nothing was started.", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--mcu")) {
            o->dfuse.mcu = v;
        } else if (!strcmp(a, "--port")) {
            o->port = v;
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
    return 0;
}

static int write_flash(const struct dfuse_dev *d, const char *path)
{
    uint32_t base, size;
    const uint8_t *mem = dfuse_flash(d, &base, &size);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(mem, 1, size, f) != size || fclose(f)) {
        fprintf(stderr, "mcuflash-sim usb: the flash could not be written to %s: %s.\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static void report(const struct dfuse_dev *d)
{
    const struct dfuse_stats *s = dfuse_stats(d);
    fprintf(stderr, "mcuflash-sim usb: %u erases, %u blocks written (%u bytes), %u blocks read; ", s->erases,
            s->writes, s->bytes_written, s->uploads);
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
    struct dfuse_dev *d = dfuse_new(&o.dfuse);
    if (!d)
        return usage("no DfuSe model for this MCU; models: %s.", dfuse_chip_names());
    struct mf_err err = { 0 };
    struct usb_testbed *tb = usb_testbed_new(&err);
    if (!tb || usb_testbed_plug(tb, o.port, dfuse_usb(d), NULL, &err) || usb_testbed_child_env(tb, &err)) {
        fprintf(stderr, "mcuflash-sim usb: %s\n", err.msg);
        usb_testbed_free(tb);
        dfuse_free(d);
        return err.code ? (int)err.code : MF_E_FAIL;
    }
    rc = run_child(tb, o.command);
    report(d);
    if (rc >= 0 && o.flash_out && write_flash(d, o.flash_out))
        rc = MF_E_FAIL;
    usb_testbed_free(tb);
    dfuse_free(d);
    return rc < 0 ? MF_E_FAIL : rc;
}
