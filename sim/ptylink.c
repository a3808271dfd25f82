/* The board's serial device on a pseudo-terminal. */
#include "ptylink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

void pty_link_init(struct pty_link *l, const char *path)
{
    memset(l, 0, sizeof(*l));
    snprintf(l->path, sizeof(l->path), "%s", path);
    l->master = l->slave = -1;
}

bool pty_link_is_up(const struct pty_link *l)
{
    return l->master >= 0;
}

static int open_pair(struct pty_link *l, struct mf_err *err)
{
    l->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
    if (l->master < 0)
        return mf_fail(err, MF_E_DEVICE, "Could not create a pseudo-terminal (%s); the virtual board is not up.",
                       strerror(errno));
    if (grantpt(l->master) < 0 || unlockpt(l->master) < 0 ||
        ptsname_r(l->master, l->slave_name, sizeof(l->slave_name)) != 0)
        return mf_fail(err, MF_E_DEVICE, "Could not set up the pseudo-terminal (%s); the virtual board is not up.",
                       strerror(errno));
    l->slave = open(l->slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (l->slave < 0)
        return mf_fail(err, MF_E_DEVICE, "Could not open %s (%s); the virtual board is not up.", l->slave_name,
                       strerror(errno));
    /* Raw: no echo, no line editing, no output processing. */
    struct termios t;
    if (tcgetattr(l->slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(l->slave, TCSANOW, &t);
    }
    chmod(l->slave_name, 0660);
    return 0;
}

/* Point l->path at the slave, replacing an old symlink atomically. */
static int place_symlink(struct pty_link *l, struct mf_err *err)
{
    struct stat st;
    if (lstat(l->path, &st) == 0 && !S_ISLNK(st.st_mode))
        return mf_fail(err, MF_E_USAGE,
                       "%s exists and is not a symlink; it was left alone and the virtual board is not up. "
                       "Choose another --path.",
                       l->path);
    char tmp[sizeof(l->path) + 32];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", l->path, (long)getpid());
    unlink(tmp);
    if (symlink(l->slave_name, tmp) < 0 || rename(tmp, l->path) < 0) {
        int e = errno;
        unlink(tmp);
        return mf_fail(err, MF_E_DEVICE, "Could not create the link %s (%s); the virtual board is not up.",
                       l->path, strerror(e));
    }
    return 0;
}

int pty_link_up(struct pty_link *l, struct mf_err *err)
{
    if (open_pair(l, err) < 0 || place_symlink(l, err) < 0) {
        pty_link_down(l);
        return -1;
    }
    return 0;
}

void pty_link_down(struct pty_link *l)
{
    char target[sizeof(l->slave_name)];
    ssize_t n = readlink(l->path, target, sizeof(target) - 1);
    if (n > 0 && l->slave_name[0]) {
        target[n] = '\0';
        if (!strcmp(target, l->slave_name))
            unlink(l->path);
    }
    if (l->master >= 0)
        close(l->master);
    if (l->slave >= 0)
        close(l->slave);
    l->master = l->slave = -1;
    l->slave_name[0] = '\0';
}

ssize_t pty_link_read(struct pty_link *l, void *buf, size_t cap)
{
    if (l->master < 0)
        return 0;
    ssize_t n = read(l->master, buf, cap);
    if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == EIO))
        return 0;
    return n;
}

ssize_t pty_link_write(struct pty_link *l, const void *buf, size_t len)
{
    if (l->master < 0)
        return 0;
    ssize_t n = write(l->master, buf, len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return n;
}
