/* The board's link: a pty, a CAN node, or a USB to CAN bridge. */
#include "port.h"

#include <termios.h>

void port_init(struct sim_port *p, const struct sim_options *o)
{
    p->kind = o->link;
    pty_link_init(&p->pty, o->link == SIM_LINK_CAN || !o->path ? "" : o->path); /* a CAN node has no device file */
    cannode_init(&p->can, o->can_bus ? o->can_bus : "", o->can_uuid);
    if (o->link == SIM_LINK_USBCAN)
        usbcan_init(&p->bridge, o->can_bus, o->host_interface, o->can_uuid);
}

/* The board's stream runs over its CAN node (not a pty). */
static bool on_can(const struct sim_port *p)
{
    return p->kind == SIM_LINK_CAN || (p->kind == SIM_LINK_USBCAN && !p->bridge_serial);
}

void port_use_serial(struct sim_port *p, bool serial)
{
    if (p->kind == SIM_LINK_USBCAN && p->bridge_serial != serial)
        port_down(p);
    p->bridge_serial = serial;
}

bool port_has_node(const struct sim_port *p)
{
    return on_can(p);
}

int port_up(struct sim_port *p, struct mf_err *err)
{
    if (!on_can(p))
        return pty_link_up(&p->pty, err);
    if (p->kind == SIM_LINK_USBCAN) {
        if (usbcan_up(&p->bridge, &p->can, err) < 0)
            return -1;
    } else if (cannode_join(&p->can, err) < 0) {
        return -1;
    }
    p->can.online = true;
    return 0;
}

void port_down(struct sim_port *p)
{
    if (p->kind == SIM_LINK_USBCAN) {
        /* Off USB: Katapult's serial port and the host's CAN interface alike. */
        pty_link_down(&p->pty);
        usbcan_down(&p->bridge, &p->can);
    } else if (p->kind != SIM_LINK_CAN) {
        pty_link_down(&p->pty);
    } else {
        cannode_set_online(&p->can, false, p->can.app);
    }
}

void port_close(struct sim_port *p)
{
    if (p->kind == SIM_LINK_USBCAN)
        port_down(p);
    else if (p->kind != SIM_LINK_CAN)
        pty_link_down(&p->pty);
    else
        cannode_leave(&p->can);
}

bool port_is_up(const struct sim_port *p)
{
    if (!on_can(p))
        return pty_link_is_up(&p->pty);
    return p->can.fd >= 0 && p->can.online && (p->kind != SIM_LINK_USBCAN || usbcan_is_up(&p->bridge));
}

int port_fd(const struct sim_port *p)
{
    return !on_can(p) ? p->pty.master : p->can.fd;
}

size_t port_extra_pollfds(const struct sim_port *p, struct pollfd *pfd, size_t cap)
{
    return p->kind == SIM_LINK_USBCAN ? usbcan_pollfds(&p->bridge, pfd, cap) : 0;
}

void port_route(struct sim_port *p)
{
    if (p->kind == SIM_LINK_USBCAN)
        usbcan_route(&p->bridge, &p->can);
}

ssize_t port_read(struct sim_port *p, void *buf, size_t cap)
{
    if (!on_can(p))
        return pty_link_read(&p->pty, buf, cap);
    return (ssize_t)cannode_read(&p->can, buf, cap);
}

ssize_t port_write(struct sim_port *p, const void *buf, size_t len)
{
    if (!on_can(p))
        return pty_link_write(&p->pty, buf, len);
    return cannode_write(&p->can, buf, len);
}

bool port_touched_1200(const struct sim_port *p)
{
    struct termios t;
    return p->kind == SIM_LINK_USB && p->pty.slave >= 0 && tcgetattr(p->pty.slave, &t) == 0 &&
           cfgetospeed(&t) == B1200;
}
