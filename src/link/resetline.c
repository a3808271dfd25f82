/* Modem-line resets (link/resetline.h). */
#include "link/resetline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "util/clock.h"

#define STEP_US 100000 /* Klipper waits 100 ms between line changes */

static int lines(int fd, int which, bool on)
{
    return ioctl(fd, on ? TIOCMBIS : TIOCMBIC, &which);
}

/* DTR up, then down, each held for a step. */
static int pulse_dtr(int fd)
{
    if (lines(fd, TIOCM_DTR, true) < 0)
        return -1;
    mf_sleep_us(STEP_US);
    if (lines(fd, TIOCM_DTR, false) < 0)
        return -1;
    mf_sleep_us(STEP_US);
    return 0;
}

static int run(int fd, enum reset_line_style style)
{
    struct termios t;
    if (tcgetattr(fd, &t) == 0) {
        cfsetspeed(&t, B2400); /* never 1200: a USB board would take that as a bootloader request */
        tcsetattr(fd, TCSANOW, &t);
    }
    if (style == RESET_LINE_ARDUINO) {
        mf_sleep_us(STEP_US);
        return pulse_dtr(fd);
    }
    if (lines(fd, TIOCM_RTS, true) < 0)
        return -1;
    mf_sleep_us(STEP_US);
    if (pulse_dtr(fd) < 0 || lines(fd, TIOCM_RTS, false) < 0)
        return -1;
    mf_sleep_us(STEP_US);
    return pulse_dtr(fd);
}

int reset_line_pulse(const char *path, enum reset_line_style style, struct mf_err *err)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return mf_fail(err, MF_E_DEVICE, "Cannot open %s to reset the board through its DTR line (%s).", path,
                       strerror(errno));
    int probe;
    int rc = ioctl(fd, TIOCMGET, &probe) < 0 ? -1 : run(fd, style);
    int e = errno;
    close(fd);
    if (rc < 0)
        return mf_fail(err, MF_E_DEVICE, "%s has no modem lines to reset the board with (%s).", path, strerror(e));
    return 0;
}
