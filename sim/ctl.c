/* `mcuflash-sim ctl SOCKET COMMAND...`: send one command line to a running
 * board's control socket and print the reply (for tests and scripts that
 * have neither socat nor python). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim.h"

#define CTL_TIMEOUT_MS 10000

static int ctl_connect(const char *path)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(addr.sun_path)) {
        fprintf(stderr, "mcuflash-sim ctl: the socket path is too long.\n");
        return -1;
    }
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr,
                "mcuflash-sim ctl: cannot reach the control socket %s (%s); is the virtual board running "
                "with --control?\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* Read one reply line into buf; -1 on timeout or close. */
static int read_reply(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len + 1 < cap) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, CTL_TIMEOUT_MS) <= 0)
            return -1;
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return -1;
        len += (size_t)n;
        buf[len] = '\0';
        if (memchr(buf, '\n', len))
            return 0;
    }
    return 0;
}

int sim_ctl_query(const char *socket_path, const char *command, char *reply, size_t cap)
{
    char line[CONTROL_LINE_MAX];
    int len = snprintf(line, sizeof(line), "%s\n", command);
    if (len < 0 || (size_t)len >= sizeof(line))
        return -1;
    int fd = ctl_connect(socket_path);
    if (fd < 0)
        return -1;
    int rc = write(fd, line, (size_t)len) == len && read_reply(fd, reply, cap) == 0 ? 0 : -1;
    close(fd);
    return rc;
}

int sim_ctl_main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mcuflash-sim ctl SOCKET COMMAND...\n");
        return MF_E_USAGE;
    }
    char line[CONTROL_LINE_MAX];
    size_t len = 0;
    for (int i = 1; i < argc; i++) {
        int n = snprintf(line + len, sizeof(line) - len, "%s%s", i > 1 ? " " : "", argv[i]);
        if (n < 0 || (size_t)n >= sizeof(line) - len - 1) {
            fprintf(stderr, "mcuflash-sim ctl: the command is too long.\n");
            return MF_E_USAGE;
        }
        len += (size_t)n;
    }
    line[len++] = '\n';
    int fd = ctl_connect(argv[0]);
    if (fd < 0)
        return MF_E_DEVICE;
    char reply[8192];
    if (write(fd, line, len) != (ssize_t)len || read_reply(fd, reply, sizeof(reply)) < 0) {
        fprintf(stderr, "mcuflash-sim ctl: no reply from %s.\n", argv[0]);
        close(fd);
        return MF_E_DEVICE;
    }
    close(fd);
    fputs(reply, stdout);
    return strncmp(reply, "error", 5) ? 0 : MF_E_FAIL;
}
