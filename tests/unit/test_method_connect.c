/* Connecting learns the link: a board reached again on the same path (as
 * after its reset) is identified with the larger requests its link allows
 * from the start.  A virtual USB board is a pty, which cannot tell the
 * link itself: the first connection identifies as on a UART, the second
 * as on USB, in fewer blocks, with no reply lost; a UART board stays as it
 * was. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "method/connect.h"
#include "sim_proc.h"

/* Blocks sent and replies lost to connect and identify; 0 blocks if it failed. */
static struct kl_stats connect_once(const char *path)
{
    struct mf_conn conn;
    struct mf_err err;
    struct kl_stats st = { 0 };
    if (mf_connect(path, MF_DEFAULT_BAUD, &conn, &err) < 0) {
        fprintf(stderr, "  %s: %s\n", path, err.msg);
        return st;
    }
    st = kl_session_stats(conn.session);
    mf_disconnect(&conn);
    return st;
}

static void one_board(const char *dir, const char *name, const char *link, bool faster_again)
{
    struct sim_proc p;
    const char *args[] = { "--mcu", "stm32f407xx", "--link", link, NULL };
    if (!sim_start_board(&p, dir, name, true, args)) {
        CHECK(!"the virtual board started");
        sim_stop(&p);
        return;
    }
    struct kl_stats first = connect_once(p.path), again = connect_once(p.path);
    CHECK(first.blocks_sent > 0 && again.blocks_sent > 0);
    CHECK_EQ(first.lost_responses + again.lost_responses, 0);
    if (faster_again)
        CHECK(again.blocks_sent * 2 < first.blocks_sent);
    else
        CHECK_EQ(again.blocks_sent, first.blocks_sent);
    CHECK(sim_stop(&p));
}

int main(void)
{
    const char *dir = sim_tmpdir("test_method_connect");
    one_board(dir, "usb", "usb", true);
    one_board(dir, "uart", "uart:250000", false);
    rmdir(dir);
    return check_report("test_method_connect");
}
