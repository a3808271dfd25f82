/* Any baud rate through the kernel's termios2 (BOTHER), so rates such as
 * 250000 that have no B-constant work.  This file must not see <termios.h>. */
#include "link/tty.h"

#include <asm/termbits.h>
#include <sys/ioctl.h>

int link_tty_set_baud(int fd, uint32_t baud, uint32_t *actual)
{
    struct termios2 t;
    if (ioctl(fd, TCGETS2, &t) != 0)
        return -1;
    t.c_cflag &= ~(tcflag_t)(CBAUD | (CBAUD << IBSHIFT));
    t.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
    t.c_ospeed = baud;
    t.c_ispeed = baud;
    if (ioctl(fd, TCSETS2, &t) != 0)
        return -1;
    /* The driver may round to what its clock can make; report that. */
    if (ioctl(fd, TCGETS2, &t) != 0)
        return -1;
    *actual = t.c_ospeed;
    return 0;
}
