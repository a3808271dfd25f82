#include "method/connect.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "method/flash.h"

/* A board reset a moment ago (by this tool or Klipper) is still
 * re-enumerating: give a missing device this long to appear. */
#define APPEAR_GRACE_MS 2000

int mf_connect(const char *path, uint32_t baud, struct mf_conn *conn, struct mf_err *err)
{
    memset(conn, 0, sizeof(*conn));
    struct mf_err ignore;
    if (access(path, F_OK) < 0)
        link_wait_present(path, APPEAR_GRACE_MS, &ignore);
    if (link_open(path, baud, &conn->link, err) < 0)
        return -1;
    if (transport_over_link(conn->link, &conn->transport, err) < 0 ||
        kl_session_open(conn->transport, &conn->session, err) < 0) {
        transport_close(conn->transport);
        link_close(conn->link);
        memset(conn, 0, sizeof(*conn));
        return -1;
    }
    return 0;
}

void mf_disconnect(struct mf_conn *conn)
{
    kl_session_close(conn->session);
    transport_close(conn->transport);
    link_close(conn->link);
    memset(conn, 0, sizeof(*conn));
}

int mf_target_connect(const struct mf_target *t, struct mf_conn *conn, struct mf_err *err)
{
    return mf_connect(t->device, t->baud, conn, err);
}

const char *mf_target_name(const struct mf_target *t, char *buf, size_t cap)
{
    if (t->can_uuid)
        snprintf(buf, cap, "CAN node %s on %s", t->can_uuid, t->can_iface);
    else
        snprintf(buf, cap, "%s", t->device);
    return buf;
}
