/* Opening the link to a board: resolve, classify, refuse if busy, open,
 * lock, and put terminals into raw mode. */
#include "link/link.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "link/tty.h"

/* Klipper's usual serial rate; used when the caller gives 0. */
#define LINK_DEFAULT_BAUD 250000u
/* On USB CDC, 1200 baud (with DTR dropped) asks the board for its bootloader. */
#define LINK_BOOTLOADER_BAUD 1200u
/* Unix98 pty slaves use majors 136..143. */
#define PTY_SLAVE_MAJOR_FIRST 136u
#define PTY_SLAVE_MAJOR_LAST 143u

static int fail_missing(const char *path, struct mf_err *err)
{
    return mf_fail(err, MF_E_DEVICE,
                   "No device at %s; nothing was sent; check the cable and the path "
                   "(ls /dev/serial/by-id/) and try again.",
                   path);
}

static int fail_permission(const char *path, struct mf_err *err)
{
    return mf_fail(err, MF_E_DEVICE,
                   "Permission denied opening %s; nothing was sent; run as a user in the dialout "
                   "group (sudo usermod -aG dialout $USER, then log in again) or as root.",
                   path);
}

static int fail_os(const char *what, const char *path, int errnum, struct mf_err *err)
{
    return mf_fail(err, MF_E_DEVICE, "Cannot %s %s: %s; nothing was sent; check the device and try again.",
                   what, path, strerror(errnum));
}

/* Busy: name the holders when /proc shows them, else blame the lock. */
static int fail_busy(const struct link *l, struct mf_err *err)
{
    char holders[512];
    if (link_holders(l->real_path, holders, sizeof(holders)) > 0)
        mf_fail(err, MF_E_DEVICE, "%s is in use by %s; nothing was sent to the board.", l->path, holders);
    else
        mf_fail(err, MF_E_DEVICE, "%s is locked by another program; nothing was sent to the board.", l->path);
    return mf_fact(err, MF_FACT_PORT_BUSY);
}

static int resolve_path(struct link *l, struct mf_err *err)
{
    char resolved[PATH_MAX];
    if (!realpath(l->path, resolved)) {
        if (errno == ENOENT || errno == ENOTDIR)
            return fail_missing(l->path, err);
        if (errno == EACCES)
            return fail_permission(l->path, err);
        return fail_os("resolve", l->path, errno, err);
    }
    if (strlen(resolved) >= sizeof(l->real_path))
        return mf_fail(err, MF_E_USAGE, "The device path %s is too long; nothing was sent; use a shorter path.",
                       l->path);
    strcpy(l->real_path, resolved);
    return 0;
}

/* Only character devices and FIFOs can be a link; anything else is most
 * likely a mistyped argument (a firmware file, a directory). */
static int check_file_type(const struct link *l, const struct stat *st, struct mf_err *err)
{
    /* Major 1 holds /dev/null, /dev/zero, /dev/random and the like. */
    if (S_ISCHR(st->st_mode) && major(st->st_rdev) == 1)
        return mf_fail(err, MF_E_USAGE, "%s is not a serial port; nothing was sent; give the board's device "
                       "(ls /dev/serial/by-id/) and try again.", l->path);
    if (S_ISCHR(st->st_mode) || S_ISFIFO(st->st_mode))
        return 0;
    return mf_fail(err, MF_E_USAGE,
                   "%s is a %s, not a serial port; nothing was sent; give the board's device "
                   "(ls /dev/serial/by-id/) and try again.",
                   l->path, S_ISDIR(st->st_mode) ? "directory" : S_ISREG(st->st_mode) ? "regular file" : "special file");
}

static enum link_kind kind_of_open_file(int fd, const struct stat *st, const char *real_path)
{
    if (!S_ISCHR(st->st_mode) || !isatty(fd))
        return LINK_FILE;
    unsigned major_number = major(st->st_rdev);
    bool pty_major = major_number >= PTY_SLAVE_MAJOR_FIRST && major_number <= PTY_SLAVE_MAJOR_LAST;
    return pty_major || strncmp(real_path, "/dev/pts/", 9) == 0 ? LINK_PTY : LINK_TTY;
}

