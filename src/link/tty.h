/* Line settings for terminals, used by link.c (internal to the link layer).
 *
 * Split in two files because the kernel's termios2 (any baud rate) and the
 * C library's termios (cfmakeraw) cannot be declared in the same unit. */
#ifndef MF_LINK_TTY_H
#define MF_LINK_TTY_H

#include <stdint.h>

/* Raw mode: no translation, no echo, no signals, 8N1, no flow control,
 * reads return at once (VMIN = VTIME = 0).  The speed is left alone unless
 * it is 0 or 1200, which on USB CDC would hang up or ask for the bootloader.
 * Returns 0 or -1 with errno set. */
int link_tty_make_raw(int fd);

/* Keep DTR and RTS asserted (dropping DTR can reset or reboot a board).
 * Ports without modem lines (ptys, some adapters) are not an error. */
int link_tty_raise_modem_lines(int fd);

/* Set any baud rate (termios2 / BOTHER) and report the rate the driver
 * actually took in *actual.  Returns 0 or -1 with errno set. */
int link_tty_set_baud(int fd, uint32_t baud, uint32_t *actual);

#endif
