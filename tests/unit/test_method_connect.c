/* Connecting learns the link: a board reached again on the same path (as
 * after its reset) is identified with the larger requests its link allows
 * from the start.  A virtual USB board is a pty, which cannot tell the
 * link itself: the first connection identifies as on a UART, the second
 * as on USB, in fewer blocks; a UART board's stays as it was.  Blocks sent
 * again after a timeout (a busy machine) are not counted; that no reply is
 * lost with the larger requests is test_sd_klipper_txbuf's part, where the
 * board's buffers are as small as the firmware's. */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "method/connect.h"
#include "sim_proc.h"

/* Blocks sent once to connect and identify; 0 if it failed. */
static uint64_t connect_once(const char *path)
{
    struct mf_conn conn;
    struct mf_err err;
    if (mf_connect(path, MF_DEFAULT_BAUD, &conn, &err) < 0) {
        fprintf(stderr, "  %s: %s\n", path, err.msg);
        return 0;
    }
    struct kl_stats st = kl_session_stats(conn.session);
    mf_disconnect(&conn);
    return st.blocks_sent - st.retransmits;
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
    uint64_t first = connect_once(p.path);
    uint64_t again = connect_once(p.path);
    CHECK(first > 0 && again > 0);
    if (!faster_again)
        CHECK(again * 10 > first * 9);  /* the same requests, give or take a probe */
    else
        CHECK(again * 2 < first);
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
