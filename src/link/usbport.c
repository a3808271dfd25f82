/* USB port identity from sysfs. */
#include "link/usbport.h"

#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link/link.h"
#include "util/clock.h"

#define POLL_US 50000u
/* A device back on the port may add its tty interface a little later. */
#define TTY_SETTLE_US 1000000u
/* USB devices looked at by usbport_find: more than any host has. */
#define USBPORT_FIND_MAX 256

/* sysfs_root "/" means the real tree. */
static void sysfs_path(const char *root, const char *rest, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", strcmp(root, "/") ? root : "", rest);
}

static void read_attr(const char *dir, const char *name, char *out, size_t cap)
{
    char path[PATH_MAX];
    out[0] = '\0';
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(out, (int)cap, f))
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\n")] = '\0';
}

/* a then b into out; false if it does not fit. */
static bool join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s%s", a, b);
    return n >= 0 && (size_t)n < cap;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The device node of a tty's sysfs directory, from its uevent's DEVNAME
 * (relative to /dev, as the kernel writes it).  Empty while the uevent is
 * not there or names no node yet: a device just added may show its
 * directory first. */
static void tty_node(const char *dir, char *out, size_t cap)
{
    char path[PATH_MAX], line[256];
    out[0] = '\0';
    if (!join(path, sizeof(path), dir, "/uevent"))
        return;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "DEVNAME=", 8) || !line[8])
            continue;
        const char *name = !strncmp(line + 8, "/dev/", 5) ? line + 13 : line + 8;
        if (!join(out, cap, "/dev/", name))
            out[0] = '\0';
        break;
    }
    fclose(f);
}

static void *dir_open(const char *path)
{
    return opendir(path);
}

static struct dirent *dir_read(void *dir)
{
    return readdir(dir);
}

static void dir_close(void *dir)
{
    closedir(dir);
}

/* The tty of a USB device directory: ACM ("PORT:1.0/tty/ttyACM0") or a
 * serial converter ("PORT:1.0/ttyUSB0/tty/ttyUSB0"). */
static void find_tty(const char *dir, const char *port, char *out, size_t cap)
{
    static const char *const patterns[] = { "%s/%s:*/tty/*", "%s/%s:*/tty*/tty/*" };
    out[0] = '\0';
    for (size_t i = 0; i < 2 && !out[0]; i++) {
        char pattern[PATH_MAX];
        /* The public directory calls, not glibc's internal ones, so that a
         * sysfs stood in by a preloaded library (umockdev) is read too. */
        glob_t g = { .gl_opendir = dir_open, .gl_readdir = dir_read, .gl_closedir = dir_close, .gl_stat = stat,
                     .gl_lstat = lstat };
        snprintf(pattern, sizeof(pattern), patterns[i], dir, port);
        if (glob(pattern, GLOB_ALTDIRFUNC, NULL, &g) == 0 && g.gl_pathc > 0)
            tty_node(g.gl_pathv[0], out, cap);
        globfree(&g);
    }
}

int usbport_read(const char *sysfs_root, const char *port, struct usb_port_info *info)
{
    char dir[PATH_MAX], rest[PATH_MAX], hex[16];
    snprintf(rest, sizeof(rest), "/sys/bus/usb/devices/%s", port);
    sysfs_path(sysfs_root, rest, dir, sizeof(dir));
    memset(info, 0, sizeof(*info));
    info->usb = true;
    snprintf(info->port, sizeof(info->port), "%s", port);
    read_attr(dir, "idVendor", hex, sizeof(hex));
    if (!hex[0])
        return 0;
    info->vid = (uint16_t)strtoul(hex, NULL, 16);
    read_attr(dir, "idProduct", hex, sizeof(hex));
    info->pid = (uint16_t)strtoul(hex, NULL, 16);
    read_attr(dir, "devnum", hex, sizeof(hex));
    info->devnum = (unsigned)strtoul(hex, NULL, 10);
    read_attr(dir, "manufacturer", info->manufacturer, sizeof(info->manufacturer));
    read_attr(dir, "product", info->product, sizeof(info->product));
    read_attr(dir, "serial", info->serial, sizeof(info->serial));
    find_tty(dir, port, info->tty, sizeof(info->tty));
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* opendir and readdir rather than scandir: an emulated sysfs (umockdev's
 * preload, in the tests) redirects opendir, and scandir bypasses it. */
int usbport_find(const char *sysfs_root, usbport_match_fn match, void *ctx, struct usb_port_info *info)
{
    char dir[PATH_MAX], *ports[USBPORT_FIND_MAX];
    size_t n = 0;
    sysfs_path(sysfs_root, "/sys/bus/usb/devices", dir, sizeof(dir));
    DIR *d = opendir(dir);
    for (struct dirent *e; d && n < USBPORT_FIND_MAX && (e = readdir(d));) {
        const char *port = e->d_name;
        /* Devices are "1-1.3"; interfaces ("1-1.3:1.0") and hubs' roots ("usb1") are not. */
        if (isdigit((unsigned char)port[0]) && strchr(port, '-') && !strchr(port, ':') && (ports[n] = strdup(port)))
            n++;
    }
    if (d)
        closedir(d);
    qsort(ports, n, sizeof(ports[0]), by_name);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        if (!found && usbport_read(sysfs_root, ports[i], info) == 1 && match(info, ctx))
            found = 1;
        free(ports[i]);
    }
    return found;
}

