/* Ctrl-C and SIGTERM during a flash: the first one is noted, and the work
 * stops at the next point where stopping leaves the card and the board
 * safe (between chunks, between blocks, in waits); a second one ends the
 * program at once. */
#ifndef MF_UTIL_INTERRUPT_H
#define MF_UTIL_INTERRUPT_H

#include <stdbool.h>

#include "util/err.h"

/* Catch SIGINT and SIGTERM from now on.  With say, each signal is
 * acknowledged on stderr at once (a run may take a while to reach a safe
 * point, or to see its board come back). */
void mf_interrupt_catch(bool say);
/* The signal received (SIGINT or SIGTERM), 0 if none. */
int mf_interrupted(void);
/* If a signal came: fail with MF_E_INTERRUPTED ("Stopped on request.")
 * and return -1; else 0. */
int mf_interrupt_check(struct mf_err *err);

#endif
