/* The board's link: a pty or a CAN node. */
#include "port.h"

#include <termios.h>

void port_init(struct sim_port *p, const struct sim_options *o)
{
    p->kind = o->link;
    pty_link_init(&p->pty, o->link == SIM_LINK_CAN || !o->path ? "" : o->path); /* a CAN node has no device file */
    cannode_init(&p->can, o->can_bus ? o->can_bus : "", o->can_uuid);
}

int port_up(struct sim_port *p, struct mf_err *err)
{
    if (p->kind != SIM_LINK_CAN)
        return pty_link_up(&p->pty, err);
    if (cannode_join(&p->can, err) < 0)
        return -1;
    p->can.online = true;
    return 0;
}

void port_down(struct sim_port *p)
{
    if (p->kind != SIM_LINK_CAN)
        pty_link_down(&p->pty);
    else
        cannode_set_online(&p->can, false, p->can.app);
}

void port_close(struct sim_port *p)
{
    if (p->kind != SIM_LINK_CAN)
        pty_link_down(&p->pty);
    else
        cannode_leave(&p->can);
}

bool port_is_up(const struct sim_port *p)
{
    return p->kind != SIM_LINK_CAN ? pty_link_is_up(&p->pty) : p->can.fd >= 0 && p->can.online;
}

int port_fd(const struct sim_port *p)
{
    return p->kind != SIM_LINK_CAN ? p->pty.master : p->can.fd;
}

ssize_t port_read(struct sim_port *p, void *buf, size_t cap)
{
    if (p->kind != SIM_LINK_CAN)
        return pty_link_read(&p->pty, buf, cap);
    return (ssize_t)cannode_read(&p->can, buf, cap);
}

ssize_t port_write(struct sim_port *p, const void *buf, size_t len)
{
    if (p->kind != SIM_LINK_CAN)
        return pty_link_write(&p->pty, buf, len);
    return cannode_write(&p->can, buf, len);
}

bool port_touched_1200(const struct sim_port *p)
{
    struct termios t;
    return p->kind == SIM_LINK_USB && p->pty.slave >= 0 && tcgetattr(p->pty.slave, &t) == 0 &&
           cfgetospeed(&t) == B1200;
}
