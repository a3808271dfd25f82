/* Waiting for a device to go away and come back (USB re-enumeration, or a
 * virtual board re-creating its symlink), by polling the path. */
#include "link/link.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/interrupt.h"

enum {
    POLL_US = 25 * 1000,
    /* devtmpfs creates the node before udev gives it its group; allow udev
     * this long to do so before the caller tries to open it. */
    PERMISSION_SETTLE_US = 1000 * 1000,
};

/* Present means the path, following any symlink, names a device: a dangling
 * /dev/serial/by-id link or a leftover symlink to a closed pty is not. */
static bool device_present(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
}

static uint64_t deadline_after(int timeout_ms)
{
    return mf_now_us() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
}

/* 1 once device_present(path) == want, 0 at the deadline, -1 when a stop
 * was asked for: a wait can always end early without harm. */
static int poll_until(const char *path, bool want, uint64_t deadline)
{
    for (;;) {
        if (device_present(path) == want)
            return 1;
        if (mf_interrupted())
            return -1;
        if (mf_now_us() >= deadline)
            return 0;
        mf_sleep_us(POLL_US);
    }
}

static double seconds(int timeout_ms)
{
    return (timeout_ms > 0 ? timeout_ms : 0) / 1000.0;
}

int link_wait_gone(const char *path, int timeout_ms, struct mf_err *err)
{
    int rc = poll_until(path, false, deadline_after(timeout_ms));
    if (rc != 0)
        return rc > 0 ? 0 : mf_interrupt_check(err);
    return mf_fail(err, MF_E_DEVICE,
                   "%s was still there %g s after the reset was requested, so the board does "
                   "not seem to have restarted; check that it is powered and connected, "
                   "power-cycle it if needed, and try again.",
                   path, seconds(timeout_ms));
}

int link_wait_present(const char *path, int timeout_ms, struct mf_err *err)
{
    int rc = poll_until(path, true, deadline_after(timeout_ms));
    if (rc < 0)
        return mf_interrupt_check(err);
    if (rc == 0)
        return mf_fail(err, MF_E_DEVICE,
                       "%s did not come back within %g s after the reset; the board may still "
                       "be starting or be stuck in its bootloader; check it (ls /dev/serial/by-id/), "
                       "power-cycle it if needed, and try again.",
                       path, seconds(timeout_ms));
    uint64_t settle = mf_now_us() + PERMISSION_SETTLE_US;
    while (access(path, R_OK | W_OK) != 0 && mf_now_us() < settle)
        mf_sleep_us(POLL_US);
    return 0;  /* a lasting permission problem is reported by link_open */
}
