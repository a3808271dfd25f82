#include "method/identify.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "katapult/client.h"
#include "klipper/mcu.h"
#include "link/usbport.h"
#include "method/connect.h"
#include "method/usbids.h"

const char *mf_board_state_name(enum mf_board_state s)
{
    switch (s) {
    case MF_BOARD_KLIPPER: return "klipper";
    case MF_BOARD_KATAPULT: return "katapult";
    case MF_BOARD_UNREACHABLE: return "unreachable";
    }
    return "unknown";
}

bool mf_usb_bridge_uuid(const struct usb_port_info *info, uint8_t uuid[CANBUS_UUID_LEN])
{
    bool ids = info->vid == USB_VID_KLIPPER && (info->pid == USB_PID_KLIPPER_BRIDGE || (info->pid == USB_PID_KATAPULT && info->tty[0]));
    return ids && canbus_uuid_from_usb_serial(info->serial, uuid) == 0;
}

static bool is_bridge_for(const struct usb_port_info *info, void *ctx)
{
    uint8_t uuid[CANBUS_UUID_LEN];
    return mf_usb_bridge_uuid(info, uuid) && !memcmp(uuid, ctx, sizeof(uuid));
}

enum mf_bridge mf_can_bridge(const uint8_t uuid[CANBUS_UUID_LEN], struct usb_port_info *info)
{
    struct usb_port_info found;
    uint8_t want[CANBUS_UUID_LEN];
    memcpy(want, uuid, sizeof(want));
    if (usbport_find("/", is_bridge_for, want, &found) != 1)
        return MF_BRIDGE_NONE;
    if (info)
        *info = found;
    return found.pid == USB_PID_KLIPPER_BRIDGE ? MF_BRIDGE_KLIPPER : MF_BRIDGE_KATAPULT;
}

static void from_session(struct mf_conn *conn, struct mf_identity *id)
{
    const struct kl_dict *d = kl_session_dict(conn->session);
    struct kl_mcu_config cfg;
    struct mf_err ignore;
    id->state = MF_BOARD_KLIPPER;
    snprintf(id->mcu, sizeof(id->mcu), "%s", kl_dict_const(d, "MCU") ? kl_dict_const(d, "MCU") : "");
    snprintf(id->version, sizeof(id->version), "%s", d->version ? d->version : "");
    if (kl_mcu_get_config(conn->session, &cfg, &ignore) == 0) {
        id->configured = cfg.is_config;
        id->shutdown = cfg.is_shutdown;
    }
}

/* A serial port where Klipper did not answer: is Katapult there?  Two
 * short CONNECT tries; CONNECT changes nothing on the board. */
static bool katapult_on_serial(const struct mf_target *t, struct mf_identity *id)
{
    struct link *l = NULL;
    struct transport *tr = NULL;
    struct kp_client *c = NULL;
    struct kp_info info;
    struct mf_err err;
    bool found = false;
    if (link_open(t->device, t->baud, &l, &err) == 0 && transport_over_link(l, &tr, &err) == 0 &&
        kp_client_new(tr, &c, &err) == 0) {
        struct kp_limits *lim = kp_client_limits(c);
        lim->tries = 2;
        lim->reply_ms = 300;
        kp_prime(c, &err);
        found = kp_connect(c, &info, &err) == 0;
    }
    if (found) {
        id->state = MF_BOARD_KATAPULT;
        snprintf(id->mcu, sizeof(id->mcu), "%s", info.mcu);
        snprintf(id->version, sizeof(id->version), "%s", info.version);
    }
    kp_client_free(c);
    transport_close(tr);
    link_close(l);
    return found;
}

/* Node ids for identifying CAN nodes: each node asked gets its own (a
 * node keeps its id until it restarts), away from the one a flash uses
 * (method/connect.c) and below Katapult's 128. */
