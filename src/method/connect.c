#include "method/connect.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "link/usbport.h"
#include "method/flash.h"
#include "method/usbids.h"

/* A board reset a moment ago (by this tool or Klipper) is still
 * re-enumerating: give a missing device this long to appear. */
#define APPEAR_GRACE_MS 2000
/* Every unassigned node answers a query within this time. */
#define CAN_QUERY_WINDOW_MS 500
/* The node id mcuflash gives a Klipper node: above the ones Klipper's host
 * hands out from 4 upward, below Katapult's tool's 128 and up. */
#define MF_CAN_NODEID 64

/* What the sessions of this run learned of each path's link.  A board
 * reached again (after a reset, to verify) is on the link it was on, and a
 * pty cannot tell which that is. */
#define LEARNED_MAX 16
static struct {
    char path[256];
    enum transport_medium medium;
} learned[LEARNED_MAX];
static unsigned learned_next;

/* The slot that holds path, or LEARNED_MAX. */
static unsigned learned_slot(const char *path)
{
    unsigned i = 0;
    while (i < LEARNED_MAX && !(learned[i].medium && !strcmp(learned[i].path, path)))
        i++;
    return i;
}

static void learn_medium(const char *path, enum transport_medium medium)
{
    if (strlen(path) >= sizeof(learned[0].path))
        return; /* it could not be told from another */
    unsigned i = learned_slot(path);
    if (i == LEARNED_MAX)
        i = learned_next++ % LEARNED_MAX;
    snprintf(learned[i].path, sizeof(learned[i].path), "%s", path);
    learned[i].medium = medium;
}

/* The link behind path, as far as it is known before the session starts:
 * Klipper's own USB serial device, by its ids (a USB adapter in front of a
 * UART has others), or what an earlier session on path learned. */
static enum transport_medium medium_of(const char *path)
{
    struct usb_port_info info;
    if (usbport_identify("/", path, &info) == 0 && info.usb && info.vid == USB_VID_KLIPPER &&
        info.pid == USB_PID_KLIPPER)
        return TRANSPORT_MEDIUM_USB;
    unsigned i = learned_slot(path);
    return i < LEARNED_MAX ? learned[i].medium : TRANSPORT_MEDIUM_UNKNOWN;
}

int mf_connect(const char *path, uint32_t baud, struct mf_conn *conn, struct mf_err *err)
{
    memset(conn, 0, sizeof(*conn));
    struct mf_err ignore;
    if (access(path, F_OK) < 0)
        link_wait_present(path, APPEAR_GRACE_MS, &ignore);
    if (link_open(path, baud, &conn->link, err) < 0)
        return -1;
    int rc = transport_over_link(conn->link, &conn->transport, err);
    if (rc == 0) {
        conn->transport->medium = medium_of(path);
        rc = kl_session_open(conn->transport, &conn->session, err);
    }
    if (rc < 0) {
        transport_close(conn->transport);
        link_close(conn->link);
        memset(conn, 0, sizeof(*conn));
        return -1;
    }
    learn_medium(path, kl_session_medium(conn->session));
    return 0;
}

void mf_disconnect(struct mf_conn *conn)
{
    kl_session_close(conn->session);
    transport_close(conn->transport);
    link_close(conn->link);
    canbus_close(conn->bus);
    memset(conn, 0, sizeof(*conn));
}

/* A Klipper node on a CAN bus: find it among the unassigned nodes, give it
 * a node id and run the session on its frames. */
static int connect_can(const struct mf_target *t, struct mf_conn *conn, struct mf_err *err)
{
    uint8_t uuid[CANBUS_UUID_LEN];
    enum canbus_app app;
    memset(conn, 0, sizeof(*conn));
    if (canbus_uuid_parse(t->can_uuid, uuid) < 0)
        return mf_fail(err, MF_E_USAGE, "'%s' is not a CAN UUID (12 hex digits).", t->can_uuid);
    if (canbus_open(t->can_iface, &conn->bus, err) < 0)
        return -1;
    int rc = canbus_find_node(conn->bus, uuid, CAN_QUERY_WINDOW_MS, &app, err);
    if (rc == 0 && app != CANBUS_APP_KLIPPER)
        rc = mf_fail(err, MF_E_DEVICE, "CAN node %s on %s runs Katapult, not Klipper.", t->can_uuid, t->can_iface);
    if (rc == 0)
        rc = canbus_set_nodeid(conn->bus, CANBUS_APP_KLIPPER, uuid, MF_CAN_NODEID, err);
    if (rc == 0)
        rc = canbus_node_open(conn->bus, MF_CAN_NODEID, &conn->transport, err);
    if (rc == 0)
        rc = kl_session_open(conn->transport, &conn->session, err);
    if (rc < 0)
        mf_disconnect(conn);
    return rc;
}

int mf_target_connect(const struct mf_target *t, struct mf_conn *conn, struct mf_err *err)
{
    if (t->can_uuid)
        return connect_can(t, conn, err);
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
