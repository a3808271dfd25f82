#include "fake_can_node.h"

#include <linux/can.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "can_frames.h"
#include "link/canbus.h"

void fake_can_node_run(int busfd, int devfd, const uint8_t uuid[6], uint8_t app)
{
    int nodeid = -1;
    struct pollfd p[2] = { { busfd, POLLIN, 0 }, { devfd, POLLIN, 0 } };
    for (;;) {
        if (poll(p, 2, -1) < 0)
            _exit(5);
        if (p[0].revents) {
            struct can_frame f;
            if (recv(busfd, &f, sizeof(f), 0) != (ssize_t)sizeof(f))
                _exit(0);
            bool admin = f.can_id == CANBUS_ADMIN_ID && f.len >= 1;
            bool mine = f.len >= 7 && !memcmp(f.data + 1, uuid, 6);
            uint8_t set_nodeid = app == CANBUS_APP_KATAPULT ? CANBUS_KATAPULT_SET_NODEID : CANBUS_KLIPPER_SET_NODEID;
            if (admin && f.data[0] == CANBUS_QUERY_UNASSIGNED && nodeid < 0) {
                uint8_t r[8] = { CANBUS_RESP_NEED_NODEID };
                memcpy(r + 1, uuid, 6);
                r[7] = app;
                if (!can_frame_send(busfd, CANBUS_ADMIN_REPLY_ID, r, 8))
                    _exit(4);
            } else if (admin && f.data[0] == set_nodeid && mine && f.len == 8) {
                nodeid = f.data[7];
            } else if (admin && f.data[0] == CANBUS_KATAPULT_CLEAR_NODEID && app == CANBUS_APP_KATAPULT) {
                nodeid = -1;
            } else if (nodeid >= 0 && f.can_id == CANBUS_NODE_BASE + 2u * (unsigned)nodeid) {
                if (write(devfd, f.data, f.len) != f.len)
                    _exit(6);
            }
        }
        if (p[1].revents) {
            uint8_t buf[256];
            ssize_t n = read(devfd, buf, sizeof(buf));
            if (n <= 0)
                _exit(0);
            if (nodeid >= 0 && !can_stream_send(busfd, CANBUS_NODE_BASE + 2u * (unsigned)nodeid + 1, buf, (size_t)n))
                _exit(4);
        }
    }
}

