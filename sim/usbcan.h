/* A Klipper "USB to CAN bus bridge" (Klipper's src/generic/usb_canbus.c):
 * the board is a node on a CAN bus, and over USB it is the host's
 * interface to that bus.  Here the bus is a `mcuflash-sim canbus` socket
 * the bridge joins, and the host's interface is a socket of the same kind
 * the bridge serves (mcuflash opens it as sim:PATH), present only while
 * the bridge's Klipper runs, as can0 is on a real host.
 *
 * The router moves frames as the firmware does: from the host, admin
 * frames go onto the bus and to the bridge's own node, frames for the
 * node's id to the node only, the rest onto the bus; everything the bus
 * carries goes to the host except the node's own ids; the node's replies
 * go to the host only.  Frames one host socket sends reach the others, as
 * SocketCAN's loopback does.
 */
#ifndef SIM_USBCAN_H
#define SIM_USBCAN_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cannode.h"

#define USBCAN_HOSTS_MAX 16

struct usbcan {
    char bus[108];          /* the CAN bus the bridge sits on */
    char iface[108];        /* the host's interface it serves */
    struct can_node wire;   /* its connection to the bus (frames pass raw) */
    int listen_fd;
    int hosts[USBCAN_HOSTS_MAX];
    int local_fd;           /* the router's end of the pair to the bridge's own node */
    uint64_t to_host, to_bus, to_local;
};

void usbcan_init(struct usbcan *b, const char *bus, const char *iface, const uint8_t uuid[CAN_UUID_LEN]);
/* Join the bus, attach the bridge's own node, and open the host's
 * interface; MF_E_DEVICE if the bus is not there. */
int usbcan_up(struct usbcan *b, struct can_node *node, struct mf_err *err);
/* The host's interface goes away (its socket file too), the bridge leaves
 * the bus and its node is detached. */
void usbcan_down(struct usbcan *b, struct can_node *node);
bool usbcan_is_up(const struct usbcan *b);
/* The router's descriptors to poll (the node's own fd is not among them). */
size_t usbcan_pollfds(const struct usbcan *b, struct pollfd *pfd, size_t cap);
/* New host sockets, and every frame waiting, moved where it goes. */
void usbcan_route(struct usbcan *b, const struct can_node *node);

#endif
