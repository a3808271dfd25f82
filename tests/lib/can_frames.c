#include "can_frames.h"

#include <poll.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int can_bus_join(const char *path, char *hello, size_t cap)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    if (fd < 0)
        return -1;
    ssize_t n = -1;
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
        n = recv(fd, hello, cap - 1, 0);
    if (n <= 0) {
        close(fd);
        return -1;
    }
    hello[n] = '\0';
    return fd;
}

bool can_frame_send(int fd, uint32_t id, const void *data, uint8_t len)
{
    struct can_frame f;
    memset(&f, 0, sizeof(f));
    f.can_id = id;
    f.len = len;
    memcpy(f.data, data, len);
    return send(fd, &f, sizeof(f), 0) == (ssize_t)sizeof(f);
}

bool can_frame_recv(int fd, int ms, struct can_frame *f)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) != 1)
        return false;
    return recv(fd, f, sizeof(*f), MSG_DONTWAIT) == (ssize_t)sizeof(*f);
}

bool can_stream_send(int fd, uint32_t id, const uint8_t *data, size_t len)
{
    for (size_t off = 0; off < len; off += 8)
        if (!can_frame_send(fd, id, data + off, (uint8_t)(len - off < 8 ? len - off : 8)))
            return false;
    return true;
}
