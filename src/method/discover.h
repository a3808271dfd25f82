/* Boards on this host that printer.cfg does not name: CAN nodes waiting
 * for a node id on the printer's CAN interfaces, and USB devices that are
 * Klipper, Katapult, a DFU bootloader or an RP2040 in BOOTSEL mode. */
#ifndef MF_METHOD_DISCOVER_H
#define MF_METHOD_DISCOVER_H

#include <stddef.h>

#include "printer/mcus.h"

struct mf_found {
    char reach[600];   /* "/dev/ttyACM1", "CAN node 0123456789ab on can0", "USB 1-1.3" */
    char what[32];     /* "klipper", "katapult", "dfu", "bootsel" */
};

/* Up to cap of them; returns how many were stored. */
size_t mf_discover_unnamed(const struct printer_mcus *m, struct mf_found *out, size_t cap);

#endif
