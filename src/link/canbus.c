/* Opening a CAN bus, and frames in and out.
 *
 * SocketCAN raw sockets and the virtual bus both carry one Linux
 * `struct can_frame` per read and write, so past the open they are the same.
 */
#include "link/canbus.h"

#include <errno.h>
#include <linux/can.h>
#include <linux/can/raw.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "link/canbus_priv.h"
#include "util/clock.h"

#define SIM_PREFIX "sim:"
#define SIM_HELLO "mcuflash-sim canbus bitrate="
#define SIM_HELLO_WAIT_MS 2000

static int new_bus(int fd, const char *name, struct canbus **out, struct mf_err *err)
{
    struct canbus *bus = calloc(1, sizeof(*bus));
    if (!bus) {
        close(fd);
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    }
    bus->fd = fd;
    snprintf(bus->name, sizeof(bus->name), "%s", name);
    *out = bus;
    return 0;
}

int canbus_open_sim_fd(int fd, const char *name, struct canbus **out, struct mf_err *err)
{
    char hello[128];
    struct pollfd p = { fd, POLLIN, 0 };
    ssize_t n = -1;
    if (poll(&p, 1, SIM_HELLO_WAIT_MS) > 0)
        n = recv(fd, hello, sizeof(hello) - 1, MSG_DONTWAIT);
    if (n <= 0 || n == (ssize_t)sizeof(struct can_frame) || strncmp(hello, SIM_HELLO, strlen(SIM_HELLO))) {
        close(fd);
        return mf_fail(err, MF_E_DEVICE, "The virtual CAN bus %s did not greet as mcuflash-sim's bus does.", name);
    }
    hello[n] = '\0';
    struct canbus *bus = NULL;
    if (new_bus(fd, name, &bus, err) < 0)
        return -1;
    bus->bitrate = (uint32_t)strtoul(hello + strlen(SIM_HELLO), NULL, 10);
    *out = bus;
    return 0;
}

static int open_sim(const char *name, struct canbus **out, struct mf_err *err)
{
    const char *path = name + strlen(SIM_PREFIX);
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!*path || strlen(path) >= sizeof(sa.sun_path))
        return mf_fail(err, MF_E_USAGE, "'%s' is not a usable virtual CAN bus path.", name);
    strcpy(sa.sun_path, path);
    struct stat st;
    if (stat(path, &st) < 0)
        return mf_fail(err, MF_E_DEVICE, "There is no virtual CAN bus at %s (no such file); nothing was sent.", path);
    if (!S_ISSOCK(st.st_mode))
        return mf_fail(err, MF_E_DEVICE, "%s is a %s, not a virtual CAN bus; nothing was sent.", path,
                       S_ISDIR(st.st_mode) ? "folder" : "file");
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return mf_fail(err, MF_E_FAIL, "Cannot create a socket: %s.", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        if (e == ECONNREFUSED || e == ENOTSOCK)
            return mf_fail(err, MF_E_DEVICE, "Nothing serves the virtual CAN bus at %s (a stale socket file); "
                           "nothing was sent.", path);
        return mf_fail(err, MF_E_DEVICE, "Cannot connect to the virtual CAN bus at %s: %s.", path, strerror(e));
    }
    return canbus_open_sim_fd(fd, name, out, err);
}

static int open_socketcan(const char *iface, struct canbus **out, struct mf_err *err)
{
    uint32_t bitrate = 0;
    enum canbus_state state = CANBUS_STATE_UNKNOWN;
    canbus_link_query(iface, &bitrate, &state);
    if (canbus_check_interface("/", iface, state, err) < 0)
        return mf_fact(err, MF_FACT_CAN_IFACE);
    int fd = socket(PF_CAN, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, CAN_RAW);
    if (fd < 0)
        return mf_fail(err, MF_E_DEVICE, "Cannot open a CAN socket (%s); the kernel may lack SocketCAN.",
                       strerror(errno));
    struct sockaddr_can sa = { .can_family = AF_CAN, .can_ifindex = (int)if_nametoindex(iface) };
    if (!sa.can_ifindex || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return mf_fail(err, MF_E_DEVICE, "Cannot bind to CAN interface %s: %s.", iface, strerror(e));
    }
    struct canbus *bus = NULL;
    if (new_bus(fd, iface, &bus, err) < 0)
        return -1;
    bus->bitrate = bitrate;
    *out = bus;
    return 0;
}

int canbus_open(const char *name, struct canbus **out, struct mf_err *err)
{
    if (!strncmp(name, SIM_PREFIX, strlen(SIM_PREFIX)))
        return open_sim(name, out, err);
    return open_socketcan(name, out, err);
}

