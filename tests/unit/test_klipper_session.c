/* The host session against the virtual board: pipelined queries matched to
 * the right replies, recovery from line faults, lost replies, the one-block
 * limit, shutdown reasons, and a UART link with a receive window. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "klipper/mcu.h"
#include "klipper/session.h"
#include "sim_proc.h"

static char dir[1024];

struct sim {
    struct sim_proc proc;
    int fd;
    struct transport *t;
};

static void board_start(struct sim *sm, const char *name, const char *const *extra)
{
    memset(sm, 0, sizeof(*sm));
    CHECK(sim_start_board(&sm->proc, dir, name, true, extra));
    sm->fd = sim_open_raw(&sm->proc);
    if (sm->fd >= 0)
        transport_over_fd(sm->fd, sm->proc.path, &sm->t, NULL);
}

static void board_ctl(struct sim *sm, const char *cmd)
{
    char reply[4096];
    sim_ctl(&sm->proc, cmd, reply, sizeof(reply));
    CHECK(!strncmp(reply, "ok", 2) || reply[0] == '{');
}

static void board_stop(struct sim *sm)
{
    transport_close(sm->t);
    if (sm->fd >= 0)
        close(sm->fd);
    sim_stop(&sm->proc);
}

static struct kl_session *open_session(struct sim *sm)
{
    struct kl_session *s = NULL;
    struct mf_err err;
    CHECK(sm->t != NULL);
    if (kl_session_open(sm->t, &s, &err) < 0) {
        fprintf(stderr, "session: %s\n", err.msg);
        CHECK(0);
    }
    return s;
}

/* n pings in flight at once; every pong must carry its own ping's data. */
static int ping_many(struct kl_session *s, int n, unsigned flags, int *lost)
{
    struct mf_err err;
    const struct kl_msgfmt *ping = kl_session_command(s, "debug_ping", &err);
    const struct kl_msgfmt *pong = kl_session_response(s, "pong", &err);
    CHECK(ping && pong);
    struct kl_query **q = calloc((size_t)n, sizeof(*q));
    int wrong = 0;
    *lost = 0;
    for (int i = 0; i < n; i++) {
        char data[24];
        int len = snprintf(data, sizeof(data), "ping-%d", i);
        q[i] = kl_query_submit(s, ping, (struct kl_arg[]){ KL_BUF(data, len) }, pong, -1, flags, len, &err);
        CHECK(q[i] != NULL);
    }
    for (int i = 0; i < n; i++) {
        struct kl_msg m;
        char want[24];
        int len = snprintf(want, sizeof(want), "ping-%d", i);
        int rc = kl_query_wait(s, q[i], &m, &err);
        if (rc == KL_LOST) {
            (*lost)++;
            continue;
        }
        if (rc < 0) {
            fprintf(stderr, "ping %d: %s\n", i, err.msg);
            wrong++;
            continue;
        }
        const struct kl_arg *d = kl_msg_arg(&m, "data");
        if (!d || d->len != len || memcmp(d->data, want, (size_t)len))
            wrong++;
    }
    free(q);
    return wrong;
}

