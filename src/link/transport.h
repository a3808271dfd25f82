/* A transport: a byte stream to one device, whatever carries it.
 *
 * The Klipper session and the Katapult client run over this and never see
 * file descriptors or CAN frames.  Reads and writes never block; a wait
 * blocks until the stream is readable or writable, or the timeout passes.
 *
 * Implementations: a serial port, pty or plain path (transport_over_link,
 * transport_over_fd) and one node on a CAN bus (canbus_node_open).
 */
#ifndef MF_LINK_TRANSPORT_H
#define MF_LINK_TRANSPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

/* transport_wait events (in and out). */
#define TRANSPORT_READABLE 0x1
#define TRANSPORT_WRITABLE 0x2
#define TRANSPORT_BROKEN   0x4 /* out only: the device or bus failed */

struct transport;

/* What carries the bytes, where that is known: a Klipper MCU's transmit
 * buffer is 192 bytes on USB and 96 on a UART (and on CAN in builds before
 * May 2026), which sets how many replies a host may have on their way
 * before the MCU's dictionary says which link it is. */
enum transport_medium {
    TRANSPORT_MEDIUM_UNKNOWN,
    TRANSPORT_MEDIUM_UART,
    TRANSPORT_MEDIUM_USB,
    TRANSPORT_MEDIUM_CAN,
};

struct transport_ops {
    /* Bytes read (> 0), 0 when nothing is waiting, -1 when the device is
     * gone (hung up, unplugged, bus closed). */
    ssize_t (*read)(struct transport *t, void *buf, size_t cap);
    /* Bytes accepted (0 when the device is not taking more now), -1 when
     * the device is gone. */
    ssize_t (*write)(struct transport *t, const void *buf, size_t len);
    /* Events ready out of `events`, or TRANSPORT_BROKEN; 0 on timeout. */
    int (*wait)(struct transport *t, int events, int timeout_ms);
    /* Drop input that arrived before now (stale replies). */
    void (*discard_input)(struct transport *t);
    /* Block until written bytes have left the host (a UART's shift
     * register); a no-op where that cannot be known. */
    void (*drain)(struct transport *t);
    void (*close)(struct transport *t);
};

struct transport {
    const struct transport_ops *ops;
    char name[256]; /* names the device in messages: a path or "can0 node 4" */
    enum transport_medium medium; /* set by whoever knows it */
};

static inline ssize_t transport_read(struct transport *t, void *buf, size_t cap)
{
    return t->ops->read(t, buf, cap);
}

static inline ssize_t transport_write(struct transport *t, const void *buf, size_t len)
{
    return t->ops->write(t, buf, len);
}

static inline int transport_wait(struct transport *t, int events, int timeout_ms)
{
    return t->ops->wait(t, events, timeout_ms);
}

static inline void transport_discard_input(struct transport *t)
{
    t->ops->discard_input(t);
}

static inline void transport_drain(struct transport *t)
{
    t->ops->drain(t);
}

/* Closes the transport (and what it owns); NULL is allowed. */
static inline void transport_close(struct transport *t)
{
    if (t)
        t->ops->close(t);
}

/* A transport over an open, non-blocking file descriptor that stays owned
 * by the caller (closing the transport does not close it).  On a terminal,
 * discard_input and drain are tcflush and tcdrain. */
int transport_over_fd(int fd, const char *name, struct transport **out, struct mf_err *err);

struct link;
/* A transport over an open link, which stays owned by the caller. */
int transport_over_link(struct link *l, struct transport **out, struct mf_err *err);

#endif
