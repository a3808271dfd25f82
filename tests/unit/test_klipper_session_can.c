/* The Klipper session over a CAN node transport: the virtual board on a
 * pty sits behind a fake CAN node (Klipper's admin protocol, the byte
 * stream in frames of at most 8 bytes) on a fake bus; the host finds the
 * node, gives it a node id, reads the dictionary and has many pings in
 * flight, each answered with its own data. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "fake_can_node.h"
#include "klipper/session.h"
#include "link/canbus.h"
#include "sim_proc.h"

static const uint8_t uuid[6] = { 0x0e, 0x1d, 0x4a, 0x2c, 0x2d, 0xca };

/* The node: the board's pty on one side, the bus on the other. */
static pid_t start_node(int busfd, const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR | O_NOCTTY);
        struct termios t;
        if (fd < 0 || tcgetattr(fd, &t) < 0)
            _exit(2);
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
        fake_can_node_run(busfd, fd, uuid, CANBUS_APP_KLIPPER);
    }
    return pid;
}

static int pings(struct kl_session *s, int n)
{
    struct mf_err err;
    const struct kl_msgfmt *ping = kl_session_command(s, "debug_ping", &err);
    const struct kl_msgfmt *pong = kl_session_response(s, "pong", &err);
    if (!ping || !pong)
        return n;
    struct kl_query *q[64];
    int wrong = 0;
    for (int i = 0; i < n; i++) {
        char data[24];
        int len = snprintf(data, sizeof(data), "can-ping-%d", i);
        q[i] = kl_query_submit(s, ping, (struct kl_arg[]){ KL_BUF(data, len) }, pong, -1, KL_Q_RETRY, len, &err);
    }
    for (int i = 0; i < n; i++) {
        struct kl_msg m;
        char want[24];
        int len = snprintf(want, sizeof(want), "can-ping-%d", i);
        const struct kl_arg *d = NULL;
        if (q[i] && kl_query_wait(s, q[i], &m, &err) == 0)
            d = kl_msg_arg(&m, "data");
        if (!d || d->len != len || memcmp(d->data, want, (size_t)len))
            wrong++;
    }
    return wrong;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sim_proc board;
    CHECK(sim_start_board(&board, sim_tmpdir("session_can"), "board", true,
                          (const char *const[]){ "--mcu", "stm32g0b1xx", NULL }));

    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    const char hello[] = "mcuflash-sim canbus bitrate=1000000";
    CHECK_EQ(send(sv[1], hello, strlen(hello), 0), (ssize_t)strlen(hello));
    pid_t node = start_node(sv[1], board.path);
    close(sv[1]);
    struct canbus *bus = NULL;
    struct transport *t = NULL;
    struct kl_session *s = NULL;
    struct mf_err err;
    enum canbus_app app = CANBUS_APP_UNKNOWN;
    CHECK_EQ(canbus_open_sim_fd(sv[0], "sim:test", &bus, &err), 0);
    CHECK_EQ(canbus_find_node(bus, uuid, 300, &app, &err), 0);
    CHECK_EQ(app, CANBUS_APP_KLIPPER);
    CHECK_EQ(canbus_set_nodeid(bus, app, uuid, 4, &err), 0);
    CHECK_EQ(canbus_node_open(bus, 4, &t, &err), 0);
    if (kl_session_open(t, &s, &err) < 0) {
        fprintf(stderr, "session: %s\n", err.msg);
        CHECK(0);
    } else {
        CHECK_STR(kl_dict_const(kl_session_dict(s), "MCU"), "stm32g0b1xx");
        CHECK_EQ(pings(s, 64), 0);
        CHECK_EQ(kl_session_stats(s).bad_blocks, 0);
        kl_session_close(s);
    }
    transport_close(t);
    canbus_close(bus);
    kill(node, SIGTERM);
    waitpid(node, NULL, 0);
    CHECK(sim_stop(&board));
    return check_report("test_klipper_session_can");
}
