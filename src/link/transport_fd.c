/* A transport over a file descriptor: a serial port, a pty, a FIFO. */
#include "link/transport.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

#include "link/link.h"

struct fd_transport {
    struct transport base;
    int fd;
};

static int fd_of(struct transport *t)
{
    return ((struct fd_transport *)t)->fd;
}

/* A raw tty with VMIN=0 returns 0 both when it has nothing and when the
 * other end hung up; only poll tells them apart. */
static bool hung_up(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

static ssize_t fd_read(struct transport *t, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = read(fd_of(t), buf, cap);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        return hung_up(fd_of(t)) ? -1 : 0;
    }
}

static ssize_t fd_write(struct transport *t, const void *buf, size_t len)
{
    for (;;) {
        ssize_t n = write(fd_of(t), buf, len);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN ? 0 : -1;
    }
}

static int fd_wait(struct transport *t, int events, int timeout_ms)
{
    struct pollfd p = { fd_of(t), 0, 0 };
    if (events & TRANSPORT_READABLE)
        p.events |= POLLIN;
    if (events & TRANSPORT_WRITABLE)
        p.events |= POLLOUT;
    int rc = poll(&p, 1, timeout_ms);
    if (rc <= 0)
        return 0; /* timeout or a signal: the caller looks at the clock */
    int out = 0;
    if (p.revents & (POLLERR | POLLNVAL))
        out |= TRANSPORT_BROKEN;
    /* A hangup or error is readable and writable as asked: the read or
     * write that follows reports the loss. */
    if (p.revents & (POLLIN | POLLHUP | POLLERR))
        out |= events & TRANSPORT_READABLE;
    if (p.revents & (POLLOUT | POLLHUP | POLLERR))
        out |= events & TRANSPORT_WRITABLE;
    return out;
}

static void fd_discard_input(struct transport *t)
{
    if (isatty(fd_of(t)))
        tcflush(fd_of(t), TCIFLUSH);
}

static void fd_drain(struct transport *t)
{
    if (isatty(fd_of(t)))
        tcdrain(fd_of(t));
}

static void fd_close(struct transport *t)
{
    free(t);
}

static const struct transport_ops fd_ops = {
    .read = fd_read,
    .write = fd_write,
    .wait = fd_wait,
    .discard_input = fd_discard_input,
    .drain = fd_drain,
    .close = fd_close,
};

int transport_over_fd(int fd, const char *name, struct transport **out, struct mf_err *err)
{
    struct fd_transport *ft = calloc(1, sizeof(*ft));
    if (!ft)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    ft->base.ops = &fd_ops;
    snprintf(ft->base.name, sizeof(ft->base.name), "%s", name);
    ft->fd = fd;
    *out = &ft->base;
    return 0;
}

int transport_over_link(struct link *l, struct transport **out, struct mf_err *err)
{
    return transport_over_fd(l->fd, l->path, out, err);
}
