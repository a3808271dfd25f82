/* The board's serial device: a pseudo-terminal whose slave is reached
 * through a stable symlink (like /dev/serial/by-id/...), as Klipper's Linux
 * MCU does it.  The sim keeps the slave open itself so the master never
 * sees a hangup when a host closes the port; output not yet read stays
 * queued in the pty. */
#ifndef SIM_PTYLINK_H
#define SIM_PTYLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/err.h"

struct pty_link {
    char path[4096];      /* the symlink */
    char slave_name[64];  /* /dev/pts/N */
    int master, slave;    /* -1 while down */
};

void pty_link_init(struct pty_link *l, const char *path);
/* Create a fresh pty and point the symlink at it. */
int pty_link_up(struct pty_link *l, struct mf_err *err);
/* Remove the symlink (if it is still ours) and close both sides. */
void pty_link_down(struct pty_link *l);
bool pty_link_is_up(const struct pty_link *l);

/* Non-blocking I/O on the master: bytes moved, 0 if none now, -1 on error. */
ssize_t pty_link_read(struct pty_link *l, void *buf, size_t cap);
ssize_t pty_link_write(struct pty_link *l, const void *buf, size_t len);

#endif
