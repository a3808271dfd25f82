/* The board's end of a virtual CAN bus (`mcuflash-sim canbus`): it joins
 * the bus socket and speaks the canserial admin protocol of Klipper or
 * Katapult (src/generic/canserial.c): QUERY_UNASSIGNED, SET_NODEID,
 * REQUEST_BOOTLOADER, Katapult's CLEAR_NODEID.  Above it the firmware sees
 * a byte stream, cut into frames of at most 8 bytes on the bus. */
#ifndef SIM_CANNODE_H
#define SIM_CANNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

#define CAN_ID_ADMIN 0x3f0
#define CAN_ID_ADMIN_RESP 0x3f1
#define CAN_NODEID_BASE 0x100
#define CAN_UUID_LEN 6

/* Which firmware answers: the admin commands and the app byte differ. */
enum can_app { CAN_APP_KLIPPER, CAN_APP_KATAPULT };

struct can_node {
    char bus[108];
    int fd;                  /* -1 until joined */
    uint32_t bitrate;        /* from the bus's hello */
    uint8_t uuid[CAN_UUID_LEN];
    enum can_app app;
    bool online;             /* powered and running firmware that uses the CAN port */
    uint32_t assigned_id;    /* host->node data id, 0 while unassigned */
    /* Events for the board (cleared by it). */
    bool bootloader_requested; /* Klipper got REQUEST_BOOTLOADER with our uuid */
    bool id_conflict;          /* another node was given our id */
    uint64_t frames_in, frames_out, send_failures;
};

/* Send one frame packet on a virtual-bus socket.  A peer that is slow to read
 * (its queue holds only a few packets) is waited for up to wait_ms, as a
 * CAN controller retries until the frame is taken; only then is it lost. */
struct can_frame;
bool can_packet_send(int fd, const struct can_frame *f, int wait_ms);

void cannode_init(struct can_node *n, const char *bus, const uint8_t uuid[CAN_UUID_LEN]);
/* Join the bus (connect and read its hello); MF_E_DEVICE if it is not there. */
int cannode_join(struct can_node *n, struct mf_err *err);
/* Take fd as the node's bus end (a USB to CAN bridge's own node, whose
 * frames its router carries: usbcan.h); the node owns fd from now on. */
void cannode_attach(struct can_node *n, int fd, uint32_t bitrate);
void cannode_leave(struct can_node *n);
/* Power and firmware: an offline node ignores the bus; going offline or
 * online forgets the node id, as a reset does. */
void cannode_set_online(struct can_node *n, bool online, enum can_app app);
/* The node id (0..255) or -1 while unassigned. */
int cannode_nodeid(const struct can_node *n);

/* Take what the bus delivered: admin frames are answered here, data for
 * this node lands in buf (at most cap bytes).  Returns the bytes stored. */
size_t cannode_read(struct can_node *n, uint8_t *buf, size_t cap);
/* Send bytes as data frames of at most 8; returns bytes sent (all of them,
 * or 0 while unassigned: output is discarded, as canserial does). */
ssize_t cannode_write(struct can_node *n, const uint8_t *data, size_t len);

#endif
