#include "can_frames.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

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