#define IDENTIFY_NODEID_FIRST 80
#define IDENTIFY_NODEID_COUNT 40
#define CAN_QUERY_WINDOW_MS 500

static uint8_t next_nodeid(void)
{
    static unsigned used;
    return (uint8_t)(IDENTIFY_NODEID_FIRST + used++ % IDENTIFY_NODEID_COUNT);
}

/* A CAN node answers the unassigned query with the application it runs;
 * a Klipper node is then given a node id and asked for its dictionary. */
static void identify_can(const struct mf_target *t, bool take, struct mf_identity *id)
{
    uint8_t uuid[CANBUS_UUID_LEN];
    enum canbus_app app = CANBUS_APP_UNKNOWN;
    struct mf_conn conn = { 0 };
    struct mf_err err = { 0 };
    if (canbus_uuid_parse(t->can_uuid, uuid) < 0) {
        snprintf(id->why, sizeof(id->why), "'%s' is not a CAN UUID (12 hex digits).", t->can_uuid);
        return;
    }
    struct usb_port_info port;
    enum mf_bridge bridge = mf_can_bridge(uuid, &port);
    id->bridge = bridge != MF_BRIDGE_NONE;
    if (id->bridge)
        snprintf(id->bridge_port, sizeof(id->bridge_port), "%s", port.port);
    if (bridge == MF_BRIDGE_KATAPULT) {
        /* The bridge's interface went with it; Katapult is on its USB port. */
        struct mf_target serial = { .device = port.tty, .baud = t->baud };
        snprintf(id->why, sizeof(id->why), "The USB to CAN bridge on USB port %s does not answer on %s.", port.port,
                 port.tty);
        katapult_on_serial(&serial, id);
        return;
    }
    uint8_t nodeid = next_nodeid();
    if (canbus_open(t->can_iface, &conn.bus, &err) < 0) {
        snprintf(id->why, sizeof(id->why), "%s", err.msg);
        return;
    }
    /* A Klipper node that was given a node id before (by Klipper, or an
     * earlier look) no longer answers the query but still takes a new id
     * for its UUID. */
    bool answered = canbus_find_node(conn.bus, uuid, CAN_QUERY_WINDOW_MS, &app, &err) == 0;
    snprintf(id->why, sizeof(id->why), "%s", err.msg);
    if (answered && app == CANBUS_APP_KATAPULT) {
        id->state = MF_BOARD_KATAPULT;
    } else if (answered || take) {
        struct mf_err err2;
        if (canbus_set_nodeid(conn.bus, CANBUS_APP_KLIPPER, uuid, nodeid, &err2) == 0 &&
            canbus_node_open(conn.bus, nodeid, &conn.transport, &err2) == 0 &&
            kl_session_open(conn.transport, &conn.session, &err2) == 0)
            from_session(&conn, id);
        else if (answered)
            snprintf(id->why, sizeof(id->why), "%s", err2.msg);
    } else {
        snprintf(id->why, sizeof(id->why), "CAN node %s did not answer on %s: it is not on the bus, or it has a "
                 "node id already (Klipper gives its nodes one, and they keep it until they restart); it was left "
                 "alone so as not to cut Klipper off.", t->can_uuid, t->can_iface);
    }
    mf_disconnect(&conn);
}

void mf_identify(const struct mf_target *t, bool take_can_node, struct mf_identity *id)
{
    struct mf_conn conn;
    struct mf_err err = { 0 };
    memset(id, 0, sizeof(*id));
    id->state = MF_BOARD_UNREACHABLE;
    if (t->can_uuid) {
        identify_can(t, take_can_node, id);
        return;
    }
    if (mf_connect(t->device, t->baud, &conn, &err) == 0) {
        from_session(&conn, id);
        mf_disconnect(&conn);
        return;
    }
    snprintf(id->why, sizeof(id->why), "%s", err.msg);
    if (access(t->device, F_OK) == 0)
        katapult_on_serial(t, id);
}
