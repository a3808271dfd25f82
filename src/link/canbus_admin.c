/* Klipper's canbus admin protocol: finding nodes and giving them ids. */
#include "link/canbus.h"

#include <stdio.h>
#include <string.h>

#include "link/canbus_priv.h"
#include "util/clock.h"

#define ADMIN_SEND_MS 1000

static int admin_send(struct canbus *bus, uint8_t cmd, const uint8_t *uuid, int nodeid, struct mf_err *err)
{
    uint8_t data[8] = { cmd };
    size_t len = 1;
    if (uuid) {
        memcpy(data + 1, uuid, CANBUS_UUID_LEN);
        len += CANBUS_UUID_LEN;
    }
    if (nodeid >= 0)
        data[len++] = (uint8_t)nodeid;
    return canbus_send_bytes(bus, CANBUS_ADMIN_ID, data, len, err);
}

static bool known(const struct canbus_node_info *nodes, size_t n, const uint8_t *uuid)
{
    for (size_t i = 0; i < n; i++)
        if (!memcmp(nodes[i].uuid, uuid, CANBUS_UUID_LEN))
            return true;
    return false;
}

int canbus_query_unassigned(struct canbus *bus, int window_ms, struct canbus_node_info *nodes, size_t cap,
                            struct mf_err *err)
{
    bus->admin_len = 0; /* answers to anything earlier */
    if (admin_send(bus, CANBUS_QUERY_UNASSIGNED, NULL, -1, err) < 0)
        return -1;
    uint64_t until = mf_now_us() + (uint64_t)window_ms * 1000;
    size_t found = 0;
    for (;;) {
        for (size_t i = 0; i < bus->admin_len; i++) {
            const struct can_msg *m = &bus->admin[i];
            if (m->len < 1 + CANBUS_UUID_LEN || m->data[0] != CANBUS_RESP_NEED_NODEID ||
                known(nodes, found, m->data + 1) || found == cap)
                continue;
            memcpy(nodes[found].uuid, m->data + 1, CANBUS_UUID_LEN);
            uint8_t app = m->len > 1 + CANBUS_UUID_LEN ? m->data[1 + CANBUS_UUID_LEN] : 0;
            nodes[found].app = (app == CANBUS_APP_KLIPPER || app == CANBUS_APP_KATAPULT) ? (enum canbus_app)app
                                                                                          : CANBUS_APP_UNKNOWN;
            found++;
        }
        bus->admin_len = 0;
        uint64_t now = mf_now_us();
        if (now >= until)
            return (int)found;
        if (canbus_pump(bus, (int)((until - now + 999) / 1000)) < 0)
            return mf_fail(err, MF_E_DEVICE, "The CAN bus %s went away.", bus->name);
    }
}

int canbus_find_node(struct canbus *bus, const uint8_t uuid[CANBUS_UUID_LEN], int window_ms,
                     enum canbus_app *app, struct mf_err *err)
{
    struct canbus_node_info nodes[32];
    int n = canbus_query_unassigned(bus, window_ms, nodes, 32, err);
    for (int i = 0; i < n; i++) {
        if (!memcmp(nodes[i].uuid, uuid, CANBUS_UUID_LEN)) {
            if (app)
                *app = nodes[i].app;
            return 0;
        }
    }
    if (n < 0)
        return -1;
    char hex[2 * CANBUS_UUID_LEN + 1];
    canbus_uuid_format(uuid, hex);
    return mf_fail(err, MF_E_DEVICE, "No node with UUID %s answered on CAN bus %s within %d ms (%d other%s did).",
                   hex, bus->name, window_ms, n, n == 1 ? "" : "s");
}

int canbus_set_nodeid(struct canbus *bus, enum canbus_app app, const uint8_t uuid[CANBUS_UUID_LEN],
                      uint8_t nodeid, struct mf_err *err)
{
    uint8_t cmd = app == CANBUS_APP_KATAPULT ? CANBUS_KATAPULT_SET_NODEID : CANBUS_KLIPPER_SET_NODEID;
    return admin_send(bus, cmd, uuid, nodeid, err);
}

int canbus_katapult_clear_nodeids(struct canbus *bus, struct mf_err *err)
{
    return admin_send(bus, CANBUS_KATAPULT_CLEAR_NODEID, NULL, -1, err);
}

int canbus_request_bootloader(struct canbus *bus, const uint8_t uuid[CANBUS_UUID_LEN], struct mf_err *err)
{
    return admin_send(bus, CANBUS_REQUEST_BOOTLOADER, uuid, -1, err);
}
