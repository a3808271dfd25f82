/* The control socket (server side). */
#include "control.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unixsock.h"

void control_init(struct sim_control *c)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = -1;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
}

int control_open(struct sim_control *c, const char *path, control_exec_fn exec, void *ctx, struct mf_err *err)
{
    int fd = unix_listen(path, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 8);
    if (fd == UNIXSOCK_TOO_LONG)
        return mf_fail(err, MF_E_USAGE, "The control socket path is too long (max %d bytes); nothing was started.",
                       UNIXSOCK_PATH_MAX);
    if (fd == UNIXSOCK_NOT_SOCKET)
        return mf_fail(err, MF_E_USAGE,
                       "%s exists and is not a socket; it was left alone and nothing was started.", path);
    if (fd < 0)
        return mf_fail(err, MF_E_DEVICE, "Could not open the control socket %s (%s); nothing was started.", path,
                       strerror(errno));
    c->listen_fd = fd;
    strcpy(c->path, path);
    c->exec = exec;
    c->ctx = ctx;
    return 0;
}

static void drop_client(struct control_client *cl)
{
    close(cl->fd);
    cl->fd = -1;
    cl->len = 0;
}

void control_close(struct sim_control *c)
{
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            drop_client(&c->clients[i]);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        c->listen_fd = -1;
        if (c->path[0])
            unlink(c->path);
    }
    c->path[0] = '\0';
}

size_t control_pollfds(const struct sim_control *c, struct pollfd *pfd, size_t max)
{
    size_t n = 0;
    if (c->listen_fd >= 0 && n < max)
        pfd[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
    for (int i = 0; i < CONTROL_MAX_CLIENTS && n < max; i++)
        if (c->clients[i].fd >= 0)
            pfd[n++] = (struct pollfd){ .fd = c->clients[i].fd, .events = POLLIN };
    return n;
}

static void accept_client(struct sim_control *c)
{
    int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd < 0) {
            c->clients[i].fd = fd;
            c->clients[i].len = 0;
            return;
        }
    close(fd); /* too many at once */
}

static void write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = write(fd, s, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        s += n;
        len -= (size_t)n;
    }
}

/* Run every complete line in the client's buffer. */
static void run_lines(struct sim_control *c, struct control_client *cl)
{
    char *nl;
    while (cl->fd >= 0 && (nl = memchr(cl->buf, '\n', cl->len))) {
        *nl = '\0';
        if (nl > cl->buf && nl[-1] == '\r')
            nl[-1] = '\0';
        char reply[4096];
        reply[0] = '\0';
        c->exec(c->ctx, cl->buf, reply, sizeof(reply) - 1);
        strcat(reply, "\n");
        write_all(cl->fd, reply, strlen(reply));
        size_t used = (size_t)(nl - cl->buf) + 1;
        memmove(cl->buf, cl->buf + used, cl->len - used);
        cl->len -= used;
    }
}

static void read_client(struct sim_control *c, struct control_client *cl)
{
    ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        drop_client(cl);
        return;
    }
    cl->len += (size_t)n;
    run_lines(c, cl);
    if (cl->fd >= 0 && cl->len >= sizeof(cl->buf) - 1)
        drop_client(cl); /* a line longer than any command */
}

void control_serve(struct sim_control *c, const struct pollfd *pfd, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!pfd[i].revents)
            continue;
        if (pfd[i].fd == c->listen_fd) {
            accept_client(c);
            continue;
        }
        for (int k = 0; k < CONTROL_MAX_CLIENTS; k++)
            if (c->clients[k].fd == pfd[i].fd)
                read_client(c, &c->clients[k]);
    }
}