static int open_device(struct link *l, struct mf_err *err)
{
    l->fd = open(l->real_path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (l->fd >= 0)
        return 0;
    switch (errno) {
    case ENOENT:
        return fail_missing(l->path, err);
    case EACCES:
    case EPERM:
        return fail_permission(l->path, err);
    case EBUSY:  /* another process set TIOCEXCL */
        return fail_busy(l, err);
    case ENXIO:
    case ENODEV:
    case EIO:
        return mf_fail(err, MF_E_DEVICE,
                       "%s exists but no device answers behind it; nothing was sent; reconnect "
                       "the board (check ls /dev/serial/by-id/) and try again.",
                       l->path);
    default:
        return fail_os("open", l->path, errno, err);
    }
}

/* flock keeps out other mcuflash runs and programs that lock the port
 * (pyserial's exclusive=True); TIOCEXCL keeps out everyone but root. */
static int lock_device(struct link *l, struct mf_err *err)
{
    if (flock(l->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            return fail_busy(l, err);
        return fail_os("lock", l->path, errno, err);
    }
    if (l->kind == LINK_TTY && ioctl(l->fd, TIOCEXCL) != 0)
        return fail_os("lock", l->path, errno, err);
    return 0;
}

static int set_line(struct link *l, uint32_t baud, struct mf_err *err)
{
    if (l->kind == LINK_FILE)
        return 0;  /* plain files and FIFOs have no line settings */
    if (link_tty_make_raw(l->fd) != 0)
        return fail_os("set raw mode on", l->path, errno, err);
    if (l->kind == LINK_PTY)
        return 0;  /* a pty has no wire, so no speed or modem lines */
    uint32_t want = baud ? baud : LINK_DEFAULT_BAUD, got = 0;
    if (link_tty_set_baud(l->fd, want, &got) != 0)
        return mf_fail(err, MF_E_DEVICE,
                       "%s does not accept %u baud (%s); nothing was sent; use a rate the port "
                       "supports (Klipper's default is 250000) and try again.",
                       l->path, want, strerror(errno));
    /* A UART may round; more than 2 % off and the board cannot understand it. */
    if ((uint64_t)got * 50 < (uint64_t)want * 49 || (uint64_t)got * 50 > (uint64_t)want * 51)
        return mf_fail(err, MF_E_DEVICE,
                       "%s cannot run at %u baud (the nearest it offers is %u); nothing was sent; "
                       "use a rate the port supports and try again.",
                       l->path, want, got);
    l->baud = got;
    if (link_tty_raise_modem_lines(l->fd) != 0)
        return fail_os("raise DTR/RTS on", l->path, errno, err);
    return 0;
}

static int check_request(const char *path, uint32_t baud, struct mf_err *err)
{
    if (baud == LINK_BOOTLOADER_BAUD)
        return mf_fail(err, MF_E_USAGE,
                       "1200 baud is refused because on USB boards it asks for the bootloader; "
                       "nothing was sent; use the board's normal rate (250000 for most Klipper "
                       "builds) and try again.");
    if (!path || !*path)
        return mf_fail(err, MF_E_USAGE, "No device path was given; nothing was sent; name the board's "
                                        "device (ls /dev/serial/by-id/) and try again.");
    if (strlen(path) >= sizeof(((struct link *)0)->path))
        return mf_fail(err, MF_E_USAGE, "The device path %.64s... is too long; nothing was sent; use a "
                                        "shorter path.", path);
    return 0;
}

static int open_link(struct link *l, uint32_t baud, struct mf_err *err)
{
    struct stat st;
    if (resolve_path(l, err) != 0)
        return -1;
    if (stat(l->real_path, &st) != 0)
        return errno == ENOENT ? fail_missing(l->path, err) : fail_os("inspect", l->path, errno, err);
    if (check_file_type(l, &st, err) != 0)
        return -1;
    /* Check before touching the line: changing a port under a running
     * Klipper would disturb it.  A FIFO's other end is the device itself. */
    if (S_ISCHR(st.st_mode) && link_holders(l->real_path, NULL, 0) > 0)
        return fail_busy(l, err);
    if (open_device(l, err) != 0)
        return -1;
    l->kind = kind_of_open_file(l->fd, &st, l->real_path);
    if (lock_device(l, err) != 0)
        return -1;
    return set_line(l, baud, err);
}

/* Undo a failed open.  Closing drops our flock; TIOCNXCL is not sent, since
 * the exclusive flag may belong to another (root) process. */
static void discard(struct link *l)
{
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

int link_open(const char *path, uint32_t baud, struct link **out, struct mf_err *err)
{
    *out = NULL;
    if (check_request(path, baud, err) != 0)
        return -1;
    struct link *l = calloc(1, sizeof(*l));
    if (!l)
        return mf_fail(err, MF_E_FAIL, "Out of memory opening %s; nothing was sent; try again.", path);
    l->fd = -1;
    strcpy(l->path, path);
    if (open_link(l, baud, err) != 0) {
        discard(l);
        return -1;
    }
    *out = l;
    return 0;
}

void link_close(struct link *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        if (l->kind == LINK_TTY)
            ioctl(l->fd, TIOCNXCL);
        flock(l->fd, LOCK_UN);
        close(l->fd);
    }
    free(l);
}
