/* Terminal settings of the link layer, checked on a pty slave by reading
 * them back through the kernel: raw mode, and any baud rate via termios2. */
#include "link/tty.h"

#include <pty.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"

static void test_raw_mode_flags(void)
{
    int master, slave;
    CHECK(openpty(&master, &slave, NULL, NULL, NULL) == 0);
    struct termios t;
    CHECK(tcgetattr(slave, &t) == 0);
    CHECK(t.c_lflag & ICANON);  /* a fresh pty is cooked: the check below means something */
    cfsetspeed(&t, B1200);      /* as a 1200-baud touch would leave a USB port */
    CHECK(tcsetattr(slave, TCSANOW, &t) == 0);

    CHECK_EQ(link_tty_make_raw(slave), 0);
    CHECK(tcgetattr(slave, &t) == 0);
    CHECK_EQ(t.c_lflag & (ICANON | ECHO | ECHONL | ISIG | IEXTEN), 0);
    CHECK_EQ(t.c_iflag & (ICRNL | INLCR | IGNCR | IXON | IXOFF | IXANY | ISTRIP | BRKINT | PARMRK), 0);
    CHECK_EQ(t.c_oflag & OPOST, 0);
    CHECK_EQ(t.c_cflag & (CSIZE | PARENB | CSTOPB | CRTSCTS | CLOCAL | CREAD), CS8 | CLOCAL | CREAD);
    CHECK_EQ(t.c_cc[VMIN], 0);
    CHECK_EQ(t.c_cc[VTIME], 0);
    CHECK(cfgetospeed(&t) != B1200);  /* never left at the bootloader rate */
    CHECK(cfgetospeed(&t) != B0);
    CHECK_EQ(link_tty_raise_modem_lines(slave), 0);  /* a pty has none: not an error */
    close(master);
    close(slave);
}

static void test_any_baud(void)
{
    int master, slave;
    CHECK(openpty(&master, &slave, NULL, NULL, NULL) == 0);
    static const uint32_t rates[] = {250000, 115200, 500000, 1000000, 76800};
    for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
        uint32_t actual = 0;
        CHECK_EQ(link_tty_set_baud(slave, rates[i], &actual), 0);
        CHECK_EQ(actual, rates[i]);
    }
    uint32_t ignored;
    CHECK_EQ(link_tty_set_baud(master + slave + 1000, 250000, &ignored), -1);  /* not an fd */
    close(master);
    close(slave);
}

int main(void)
{
    test_raw_mode_flags();
    test_any_baud();
    return check_report("test_link_tty");
}
