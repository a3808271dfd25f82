/* A board on the virtual CAN bus: admin protocol and data framing. */
#include "cannode.h"

#include <errno.h>
#include <linux/can.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HELLO_PREFIX "mcuflash-sim canbus bitrate="
#define HELLO_WAIT_MS 2000
#define SEND_WAIT_MS 200 /* a slow reader on a busy host; see can_packet_send */

enum {
    ADMIN_QUERY_UNASSIGNED = 0x00,
    ADMIN_SET_KLIPPER_NODEID = 0x01,
    ADMIN_REQUEST_BOOTLOADER = 0x02,
    ADMIN_SET_KATAPULT_NODEID = 0x11,
    ADMIN_CLEAR_KATAPULT_NODEID = 0x12,
    ADMIN_RESP_NEED_NODEID = 0x20,
};

void cannode_init(struct can_node *n, const char *bus, const uint8_t uuid[CAN_UUID_LEN])
{
    memset(n, 0, sizeof(*n));
    snprintf(n->bus, sizeof(n->bus), "%s", bus);
    memcpy(n->uuid, uuid, CAN_UUID_LEN);
    n->fd = -1;
}

static int read_hello(struct can_node *n, struct mf_err *err)
{
    struct pollfd pfd = { .fd = n->fd, .events = POLLIN };
    char hello[64];
    ssize_t got = poll(&pfd, 1, HELLO_WAIT_MS) == 1 ? recv(n->fd, hello, sizeof(hello) - 1, 0) : -1;
    if (got <= (ssize_t)strlen(HELLO_PREFIX) || got == (ssize_t)sizeof(struct can_frame))
        return mf_fail(err, MF_E_DEVICE, "%s did not greet as a virtual CAN bus; the board is not up.", n->bus);
    hello[got] = '\0';
    if (strncmp(hello, HELLO_PREFIX, strlen(HELLO_PREFIX)))
        return mf_fail(err, MF_E_DEVICE, "%s is not a virtual CAN bus (it said '%s'); the board is not up.", n->bus,
                       hello);
    n->bitrate = (uint32_t)strtoul(hello + strlen(HELLO_PREFIX), NULL, 10);
    return 0;
}

