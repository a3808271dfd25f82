/* Running a host program (git, systemctl) and reading what it prints. */
#ifndef MF_PRINTER_RUN_H
#define MF_PRINTER_RUN_H

#include <stddef.h>

/* Run argv[0] (looked up on PATH) with stderr dropped; its standard output
 * goes into out (cap bytes, may be NULL).  Returns its exit status, or -1
 * when it could not be run or was killed. */
int printer_run(const char *const argv[], char *out, size_t cap);

#endif
