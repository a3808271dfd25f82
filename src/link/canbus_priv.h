/* Inside the CAN bus: the open bus, and the node transports it feeds. */
#ifndef MF_LINK_CANBUS_PRIV_H
#define MF_LINK_CANBUS_PRIV_H

#include "link/canbus.h"

#define CANBUS_ADMIN_QUEUE 64

struct canbus_node {
    struct transport base;
    struct canbus *bus;
    uint32_t tx_id, rx_id;
    uint8_t rx[4096];
    size_t rxlen;
    uint64_t overflow; /* bytes dropped because the reader fell behind */
    struct canbus_node *next;
};

struct canbus {
    int fd;
    char name[128];
    uint32_t bitrate;
    bool gone;                    /* the bus socket closed or failed */
    struct canbus_node *nodes;    /* open node transports, fed by canbus_pump */
    struct can_msg admin[CANBUS_ADMIN_QUEUE]; /* admin replies not yet taken */
    size_t admin_len;
};

/* Read every frame waiting (waiting up to timeout_ms for the first) and
 * route it: to its node transport, to the admin queue, or away.  Returns
 * the number of frames read, or -1 once the bus is gone. */
int canbus_pump(struct canbus *bus, int timeout_ms);

/* Wait until frames are waiting to be read (TRANSPORT_READABLE) or, with
 * want_write, the socket has room (TRANSPORT_WRITABLE); 0 on timeout. */
int canbus_poll(struct canbus *bus, bool want_write, int timeout_ms);

/* Send one frame without waiting: 1 sent, 0 no room now, -1 bus gone. */
int canbus_try_send(struct canbus *bus, const struct can_msg *m);

#endif
