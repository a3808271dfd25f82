/* A CAN bus seen from the host: a SocketCAN interface (`can0`) or the
 * virtual bus of mcuflash-sim (`sim:PATH`), and Klipper's canbus admin
 * protocol on it.
 *
 * Standard 11-bit ids only.  Nodes get a node id from the host; a node's
 * byte stream then runs on id 0x100 + 2 * nodeid (host to node) and one
 * above (node to host), cut into frames of at most 8 bytes.
 */
#ifndef MF_LINK_CANBUS_H
#define MF_LINK_CANBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link/transport.h"
#include "util/err.h"

#define CANBUS_ADMIN_ID 0x3f0       /* host to every node */
#define CANBUS_ADMIN_REPLY_ID 0x3f1 /* every node to the host */
#define CANBUS_NODE_BASE 0x100
#define CANBUS_UUID_LEN 6

/* Admin commands (canserial.c in Klipper and Katapult). */
enum canbus_admin {
    CANBUS_QUERY_UNASSIGNED = 0x00,
    CANBUS_KLIPPER_SET_NODEID = 0x01,
    CANBUS_REQUEST_BOOTLOADER = 0x02,
    CANBUS_KATAPULT_SET_NODEID = 0x11,
    CANBUS_KATAPULT_CLEAR_NODEID = 0x12,
    CANBUS_RESP_NEED_NODEID = 0x20,
};

/* What an unassigned node runs, from its query reply. */
enum canbus_app { CANBUS_APP_UNKNOWN = 0, CANBUS_APP_KLIPPER = 0x01, CANBUS_APP_KATAPULT = 0x11 };

struct can_msg {
    uint32_t id;
    uint8_t len;
    uint8_t data[8];
};

struct canbus;

/* Open `can0` (any SocketCAN interface name) or `sim:PATH`.  Fails with a
 * distinct message for an interface that does not exist, is not CAN, is
 * down or is bus-off, and for a virtual bus with nothing at PATH. */
int canbus_open(const char *name, struct canbus **out, struct mf_err *err);
/* A virtual bus on an already connected seqpacket socket (its hello is
 * read here); the bus owns fd from then on.  For tests. */
int canbus_open_sim_fd(int fd, const char *name, struct canbus **out, struct mf_err *err);
void canbus_close(struct canbus *bus);

const char *canbus_name(const struct canbus *bus);
/* The bus bitrate as the system reports it (SocketCAN bit timing, the
 * virtual bus's hello); 0 if not known. */
uint32_t canbus_bitrate(const struct canbus *bus);

/* Send one frame, waiting up to timeout_ms for room. */
int canbus_send(struct canbus *bus, const struct can_msg *m, int timeout_ms, struct mf_err *err);
/* Send data on id, cut into frames of at most 8 bytes. */
int canbus_send_bytes(struct canbus *bus, uint32_t id, const uint8_t *data, size_t len, struct mf_err *err);

/* ---- admin protocol (canbus_admin.c) ---- */

struct canbus_node_info {
    uint8_t uuid[CANBUS_UUID_LEN];
    enum canbus_app app;
};

/* Ask every node without a node id to answer, and collect the answers for
 * window_ms (duplicates folded).  Returns how many were stored (at most
 * cap), or -1. */
int canbus_query_unassigned(struct canbus *bus, int window_ms, struct canbus_node_info *nodes, size_t cap,
                            struct mf_err *err);
/* Query until the node with uuid answers (its app in *app), or fail with
 * MF_E_DEVICE naming the uuid and the bus after window_ms. */
int canbus_find_node(struct canbus *bus, const uint8_t uuid[CANBUS_UUID_LEN], int window_ms,
                     enum canbus_app *app, struct mf_err *err);
/* Give the node with uuid a node id: Klipper's SET_NODEID (0x01) or
 * Katapult's (0x11), as app says. */
int canbus_set_nodeid(struct canbus *bus, enum canbus_app app, const uint8_t uuid[CANBUS_UUID_LEN],
                      uint8_t nodeid, struct mf_err *err);
/* Katapult's CLEAR_NODEID: every Katapult node forgets its node id. */
int canbus_katapult_clear_nodeids(struct canbus *bus, struct mf_err *err);
/* Ask the Klipper node with uuid to reboot into its bootloader. */
int canbus_request_bootloader(struct canbus *bus, const uint8_t uuid[CANBUS_UUID_LEN], struct mf_err *err);

/* "0123456789ab" <-> 6 bytes. */
int canbus_uuid_parse(const char *hex, uint8_t uuid[CANBUS_UUID_LEN]);
void canbus_uuid_format(const uint8_t uuid[CANBUS_UUID_LEN], char out[2 * CANBUS_UUID_LEN + 1]);

/* ---- one node's byte stream as a transport (canbus_node.c) ---- */

/* Frames of nodeid go to this transport until it is closed; the bus must
 * outlive it. */
int canbus_node_open(struct canbus *bus, uint8_t nodeid, struct transport **out, struct mf_err *err);

/* ---- USB-CAN bridges (canbus_uuid.c) ---- */

/* fasthash64 by Zilong Tan, as Klipper's firmware uses it. */
uint64_t canbus_fasthash64(const uint8_t *buf, size_t len, uint64_t seed);
/* The CAN UUID a Klipper USB-CAN bridge derives from its chip id, which is
 * also its USB serial number (hex).  -1 if serial is not hex. */
int canbus_uuid_from_usb_serial(const char *serial, uint8_t uuid[CANBUS_UUID_LEN]);

/* ---- interface state (canbus_state.c) ---- */

enum canbus_state { CANBUS_STATE_UNKNOWN = -1, CANBUS_STATE_ACTIVE = 0, CANBUS_STATE_WARNING,
                    CANBUS_STATE_PASSIVE, CANBUS_STATE_BUS_OFF, CANBUS_STATE_STOPPED, CANBUS_STATE_SLEEPING };

/* Check /sys/class/net/IFACE below sysfs_root ("/" normally) and the
 * controller state rtnetlink gave: the interface exists, is CAN, is up,
 * is not bus-off or stopped, and has a link.  Fails with MF_E_DEVICE
 * saying which. */
int canbus_check_interface(const char *sysfs_root, const char *iface, enum canbus_state state,
                           struct mf_err *err);
/* Bitrate and controller state out of an RTM_NEWLINK message. */
int canbus_parse_newlink(const void *msg, size_t len, uint32_t *bitrate, enum canbus_state *state);
/* Ask rtnetlink about iface; -1 if it cannot be asked. */
int canbus_link_query(const char *iface, uint32_t *bitrate, enum canbus_state *state);

#endif
