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
#include "fake_can_node.h"
#include "fake_katapult.h"
#include "katapult/client.h"
#include "link/canbus.h"

static const uint8_t node_uuid[6] = { 0xc0, 0xff, 0xee, 0x12, 0x34, 0x56 };

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
        fake_can_node_run(busfd, sv[0], node_uuid, CANBUS_APP_KATAPULT);
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