static void test_clean_link(void)
{
    struct sim sm;
    board_start(&sm, "clean", (const char *const[]){ "--mcu", "stm32f407xx", NULL });
    struct kl_session *s = open_session(&sm);
    if (!s)
        return board_stop(&sm);
    CHECK_STR(kl_dict_const(kl_session_dict(s), "MCU"), "stm32f407xx");
    int lost;
    CHECK_EQ(ping_many(s, 300, KL_Q_RETRY, &lost), 0);
    CHECK_EQ(lost, 0);
    /* Nothing is damaged on a clean line (a block may still be sent again
     * when a busy machine answers later than the shortest timeout). */
    struct kl_stats st = kl_session_stats(s);
    CHECK_EQ(st.bad_blocks, 0);
    CHECK_EQ(st.lost_responses, 0);

    /* A command longer than one block is refused, not sent. */
    struct mf_err err;
    uint8_t big[58] = { 0 }; /* id, length byte and 58 bytes: 60 > 59 */
    const struct kl_msgfmt *ping = kl_session_command(s, "debug_ping", &err);
    uint64_t before = kl_session_stats(s).blocks_sent;
    CHECK_EQ(kl_send(s, ping, (struct kl_arg[]){ KL_BUF(big, sizeof(big)) }, &err), -1);
    CHECK(strstr(err.msg, "more than the 59") != NULL);
    CHECK_EQ(kl_flush(s, &err), 0);
    CHECK_EQ(kl_session_stats(s).blocks_sent, before);

    /* The largest that fits does go through. */
    CHECK_EQ(kl_send(s, ping, (struct kl_arg[]){ KL_BUF(big, 57) }, &err), 0);
    CHECK_EQ(kl_flush(s, &err), 0);

    /* Shutdown: a non-HF command then gets is_shutdown with the reason. */
    const struct kl_msgfmt *estop = kl_session_command(s, "emergency_stop", &err);
    CHECK_EQ(kl_send(s, estop, NULL, &err), 0);
    kl_flush(s, &err);
    struct kl_mcu_config cfg;
    CHECK_EQ(kl_mcu_get_config(s, &cfg, &err), 0);
    CHECK(cfg.is_shutdown);
    char reason[96];
    CHECK_EQ(kl_mcu_shutdown_reason(s, reason, sizeof(reason), &err), 0);
    CHECK_STR(reason, "Command request");
    const struct kl_msgfmt *alloc = kl_session_command(s, "allocate_oids", &err);
    CHECK_EQ(kl_send(s, alloc, (struct kl_arg[]){ KL_U(1) }, &err), 0);
    CHECK_EQ(kl_flush(s, &err), -1);
    CHECK(strstr(err.msg, "shut down (\"Command request\")") != NULL);
    kl_session_close(s);
    board_stop(&sm);
}

static void test_faulty_link(const char *name, const char *link, const char *faults)
{
    struct sim sm;
    board_start(&sm, name, (const char *const[]){ "--mcu", "lpc1769", "--link", link, NULL });
    struct kl_session *s = open_session(&sm);
    if (!s)
        return board_stop(&sm);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "faults %s", faults);
    board_ctl(&sm, cmd);
    int lost;
    CHECK_EQ(ping_many(s, 400, KL_Q_RETRY, &lost), 0);
    CHECK_EQ(lost, 0);
    struct kl_stats st = kl_session_stats(s);
    CHECK(st.retransmits > 0);
    CHECK(st.bad_blocks > 0);
    CHECK(st.lost_responses > 0);
    fprintf(stderr, "%s: %llu retransmits, %llu naks, %llu bad blocks, %llu lost replies\n", name,
            (unsigned long long)st.retransmits, (unsigned long long)st.naks, (unsigned long long)st.bad_blocks,
            (unsigned long long)st.lost_responses);

    /* Without retry, a lost reply is reported as lost, never as a wrong one;
     * on USB alike queries share blocks, so a reply lost among them must
     * not shift the others. */
    uint64_t blocks = kl_session_stats(s).blocks_sent;
    CHECK_EQ(ping_many(s, 300, 0, &lost), 0);
    CHECK(lost > 0);
    if (!strcmp(link, "usb"))
        CHECK(kl_session_stats(s).blocks_sent - blocks < 300);
    kl_session_close(s);
    board_stop(&sm);
}

int main(void)
{
    if (!getenv("MCUFLASH_SIM")) {
        fprintf(stderr, "MCUFLASH_SIM is not set\n");
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s", sim_tmpdir("session"));
    test_clean_link();
    test_faulty_link("usb-faults", "usb", "corrupt=0.003,drop=0.002,lose-response=0.02,seed=11");
    test_faulty_link("uart-faults", "uart:250000", "corrupt=0.003,drop=0.002,lose-response=0.02,seed=12");
    char rm[1100];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    if (system(rm) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("klipper_session");
}
