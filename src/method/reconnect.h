/* Resetting a board and finding it again. */
#ifndef MF_METHOD_RECONNECT_H
#define MF_METHOD_RECONNECT_H

#include "method/connect.h"

/* Send reset, close the port and connect again once the board is back:
 * a USB board disappears and re-enumerates; a UART port stays and the
 * board answers again after its bootloader.  timeout_ms bounds the wait. */
int mf_reset_reconnect(struct mf_conn *conn, const char *path, uint32_t baud, int timeout_ms,
                       struct mf_err *err);

/* Connect, retrying until timeout_ms while the device is absent or silent. */
int mf_connect_wait(const char *path, uint32_t baud, int timeout_ms, struct mf_conn *conn, struct mf_err *err);
/* The same for a target (a serial device or a CAN node). */
int mf_target_connect_wait(const struct mf_target *t, int timeout_ms, struct mf_conn *conn, struct mf_err *err);

#endif
