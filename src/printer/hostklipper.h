/* The Klipper checkout on the host: the version a build of it reports. */
#ifndef MF_PRINTER_HOSTKLIPPER_H
#define MF_PRINTER_HOSTKLIPPER_H

#include <stddef.h>

/* The version Klipper's build stamps into its firmware, read from the
 * checkout at dir (NULL: ~/klipper): `git describe --always --tags --long
 * --dirty`, as Klipper's scripts/buildcommands.py runs it.  0 with buf
 * filled, -1 when dir is no git checkout (buf says why). */
int printer_host_klipper_version(const char *dir, char *buf, size_t cap);

#endif
