/* The link to a board: a serial port, a pseudo-terminal or a plain path.
 *
 * Opening locks the port; if another process holds it (typically a running
 * Klipper service), the error names that process and says to stop it.
 */
#ifndef MF_LINK_LINK_H
#define MF_LINK_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

enum link_kind { LINK_TTY, LINK_PTY, LINK_FILE };

struct link {
    int fd;
    enum link_kind kind;
    uint32_t baud;        /* set on a real tty; 0 otherwise */
    char path[256];       /* as given by the user */
    char real_path[256];  /* symlinks resolved, e.g. /dev/ttyACM0 or /dev/pts/3 */
};

/* Open PATH raw (termios: 8N1, no flow control, no echo) at baud (ignored on
 * ptys), exclusive.  On failure the message says whether the device is
 * missing, busy (naming the pid and command holding it) or not accessible. */
int link_open(const char *path, uint32_t baud, struct link **out, struct mf_err *err);
void link_close(struct link *l);

/* Processes other than ourselves that have the device open, excluding the
 * owner of a pty's master side.  Writes "pid 123 (klippy.py ...)" style text
 * for up to the first few into buf; returns how many were found. */
int link_holders(const char *real_path, char *buf, size_t cap);

/* Wait for PATH to disappear / appear (polling).  -1 with a clear message
 * on timeout. */
int link_wait_gone(const char *path, int timeout_ms, struct mf_err *err);
int link_wait_present(const char *path, int timeout_ms, struct mf_err *err);

/* Bootloader entry (the 1200-baud touch, the UART request) is in
 * bootentry.h; the byte stream the protocols use is transport.h. */

#endif
