/* Who else has the device open: a scan of /proc/PID/fd.
 *
 * For a pty, the process holding the master side is the device itself (a
 * virtual board, Klipper's Linux MCU); it usually keeps the slave open too,
 * so it is recognised by its master's "tty-index" in /proc/PID/fdinfo. */
#include "link/link.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    HOLDERS_LISTED = 3,  /* processes named in the text; the rest are counted */
    CMDLINE_SHOWN = 64,  /* characters of a command line before " ..." */
};

struct fd_use {
    bool holds_device;
    bool owns_master;          /* holds the master of this very pty */
    bool has_unindexed_master; /* holds a pty master the kernel does not index */
};

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* The N of /dev/pts/N, or -1 when real_path is not a pty slave. */
static int pts_index(const char *real_path)
{
    static const char prefix[] = "/dev/pts/";
    const char *num = real_path + sizeof(prefix) - 1;
    if (strncmp(real_path, prefix, sizeof(prefix) - 1) != 0 || !all_digits(num))
        return -1;
    long n = strtol(num, NULL, 10);
    return n > INT_MAX ? -1 : (int)n;
}

static bool is_pty_master(const char *target)
{
    const char *base = strrchr(target, '/');
    return base && strcmp(base + 1, "ptmx") == 0;
}

/* A /proc directory or fd name as a number, or -1 for anything else. */
static long number_name(const char *name)
{
    if (!all_digits(name) || strlen(name) > 10)
        return -1;
    return strtol(name, NULL, 10);
}

/* "tty-index" of a pty master fd, or -1 when the kernel does not show it. */
static int master_tty_index(long pid, long fd)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fdinfo/%ld", pid, fd);
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char line[128];
    int index = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "tty-index: %d", &index) == 1)
            break;
    fclose(f);
    return index;
}

static void scan_fds(long pid, const char *real_path, int pts, struct fd_use *use)
{
    char dir[64];
    snprintf(dir, sizeof(dir), "/proc/%ld/fd", pid);
    DIR *d = opendir(dir);
    if (!d)
        return;  /* gone, or another user's process we may not inspect */
    struct dirent *e;
    while ((e = readdir(d))) {
        long fd = number_name(e->d_name);
        if (fd < 0)
            continue;
        char fdlink[96], target[PATH_MAX];
        snprintf(fdlink, sizeof(fdlink), "%s/%ld", dir, fd);
        ssize_t n = readlink(fdlink, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        if (strcmp(target, real_path) == 0) {
            use->holds_device = true;
        } else if (pts >= 0 && is_pty_master(target)) {
            int index = master_tty_index(pid, fd);
            if (index == pts)
                use->owns_master = true;
            else if (index < 0)
                use->has_unindexed_master = true;
        }
    }
    closedir(d);
}

static bool is_device_itself(const struct fd_use *use)
{
    /* Without tty-index (old kernels) any pty master holder gets the benefit
     * of the doubt: refusing a simulator would be worse than missing a rare
     * competitor, and the lock still catches well-behaved ones. */
    return use->owns_master || use->has_unindexed_master;
}

static size_t read_small_file(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    n = n < 0 ? 0 : n;
    buf[n] = '\0';
    return (size_t)n;
}

static void trim_trailing_space(char *s)
{
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
}

/* Shorten to CMDLINE_SHOWN characters, at a word boundary when one is near. */
static void shorten_command(char *cmd)
{
    if (strlen(cmd) <= CMDLINE_SHOWN)
        return;
    size_t cut = CMDLINE_SHOWN;
    while (cut > CMDLINE_SHOWN / 2 && cmd[cut] != ' ')
        cut--;
    if (cmd[cut] != ' ')
        cut = CMDLINE_SHOWN;
    strcpy(cmd + cut, " ...");
}

/* raw[0..n) with spaces for the NULs between arguments and C escapes for
 * control characters inside them, so that the text stays on one line. */
static void printable(const char *raw, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < n && len + 5 < cap; i++) {
        unsigned char c = (unsigned char)raw[i];
        if (c == '\0')
            out[len++] = ' ';
        else if (c == '\n')
            len += (size_t)snprintf(out + len, cap - len, "\\n");
        else if (c == '\t')
            len += (size_t)snprintf(out + len, cap - len, "\\t");
        else if (c < 0x20 || c == 0x7f)
            len += (size_t)snprintf(out + len, cap - len, "\\x%02x", c);
        else
            out[len++] = (char)c;
    }
    out[len] = '\0';
}

/* The process's command line on one printable line, or "[comm]" for one
 * without (kernel threads, zombies). */
static void process_command(long pid, char *out, size_t cap)
{
    char path[64], raw[CMDLINE_SHOWN * 4];
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    size_t n = read_small_file(path, raw, sizeof(raw));
    printable(raw, n, out, cap);
    trim_trailing_space(out);
    if (out[0]) {
        shorten_command(out);
        return;
    }
    char comm[32];
    snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
    read_small_file(path, comm, sizeof(comm));
    trim_trailing_space(comm);
    snprintf(out, cap, "[%s]", comm[0] ? comm : "unknown");
}

static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    if (!buf || cap == 0)
        return;
    size_t len = strnlen(buf, cap);
    if (len + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

int link_holders(const char *real_path, char *buf, size_t cap)
{
    if (buf && cap)
        buf[0] = '\0';
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int pts = pts_index(real_path), found = 0;
    long self = (long)getpid();
    struct dirent *e;
    while ((e = readdir(proc))) {
        long pid = number_name(e->d_name);
        if (pid < 0 || pid == self)
            continue;
        struct fd_use use = {0};
        scan_fds(pid, real_path, pts, &use);
        if (!use.holds_device || is_device_itself(&use))
            continue;
        if (found < HOLDERS_LISTED) {
            char cmd[CMDLINE_SHOWN * 8];
            process_command(pid, cmd, sizeof(cmd));
            appendf(buf, cap, "%spid %ld (%s)", found ? ", " : "", pid, cmd);
        }
        found++;
    }
    closedir(proc);
    if (found > HOLDERS_LISTED)
        appendf(buf, cap, " and %d more", found - HOLDERS_LISTED);
    return found;
}
