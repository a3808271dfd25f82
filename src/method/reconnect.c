#include "method/reconnect.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "klipper/mcu.h"
#include "method/flash.h"
#include "util/clock.h"
#include "util/interrupt.h"

/* A USB board drops off the bus within this time of a reset. */
#define GONE_WINDOW_MS 1500
#define GONE_POLL_US 10000

int mf_connect_wait(const char *path, uint32_t baud, int timeout_ms, struct mf_conn *conn, struct mf_err *err)
{
    uint64_t deadline = mf_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        uint64_t now = mf_now_us();
        int left = now < deadline ? (int)((deadline - now) / 1000u) : 0;
        if (link_wait_present(path, left, err) == 0 && mf_connect(path, baud, conn, err) == 0)
            return 0;
        if (mf_interrupt_check(err) < 0)
            return -1;
        /* A busy port will not free itself; give up at once. */
        if (err->code == MF_E_USAGE || mf_now_us() >= deadline ||
            (err->code == MF_E_DEVICE && access(path, F_OK) == 0 && mf_now_us() + 200000 >= deadline))
            return -1;
        mf_sleep_us(100000);
    }
}

/* What path names now: the device node behind it, and the symlink (or
 * node) itself.  A Linux process MCU that restarts makes a new symlink to
 * a new pty, which may reuse the old pty's number. */
struct path_id {
    dev_t rdev;
    ino_t ino;
    struct timespec ctime;
};

static struct path_id path_id_of(const char *path)
{
    struct path_id id = { 0 };
    struct stat st;
    if (stat(path, &st) == 0)
        id.rdev = st.st_rdev;
    if (lstat(path, &st) == 0) {
        id.ino = st.st_ino;
        id.ctime = st.st_ctim;
    }
    return id;
}

static bool same_path_id(const struct path_id *a, const struct path_id *b)
{
    return a->rdev == b->rdev && a->ino == b->ino && a->ctime.tv_sec == b->ctime.tv_sec &&
           a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Until the device at path is gone or is another one (or the window has
 * passed). */
static void wait_replaced(const char *path, const struct path_id *before, int timeout_ms)
{
    uint64_t deadline = mf_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        struct path_id now = path_id_of(path);
        if (!same_path_id(&now, before) || mf_now_us() >= deadline)
            return;
        mf_sleep_us(GONE_POLL_US);
    }
}

int mf_reset_reconnect(struct mf_conn *conn, const char *path, uint32_t baud, int timeout_ms,
                       struct mf_err *err)
{
    struct path_id before = path_id_of(path);
    /* A UART build's port stays, so there is nothing to see go: the board
     * is back once it answers, which the connect below waits for (identify
     * is sent again until the restarted firmware takes it). */
    bool uart = kl_dict_const(kl_session_dict(conn->session), "SERIAL_BAUD") != NULL;
    if (kl_mcu_reset(conn->session, err) < 0)
        return mf_wrap(err, "Could not reset the board: ");
    mf_disconnect(conn);
    if (!uart)
        wait_replaced(path, &before, GONE_WINDOW_MS);
    if (mf_connect_wait(path, baud, timeout_ms, conn, err) < 0) {
        /* A device that is back but silent or busy already has its sentence. */
        if (access(path, F_OK) == 0)
            return -1;
        return mf_fail(err, MF_E_DEVICE,
                       "The board at %s did not come back within %d s after the reset; if it is waiting in its "
                       "bootloader, power-cycle it, then run the command again.", path, timeout_ms / 1000);
    }
    return 0;
}

int mf_target_connect_wait(const struct mf_target *t, int timeout_ms, struct mf_conn *conn, struct mf_err *err)
{
    if (!t->can_uuid)
        return mf_connect_wait(t->device, t->baud, timeout_ms, conn, err);
    /* A CAN node restarting is silent until its firmware runs. */
    uint64_t deadline = mf_now_us() + (uint64_t)timeout_ms * 1000u;
    for (;;) {
        if (mf_target_connect(t, conn, err) == 0)
            return 0;
        if (mf_interrupt_check(err) < 0 || err->code == MF_E_USAGE || mf_now_us() >= deadline)
            return -1;
        mf_sleep_us(200000);
    }
}
