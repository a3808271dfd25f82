#include "method/reconnect.h"

#include <unistd.h>

#include "klipper/mcu.h"
#include "method/flash.h"
#include "util/clock.h"
#include "util/interrupt.h"

/* A USB board drops off the bus within this time of a reset. */
#define GONE_WINDOW_MS 1500

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

int mf_reset_reconnect(struct mf_conn *conn, const char *path, uint32_t baud, int timeout_ms,
                       struct mf_err *err)
{
    if (kl_mcu_reset(conn->session, err) < 0)
        return mf_wrap(err, "Could not reset the board: ");
    mf_disconnect(conn);
    /* A UART port stays: then this just waits out the window. */
    struct mf_err gone_err;
    link_wait_gone(path, GONE_WINDOW_MS, &gone_err);
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