int cannode_join(struct can_node *n, struct mf_err *err)
{
    if (n->fd >= 0)
        return 0;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (strlen(n->bus) >= sizeof(addr.sun_path))
        return mf_fail(err, MF_E_USAGE, "The bus path %s is too long; nothing was started.", n->bus);
    strcpy(addr.sun_path, n->bus);
    n->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (n->fd < 0 || connect(n->fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        cannode_leave(n);
        return mf_fail(err, MF_E_DEVICE, "Could not join the CAN bus %s (%s); the board is not up. Start it with "
                       "`mcuflash-sim canbus --path %s`.", n->bus, strerror(e), n->bus);
    }
    if (read_hello(n, err) < 0) {
        cannode_leave(n);
        return -1;
    }
    return 0;
}

void cannode_attach(struct can_node *n, int fd, uint32_t bitrate)
{
    cannode_leave(n);
    n->fd = fd;
    n->bitrate = bitrate;
}

void cannode_leave(struct can_node *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
    n->online = false;
    n->assigned_id = 0;
}

void cannode_set_online(struct can_node *n, bool online, enum can_app app)
{
    n->online = online;
    n->app = app;
    n->assigned_id = 0;
    n->bootloader_requested = n->id_conflict = false;
}

int cannode_nodeid(const struct can_node *n)
{
    return n->assigned_id ? (int)((n->assigned_id - CAN_NODEID_BASE) >> 1) : -1;
}

bool can_packet_send(int fd, const struct can_frame *f, int wait_ms)
{
    bool waited = false;
    for (;;) {
        ssize_t n = send(fd, f, sizeof(*f), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof(*f))
            return true;
        if (n < 0 && errno == EINTR)
            continue;
        if (n >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || waited)
            return false;
        /* One wait: a peer that took nothing in that time is not reading. */
        struct pollfd p = { .fd = fd, .events = POLLOUT };
        if (poll(&p, 1, wait_ms) != 1)
            return false;
        waited = true;
    }
}

static void send_frame(struct can_node *n, uint32_t id, const uint8_t *data, uint8_t len)
{
    struct can_frame f;
    memset(&f, 0, sizeof(f));
    f.can_id = id;
    f.len = len;
    memcpy(f.data, data, len);
    if (can_packet_send(n->fd, &f, SEND_WAIT_MS))
        n->frames_out++;
    else
        n->send_failures++;
}

static bool uuid_matches(const struct can_node *n, const struct can_frame *f)
{
    return f->len >= 1 + CAN_UUID_LEN && !memcmp(f->data + 1, n->uuid, CAN_UUID_LEN);
}

/* SET_NODEID: ours takes the id; another node given our id is a conflict. */
static void set_nodeid(struct can_node *n, const struct can_frame *f)
{
    if (f->len < 8)
        return;
    uint32_t id = CAN_NODEID_BASE + ((uint32_t)f->data[7] << 1);
    if (uuid_matches(n, f)) {
        n->assigned_id = id;
    } else if (id == n->assigned_id) {
        n->assigned_id = 0;
        n->id_conflict = true;
    }
}

static void admin(struct can_node *n, const struct can_frame *f)
{
    if (!f->len)
        return;
    bool katapult = n->app == CAN_APP_KATAPULT;
    switch (f->data[0]) {
    case ADMIN_QUERY_UNASSIGNED:
        if (!n->assigned_id) {
            uint8_t reply[8] = { ADMIN_RESP_NEED_NODEID };
            memcpy(reply + 1, n->uuid, CAN_UUID_LEN);
            reply[7] = katapult ? ADMIN_SET_KATAPULT_NODEID : ADMIN_SET_KLIPPER_NODEID;
            send_frame(n, CAN_ID_ADMIN_RESP, reply, 8);
        }
        break;
    case ADMIN_SET_KLIPPER_NODEID:
        if (!katapult)
            set_nodeid(n, f);
        break;
    case ADMIN_REQUEST_BOOTLOADER:
        if (!katapult && uuid_matches(n, f))
            n->bootloader_requested = true;
        break;
    case ADMIN_SET_KATAPULT_NODEID:
        if (katapult)
            set_nodeid(n, f);
        break;
    case ADMIN_CLEAR_KATAPULT_NODEID:
        if (katapult)
            n->assigned_id = 0;
        break;
    }
}

size_t cannode_read(struct can_node *n, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    struct can_frame f;
    while (n->fd >= 0 && cap - got >= CAN_MAX_DLEN) {
        ssize_t r = recv(n->fd, &f, sizeof(f), MSG_DONTWAIT);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0) {
            cannode_leave(n); /* the bus went away */
            break;
        }
        if (r != (ssize_t)sizeof(f))
            break;
        n->frames_in++;
        uint32_t id = f.can_id & CAN_SFF_MASK;
        uint8_t len = f.len > CAN_MAX_DLEN ? CAN_MAX_DLEN : f.len;
        if (!n->online)
            continue;
        if (n->assigned_id && id == n->assigned_id) {
            memcpy(buf + got, f.data, len);
            got += len;
        } else if (id == CAN_ID_ADMIN) {
            admin(n, &f);
        } else if (n->assigned_id && id == n->assigned_id + 1) {
            /* Someone else answers on our id. */
            n->assigned_id = 0;
            n->id_conflict = true;
        }
    }
    return got;
}

ssize_t cannode_write(struct can_node *n, const uint8_t *data, size_t len)
{
    if (n->fd < 0 || !n->online || !n->assigned_id)
        return (ssize_t)len; /* canserial drops output without a node id */
    for (size_t off = 0; off < len; off += CAN_MAX_DLEN) {
        size_t now = len - off < CAN_MAX_DLEN ? len - off : CAN_MAX_DLEN;
        send_frame(n, n->assigned_id + 1, data + off, (uint8_t)now);
    }
    return (ssize_t)len;
}