void canbus_close(struct canbus *bus)
{
    if (!bus)
        return;
    close(bus->fd);
    free(bus);
}

const char *canbus_name(const struct canbus *bus)
{
    return bus->name;
}

uint32_t canbus_bitrate(const struct canbus *bus)
{
    return bus->bitrate;
}

/* ---- frames ----------------------------------------------------------- */

static void route(struct canbus *bus, const struct can_msg *m)
{
    for (struct canbus_node *n = bus->nodes; n; n = n->next) {
        if (n->rx_id != m->id)
            continue;
        if (n->rxlen + m->len > sizeof(n->rx)) {
            n->overflow += m->len;
            return;
        }
        memcpy(n->rx + n->rxlen, m->data, m->len);
        n->rxlen += m->len;
        return;
    }
    if (m->id == CANBUS_ADMIN_REPLY_ID && bus->admin_len < CANBUS_ADMIN_QUEUE)
        bus->admin[bus->admin_len++] = *m;
}

int canbus_poll(struct canbus *bus, bool want_write, int timeout_ms)
{
    struct pollfd p = { bus->fd, POLLIN | (want_write ? POLLOUT : 0), 0 };
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    /* A hangup or error is readable: the read that follows finds it. */
    return (p.revents & (POLLIN | POLLHUP | POLLERR) ? TRANSPORT_READABLE : 0) |
           (p.revents & POLLOUT ? TRANSPORT_WRITABLE : 0);
}

int canbus_pump(struct canbus *bus, int timeout_ms)
{
    if (bus->gone)
        return -1;
    if (!canbus_poll(bus, false, timeout_ms))
        return 0;
    int count = 0;
    for (;;) {
        struct can_frame f;
        ssize_t n = recv(bus->fd, &f, sizeof(f), MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
            return count;
        if (n <= 0) {
            bus->gone = true; /* the virtual bus ended, or the interface went away */
            return count ? count : -1;
        }
        if (n != sizeof(f) || (f.can_id & (CAN_EFF_FLAG | CAN_RTR_FLAG | CAN_ERR_FLAG)) || f.len > 8)
            continue;
        struct can_msg m = { .id = f.can_id & CAN_SFF_MASK, .len = f.len };
        memcpy(m.data, f.data, m.len);
        route(bus, &m);
        count++;
    }
}

int canbus_try_send(struct canbus *bus, const struct can_msg *m)
{
    if (bus->gone)
        return -1;
    struct can_frame f;
    memset(&f, 0, sizeof(f));
    f.can_id = m->id & CAN_SFF_MASK;
    f.len = m->len;
    memcpy(f.data, m->data, m->len);
    for (;;) {
        ssize_t n = send(bus->fd, &f, sizeof(f), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == (ssize_t)sizeof(f))
            return 1;
        if (n < 0 && errno == EINTR)
            continue;
        /* A full SocketCAN queue answers ENOBUFS rather than blocking,
         * and poll cannot tell when it has room again: pace the caller. */
        if (n < 0 && errno == ENOBUFS)
            mf_sleep_us(1000);
        if (n < 0 && (errno == EAGAIN || errno == ENOBUFS))
            return 0;
        bus->gone = true;
        return -1;
    }
}

int canbus_send(struct canbus *bus, const struct can_msg *m, int timeout_ms, struct mf_err *err)
{
    uint64_t until = mf_now_us() + (uint64_t)timeout_ms * 1000;
    for (;;) {
        int rc = canbus_try_send(bus, m);
        if (rc > 0)
            return 0;
        if (rc < 0)
            return mf_fail(err, MF_E_DEVICE, "The CAN bus %s went away.", bus->name);
        uint64_t now = mf_now_us();
        if (now >= until)
            return mf_fail(err, MF_E_DEVICE, "The CAN bus %s took no frame for %d ms (nothing acknowledges "
                           "frames, or the bus is flooded).", bus->name, timeout_ms);
        if (canbus_poll(bus, true, (int)((until - now + 999) / 1000)) & TRANSPORT_READABLE)
            canbus_pump(bus, 0); /* keep replies flowing while we wait */
    }
}

int canbus_send_bytes(struct canbus *bus, uint32_t id, const uint8_t *data, size_t len, struct mf_err *err)
{
    do {
        struct can_msg m = { .id = id, .len = (uint8_t)(len < 8 ? len : 8) };
        memcpy(m.data, data, m.len);
        if (canbus_send(bus, &m, 1000, err) < 0)
            return -1;
        data += m.len;
        len -= m.len;
    } while (len);
    return 0;
}
