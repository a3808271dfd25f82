/* Opening a board: the port (locked) and a Klipper session on it. */
#ifndef MF_METHOD_CONNECT_H
#define MF_METHOD_CONNECT_H

#include <stdint.h>

#include "klipper/session.h"
#include "link/link.h"

#define MF_DEFAULT_BAUD 250000u

struct mf_conn {
    struct link *link;
    struct transport *transport; /* over link */
    struct kl_session *session;
};

int mf_connect(const char *path, uint32_t baud, struct mf_conn *conn, struct mf_err *err);
void mf_disconnect(struct mf_conn *conn);

#endif
