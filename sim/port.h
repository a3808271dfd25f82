/* The board's end of its link to the host: a pseudo-terminal (USB or UART
 * boards), a node on a virtual CAN bus, or a USB to CAN bridge (its own
 * node behind the host's interface while Klipper runs, the pty of
 * Katapult's USB serial port while Katapult does).  The board moves bytes
 * through it without caring which. */
#ifndef SIM_PORT_H
#define SIM_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cannode.h"
#include "options.h"
#include "ptylink.h"
#include "usbcan.h"

struct sim_port {
    enum sim_link_kind kind;
    struct pty_link pty;     /* usb, uart */
    struct can_node can;     /* can, usb-can */
    struct usbcan bridge;    /* usb-can */
    bool bridge_serial;      /* usb-can: on Katapult's serial port now */
};

void port_init(struct sim_port *p, const struct sim_options *o);
/* A USB to CAN bridge: whether its next port_up brings up Katapult's USB
 * serial port (true) or the host's CAN interface; other links ignore it. */
void port_use_serial(struct sim_port *p, bool serial);
/* The board's stream runs over a CAN node (CAN boards, a bridge's Klipper). */
bool port_has_node(const struct sim_port *p);
/* The device appears (pty and symlink) or the node comes on the bus. */
int port_up(struct sim_port *p, struct mf_err *err);
/* The device disappears (USB) or the node goes off the bus. */
void port_down(struct sim_port *p);
/* Stop for good (leave the bus too). */
void port_close(struct sim_port *p);
bool port_is_up(const struct sim_port *p);
/* What to poll for input (-1: nothing). */
int port_fd(const struct sim_port *p);
/* A bridge's router descriptors to poll as well, and its frames moved. */
size_t port_extra_pollfds(const struct sim_port *p, struct pollfd *pfd, size_t cap);
void port_route(struct sim_port *p);
ssize_t port_read(struct sim_port *p, void *buf, size_t cap);
ssize_t port_write(struct sim_port *p, const void *buf, size_t len);

/* The host set the pty's line to 1200 baud (the "1200-baud touch"); the
 * sim holds the slave open, so the setting stays visible after the host
 * closes the port. */
bool port_touched_1200(const struct sim_port *p);

#endif
