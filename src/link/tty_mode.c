/* Raw mode and modem lines through the C library's termios. */
#include "link/tty.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <termios.h>

/* A speed that is safe to pass through on the way to the real one. */
static void avoid_dangerous_speed(struct termios *t)
{
    speed_t s = cfgetospeed(t);
    if (s == B0 || s == B1200)
        cfsetspeed(t, B9600);
}

int link_tty_make_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -1;
    cfmakeraw(&t);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | CSTOPB | CRTSCTS);
    t.c_cflag |= CS8 | CLOCAL | CREAD;
    t.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    avoid_dangerous_speed(&t);
    return tcsetattr(fd, TCSANOW, &t);
}

int link_tty_raise_modem_lines(int fd)
{
    int lines = TIOCM_DTR | TIOCM_RTS;
    if (ioctl(fd, TIOCMBIS, &lines) != 0 && errno != EINVAL && errno != ENOTTY)
        return -1;
    return 0;
}
