/* Resetting a board through its serial port's modem lines, the way
 * Klipper's restart_method arduino and cheetah do it (klippy/serialhdl.py):
 * on boards whose reset pin is wired to the adapter's DTR line. */
#ifndef MF_LINK_RESETLINE_H
#define MF_LINK_RESETLINE_H

#include "util/err.h"

enum reset_line_style {
    RESET_LINE_ARDUINO, /* the port opened at 2400 baud, DTR pulsed */
    RESET_LINE_CHEETAH, /* RTS held while DTR is pulsed, then DTR pulsed again with RTS released
                         * (Fysetc Cheetah: its bootloader circuit must see that order) */
};

/* Pulse the lines of the port at path; the port must not be held open by
 * anyone else.  MF_E_DEVICE when the port has no modem lines (a pty, some
 * adapters): then nothing was pulsed. */
int reset_line_pulse(const char *path, enum reset_line_style style, struct mf_err *err);

#endif
