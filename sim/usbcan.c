/* The USB to CAN bridge's router (usbcan.h). */
#include "usbcan.h"

#include <errno.h>
#include <linux/can.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cannode.h"
#include "unixsock.h"

#define PUT_WAIT_MS 200

void usbcan_init(struct usbcan *b, const char *bus, const char *iface, const uint8_t uuid[CAN_UUID_LEN])
{
    memset(b, 0, sizeof(*b));
    snprintf(b->bus, sizeof(b->bus), "%s", bus);
    snprintf(b->iface, sizeof(b->iface), "%s", iface);
    cannode_init(&b->wire, bus, uuid);
    b->listen_fd = b->local_fd = -1;
    for (int i = 0; i < USBCAN_HOSTS_MAX; i++)
        b->hosts[i] = -1;
}

bool usbcan_is_up(const struct usbcan *b)
{
    return b->listen_fd >= 0;
}

static int listen_at(struct usbcan *b, struct mf_err *err)
{
    int fd = unix_listen(b->iface, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 16);
    if (fd == UNIXSOCK_TOO_LONG)
        return mf_fail(err, MF_E_USAGE, "The interface path %s is too long (max %d bytes); nothing was started.",
                       b->iface, UNIXSOCK_PATH_MAX);
    if (fd == UNIXSOCK_NOT_SOCKET)
        return mf_fail(err, MF_E_USAGE, "%s exists and is not a socket; it was left alone and the bridge's "
                       "interface was not opened.", b->iface);
    if (fd < 0)
        return mf_fail(err, MF_E_DEVICE, "The bridge could not serve its interface at %s (%s).", b->iface,
                       strerror(errno));
    b->listen_fd = fd;
    return 0;
}

int usbcan_up(struct usbcan *b, struct can_node *node, struct mf_err *err)
{
    if (usbcan_is_up(b))
        return 0;
    int pair[2];
    if (cannode_join(&b->wire, err) < 0)
        return -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
        cannode_leave(&b->wire);
        return mf_fail(err, MF_E_FAIL, "Could not connect the bridge's own node (%s).", strerror(errno));
    }
    cannode_attach(node, pair[0], b->wire.bitrate);
    b->local_fd = pair[1];
    if (listen_at(b, err) < 0) {
        usbcan_down(b, node);
        return -1;
    }
    return 0;
}

void usbcan_down(struct usbcan *b, struct can_node *node)
{
    for (int i = 0; i < USBCAN_HOSTS_MAX; i++)
        if (b->hosts[i] >= 0) {
            close(b->hosts[i]);
            b->hosts[i] = -1;
        }
    if (b->listen_fd >= 0) {
        close(b->listen_fd);
        unlink(b->iface);
    }
    if (b->local_fd >= 0)
        close(b->local_fd);
    b->listen_fd = b->local_fd = -1;
    cannode_leave(node);
    cannode_leave(&b->wire);
}

size_t usbcan_pollfds(const struct usbcan *b, struct pollfd *pfd, size_t cap)
{
    size_t n = 0;
    int fds[3] = { b->listen_fd, b->local_fd, b->wire.fd };
    for (int i = 0; i < 3 && n < cap; i++)
        if (fds[i] >= 0)
            pfd[n++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
    for (int i = 0; i < USBCAN_HOSTS_MAX && n < cap; i++)
        if (b->hosts[i] >= 0)
            pfd[n++] = (struct pollfd){ .fd = b->hosts[i], .events = POLLIN };
    return n;
}

/* A slow reader is waited for briefly, as the bridge's queues hold frames
 * rather than drop them while the other side catches up. */
static bool put(int fd, const struct can_frame *f)
{
    return fd >= 0 && can_packet_send(fd, f, PUT_WAIT_MS);
}

static void to_hosts(struct usbcan *b, const struct can_frame *f, int except)
{
    for (int i = 0; i < USBCAN_HOSTS_MAX; i++)
        if (i != except && put(b->hosts[i], f))
            b->to_host++;
}

static void from_host(struct usbcan *b, const struct can_node *node, int slot, const struct can_frame *f)
{
    uint32_t id = f->can_id & CAN_SFF_MASK;
    bool mine = node->assigned_id && id == node->assigned_id;
    to_hosts(b, f, slot);
    if ((id == CAN_ID_ADMIN || mine) && put(b->local_fd, f))
        b->to_local++;
    if (!mine && put(b->wire.fd, f))
        b->to_bus++;
}

static void from_bus(struct usbcan *b, const struct can_node *node, const struct can_frame *f)
{
    /* Ids of the bridge's own node never come from the bus (usb_canbus.c). */
    uint32_t id = f->can_id & CAN_SFF_MASK;
    if (!(node->assigned_id && (id & ~1u) == node->assigned_id))
        to_hosts(b, f, -1);
}

/* One waiting frame from fd (packets of another size are skipped): 1
 * taken, 0 none now, -1 the other end left. */
static int take(int fd, struct can_frame *f)
{
    for (;;) {
        ssize_t n = recv(fd, f, sizeof(*f), MSG_DONTWAIT);
        if (n == (ssize_t)sizeof(*f))
            return 1;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            return -1;
        if (n < 0 && errno != EINTR)
            return 0;
    }
}

static void accept_hosts(struct usbcan *b)
{
    int fd;
    while ((fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
        char hello[64];
        int len = snprintf(hello, sizeof(hello), "mcuflash-sim canbus bitrate=%u", b->wire.bitrate);
        int slot = -1;
        for (int i = 0; i < USBCAN_HOSTS_MAX && slot < 0; i++)
            if (b->hosts[i] < 0)
                slot = i;
        if (slot < 0 || send(fd, hello, (size_t)len, MSG_NOSIGNAL) != len) {
            close(fd);
            continue;
        }
        b->hosts[slot] = fd;
    }
}

void usbcan_route(struct usbcan *b, const struct can_node *node)
{
    if (!usbcan_is_up(b))
        return;
    struct can_frame f;
    int r;
    accept_hosts(b);
    for (int i = 0; i < USBCAN_HOSTS_MAX; i++) {
        while (b->hosts[i] >= 0 && (r = take(b->hosts[i], &f)) != 0) {
            if (r < 0) {
                close(b->hosts[i]);
                b->hosts[i] = -1;
            } else {
                from_host(b, node, i, &f);
            }
        }
    }
    while (b->wire.fd >= 0 && (r = take(b->wire.fd, &f)) != 0) {
        if (r < 0)
            cannode_leave(&b->wire); /* the bus was stopped */
        else
            from_bus(b, node, &f);
    }
    while (b->local_fd >= 0 && (r = take(b->local_fd, &f)) > 0)
        to_hosts(b, &f, -1);
}
