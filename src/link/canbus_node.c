/* One node's byte stream on a CAN bus, as a transport. */
#include "link/canbus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "link/canbus_priv.h"
#include "util/clock.h"

static struct canbus_node *node_of(struct transport *t)
{
    return (struct canbus_node *)t;
}

static ssize_t node_read(struct transport *t, void *buf, size_t cap)
{
    struct canbus_node *n = node_of(t);
    if (!n->rxlen && canbus_pump(n->bus, 0) < 0)
        return -1;
    size_t len = n->rxlen < cap ? n->rxlen : cap;
    memcpy(buf, n->rx, len);
    memmove(n->rx, n->rx + len, n->rxlen - len);
    n->rxlen -= len;
    return (ssize_t)len;
}

/* Whole frames only: a byte counted as written has left in a frame. */
static ssize_t node_write(struct transport *t, const void *buf, size_t len)
{
    struct canbus_node *n = node_of(t);
    const uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        struct can_msg m = { .id = n->tx_id, .len = (uint8_t)(len - done < 8 ? len - done : 8) };
        memcpy(m.data, p + done, m.len);
        int rc = canbus_try_send(n->bus, &m);
        if (rc < 0)
            return done ? (ssize_t)done : -1;
        if (rc == 0)
            break;
        done += m.len;
    }
    return (ssize_t)done;
}

static int node_wait(struct transport *t, int events, int timeout_ms)
{
    struct canbus_node *n = node_of(t);
    uint64_t until = mf_now_us() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms) * 1000;
    for (;;) {
        if (n->bus->gone || ((events & TRANSPORT_READABLE) && n->rxlen))
            return TRANSPORT_READABLE; /* a read returns the data or reports the loss */
        uint64_t now = mf_now_us();
        int wait_ms = now < until ? (int)((until - now + 999) / 1000) : 0;
        int ready = canbus_poll(n->bus, events & TRANSPORT_WRITABLE, wait_ms);
        if (ready & TRANSPORT_READABLE)
            canbus_pump(n->bus, 0); /* frames for any node: route them, then look again */
        if (ready & TRANSPORT_WRITABLE)
            return TRANSPORT_WRITABLE | ((events & TRANSPORT_READABLE) && n->rxlen ? TRANSPORT_READABLE : 0);
        if (!ready && mf_now_us() >= until)
            return 0;
    }
}

static void node_discard_input(struct transport *t)
{
    struct canbus_node *n = node_of(t);
    canbus_pump(n->bus, 0);
    n->rxlen = 0;
}

static void node_drain(struct transport *t)
{
}

static void node_close(struct transport *t)
{
    struct canbus_node *n = node_of(t);
    for (struct canbus_node **pp = &n->bus->nodes; *pp; pp = &(*pp)->next) {
        if (*pp == n) {
            *pp = n->next;
            break;
        }
    }
    free(n);
}

static const struct transport_ops node_ops = {
    .read = node_read,
    .write = node_write,
    .wait = node_wait,
    .discard_input = node_discard_input,
    .drain = node_drain,
    .close = node_close,
};

int canbus_node_open(struct canbus *bus, uint8_t nodeid, struct transport **out, struct mf_err *err)
{
    uint32_t tx = CANBUS_NODE_BASE + 2u * nodeid; /* at most 0x2fe: below the admin ids */
    struct canbus_node *n = calloc(1, sizeof(*n));
    if (!n)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    n->base.ops = &node_ops;
    n->base.medium = TRANSPORT_MEDIUM_CAN;
    snprintf(n->base.name, sizeof(n->base.name), "%s node %u", bus->name, nodeid);
    n->bus = bus;
    n->tx_id = tx;
    n->rx_id = tx + 1;
    n->next = bus->nodes;
    bus->nodes = n;
    *out = &n->base;
    return 0;
}
