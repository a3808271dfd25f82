/* Opening a board: the port (locked) and a Klipper session on it. */
#ifndef MF_METHOD_CONNECT_H
#define MF_METHOD_CONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "klipper/session.h"
#include "link/canbus.h"
#include "link/link.h"

#define MF_DEFAULT_BAUD 250000u

struct mf_conn {
    struct link *link;           /* a serial device; or */
    struct canbus *bus;          /* a CAN node on this bus */
    struct transport *transport; /* over link, or the node's frames */
    struct kl_session *session;
};

int mf_connect(const char *path, uint32_t baud, struct mf_conn *conn, struct mf_err *err);
void mf_disconnect(struct mf_conn *conn);

struct mf_target;
/* Connect to a target (a serial device or a CAN node) as it is now. */
int mf_target_connect(const struct mf_target *t, struct mf_conn *conn, struct mf_err *err);
/* "/dev/ttyACM0" or "CAN node 0123456789ab on can0", for messages. */
const char *mf_target_name(const struct mf_target *t, char *buf, size_t cap);

#endif