int usbport_identify(const char *sysfs_root, const char *tty_path, struct usb_port_info *info)
{
    char real[PATH_MAX], rest[PATH_MAX], dev[PATH_MAX], attr[PATH_MAX];
    memset(info, 0, sizeof(*info));
    snprintf(info->path, sizeof(info->path), "%s", tty_path);
    if (!realpath(tty_path, real))
        snprintf(real, sizeof(real), "%s", tty_path);
    if (!join(rest, sizeof(rest), "/sys/class/tty/", base_name(real)))
        return 0;
    sysfs_path(sysfs_root, rest, attr, sizeof(attr));
    if (!realpath(attr, dev))
        return 0; /* a pty, or no sysfs entry: not USB */
    /* Up from the tty to the first directory that is a USB device. */
    for (char *slash; (slash = strrchr(dev, '/')) && slash != dev; *slash = '\0') {
        if (join(attr, sizeof(attr), dev, "/idVendor") && access(attr, F_OK) == 0) {
            char port[32];
            if (!join(port, sizeof(port), "", base_name(dev)) || usbport_read(sysfs_root, port, info) <= 0)
                return 0;
            snprintf(info->path, sizeof(info->path), "%s", tty_path);
            return 0;
        }
    }
    return 0;
}

/* The same enumeration of the same device.  A board that restarts comes
 * back with a new address even when it is the same firmware, which tells
 * its return from a gap too short to be seen between two looks. */
static bool same_device(const struct usb_port_info *a, const struct usb_port_info *b)
{
    if (a->devnum && b->devnum && a->devnum != b->devnum)
        return false;
    return a->vid == b->vid && a->pid == b->pid && !strcmp(a->product, b->product) &&
           !strcmp(a->manufacturer, b->manufacturer) && !strcmp(a->serial, b->serial);
}

static int wait_usb(const char *sysfs_root, const struct usb_port_info *before, int timeout_ms,
                    struct usb_port_info *after, struct mf_err *err)
{
    uint64_t start = mf_now_us(), until = start + (uint64_t)timeout_ms * 1000, back_at = 0;
    bool left = false;
    for (;;) {
        int present = usbport_read(sysfs_root, before->port, after);
        left |= !present;
        if (present && (left || !same_device(before, after)) && !back_at)
            back_at = mf_now_us();
        uint64_t now = mf_now_us();
        if (back_at && present && (after->tty[0] || now - back_at >= TTY_SETTLE_US)) {
            snprintf(after->path, sizeof(after->path), "%s", after->tty);
            return 0;
        }
        if (now >= until)
            break;
        mf_sleep_us(POLL_US);
    }
    if (!left)
        return mf_fail(err, MF_E_DEVICE, "The device on USB port %s (%04x:%04x %s) was still there unchanged %g s "
                       "after the bootloader request.", before->port, before->vid, before->pid, before->product,
                       timeout_ms / 1000.0);
    return mf_fail(err, MF_E_DEVICE, "No device came back on USB port %s within %g s after the bootloader request.",
                   before->port, timeout_ms / 1000.0);
}

int usbport_wait_return(const char *sysfs_root, const struct usb_port_info *before, bool expect_gone,
                        int timeout_ms, struct usb_port_info *after, struct mf_err *err)
{
    if (before->usb)
        return wait_usb(sysfs_root, before, timeout_ms, after, err);
    uint64_t start = mf_now_us();
    if (expect_gone && link_wait_gone(before->path, timeout_ms, err) < 0)
        return -1;
    int left = timeout_ms - (int)((mf_now_us() - start) / 1000);
    if (link_wait_present(before->path, left > 0 ? left : 0, err) < 0)
        return -1;
    *after = *before;
    return 0;
}
