/* Katapult over CAN, end to end on a fake bus: a child process is a CAN
 * node running the fake Katapult device behind Klipper's canbus admin
 * protocol (answers queries while unassigned, takes a node id, forgets it
 * on CLEAR_NODEID) and carries the device's byte stream in frames of at
 * most 8 bytes.  The host finds it, gives it a node id, and connects,
 * checks the UUID, writes an image and reads it back over the node
 * transport. */
#include <fcntl.h>
#include <linux/can.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fake_katapult.h"
#include "katapult/client.h"
#include "link/canbus.h"

static const uint8_t node_uuid[6] = { 0xc0, 0xff, 0xee, 0x12, 0x34, 0x56 };

static void bus_send(int fd, uint32_t id, const uint8_t *data, size_t len)
{
    do {
        struct can_frame f;
        memset(&f, 0, sizeof(f));
        f.can_id = id;
        f.len = (uint8_t)(len < 8 ? len : 8);
        memcpy(f.data, data, f.len);
        if (send(fd, &f, sizeof(f), 0) != (ssize_t)sizeof(f))
            _exit(4);
        data += f.len;
        len -= f.len;
    } while (len);
}

/* The node: bus frames on busfd, the device's stream on devfd. */
static void node_main(int busfd, int devfd)
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
            bool mine = f.len >= 7 && !memcmp(f.data + 1, node_uuid, 6);
            if (f.can_id == CANBUS_ADMIN_ID && f.len >= 1 && f.data[0] == CANBUS_QUERY_UNASSIGNED && nodeid < 0) {
                uint8_t r[8] = { CANBUS_RESP_NEED_NODEID };
                memcpy(r + 1, node_uuid, 6);
                r[7] = CANBUS_APP_KATAPULT;
                bus_send(busfd, CANBUS_ADMIN_REPLY_ID, r, 8);
            } else if (f.can_id == CANBUS_ADMIN_ID && f.data[0] == CANBUS_KATAPULT_SET_NODEID && mine && f.len == 8) {
                nodeid = f.data[7];
            } else if (f.can_id == CANBUS_ADMIN_ID && f.data[0] == CANBUS_KATAPULT_CLEAR_NODEID) {
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
            if (nodeid >= 0)
                bus_send(busfd, CANBUS_NODE_BASE + 2u * (unsigned)nodeid + 1, buf, (size_t)n);
        }
    }
}

static pid_t start_node(int busfd)
{
    pid_t pid = fork();
    if (pid == 0) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
            _exit(7);
        if (fork() == 0) {
            close(sv[0]);
            close(busfd);
            struct fake_kp d = { .proto = 0x00010100, .block_size = 64, .mcu = "stm32g0b1xx", .version = "v0.0.1" };
            memcpy(d.uuid, node_uuid, 6);
            fake_kp_run(sv[1], &d);
        }
        close(sv[1]);
        node_main(busfd, sv[0]);
    }
    return pid;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    const char hello[] = "mcuflash-sim canbus bitrate=1000000";
    CHECK_EQ(send(sv[1], hello, strlen(hello), 0), (ssize_t)strlen(hello));
    pid_t node = start_node(sv[1]);
    close(sv[1]);
    struct canbus *bus = NULL;
    struct mf_err err;
    CHECK_EQ(canbus_open_sim_fd(sv[0], "sim:test", &bus, &err), 0);

    enum canbus_app app = CANBUS_APP_UNKNOWN;
    CHECK_EQ(canbus_katapult_clear_nodeids(bus, &err), 0);
    CHECK_EQ(canbus_find_node(bus, node_uuid, 200, &app, &err), 0);
    CHECK_EQ(app, CANBUS_APP_KATAPULT);
    CHECK_EQ(canbus_set_nodeid(bus, app, node_uuid, 129, &err), 0);
    /* Assigned nodes no longer answer the query. */
    struct canbus_node_info nodes[2];
    CHECK_EQ(canbus_query_unassigned(bus, 100, nodes, 2, &err), 0);

    struct transport *t = NULL;
    struct kp_client *c = NULL;
    CHECK_EQ(canbus_node_open(bus, 129, &t, &err), 0);
    CHECK_EQ(kp_client_new(t, &c, &err), 0);
    kp_client_limits(c)->reply_ms = kp_client_limits(c)->block_reply_ms = 1000;
    struct kp_info info;
    if (kp_connect(c, &info, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    CHECK_STR(info.mcu, "stm32g0b1xx");
    CHECK_STR(info.version, "v0.0.1");
    uint8_t uuid[6] = { 0 };
    CHECK_EQ(kp_get_canbus_id(c, uuid, &err), 0);
    CHECK_MEM(uuid, node_uuid, 6);
    uint8_t image[700];
    for (size_t i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i ^ (i >> 3));
    uint32_t bad = 0, pages = 0;
    CHECK_EQ(kp_write_image(c, image, sizeof(image), NULL, NULL, &err), 0);
    CHECK_EQ(kp_send_eof(c, &pages, &err), 0);
    CHECK_EQ(kp_verify_image(c, image, sizeof(image), NULL, NULL, &bad, &err), 0);
    struct kp_stats st = kp_client_stats(c);
    CHECK_EQ(st.retries, 0);
    CHECK_EQ(st.bad_bytes, 0);

    kp_client_free(c);
    transport_close(t);
    canbus_close(bus);
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
    return check_report("test_katapult_can");
}
