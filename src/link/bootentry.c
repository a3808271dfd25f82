/* The 1200-baud touch and the UART request string. */
#include "link/bootentry.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "link/link.h"
#include "util/clock.h"

#define REQUEST_WRITE_MS 1000

/* Ptys and some adapters have no modem lines: not an error here. */
static int set_dtr(int fd, bool on)
{
    int dtr = TIOCM_DTR;
    if (ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &dtr) == 0 || errno == ENOTTY || errno == EINVAL)
        return 0;
    return -1;
}

int bootentry_usb_touch(const char *path, struct mf_err *err)
{
    char real[PATH_MAX], holders[512];
    if (!realpath(path, real))
        return mf_fail(err, MF_E_DEVICE, "No device at %s; the board was not asked to enter its bootloader.", path);
    if (link_holders(real, holders, sizeof(holders)) > 0) {
        mf_fail(err, MF_E_DEVICE, "%s is in use by %s; the board was not asked to enter its bootloader.", path,
                holders);
        return mf_fact(err, MF_FACT_PORT_BUSY);
    }
    int fd = open(real, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return mf_fail(err, MF_E_DEVICE, "Cannot open %s: %s; the board was not asked to enter its bootloader.",
                       path, strerror(errno));
    struct termios t;
    if (tcgetattr(fd, &t) < 0) {
        close(fd);
        return mf_fail(err, MF_E_USAGE, "%s is not a serial port, so it cannot be asked for its bootloader by "
                       "the 1200-baud touch.", path);
    }
    int rc = set_dtr(fd, true);
    cfsetispeed(&t, B1200);
    cfsetospeed(&t, B1200);
    if (rc == 0)
        rc = tcsetattr(fd, TCSANOW, &t);
    if (rc == 0)
        rc = set_dtr(fd, false);
    int e = errno;
    close(fd);
    if (rc < 0)
        return mf_fail(err, MF_E_DEVICE, "The 1200-baud touch on %s failed: %s.", path, strerror(e));
    return 0;
}

int bootentry_serial_request(struct transport *t, struct mf_err *err)
{
    static const char request[] = BOOTENTRY_SERIAL_REQUEST;
    size_t len = sizeof(request) - 1, done = 0;
    uint64_t until = mf_now_us() + REQUEST_WRITE_MS * 1000ull;
    while (done < len) {
        ssize_t n = transport_write(t, request + done, len - done);
        if (n < 0)
            return mf_fail(err, MF_E_DEVICE, "%s went away while the bootloader request was sent.", t->name);
        done += (size_t)n;
        if (done == len)
            break;
        if (mf_now_us() >= until)
            return mf_fail(err, MF_E_DEVICE, "%s took no data for %d ms; the bootloader request was not sent "
                           "whole.", t->name, REQUEST_WRITE_MS);
        transport_wait(t, TRANSPORT_WRITABLE, 100);
    }
    transport_drain(t);
    return 0;
}
