/* What a target runs now, learned without changing anything on it: the
 * Klipper firmware (MCU type, version) or the Katapult bootloader, or
 * nothing that answers. */
#ifndef MF_METHOD_IDENTIFY_H
#define MF_METHOD_IDENTIFY_H

#include <stdbool.h>

#include "link/canbus.h"
#include "link/usbport.h"
#include "method/flash.h"

enum mf_board_state {
    MF_BOARD_KLIPPER,     /* Klipper answered */
    MF_BOARD_KATAPULT,    /* waiting in Katapult */
    MF_BOARD_UNREACHABLE, /* nothing answered; why says what happened */
};

struct mf_identity {
    enum mf_board_state state;
    char mcu[64];          /* "stm32f446xx"; "" when unknown */
    char version[128];     /* the firmware's version, "" when unknown */
    bool configured;       /* Klipper has configured it */
    bool shutdown;
    bool bridge;           /* a CAN node that is a USB to CAN bridge on this host */
    char bridge_port[32];  /* then its USB port */
    char why[768];         /* for MF_BOARD_UNREACHABLE */
};

/* A CAN node that already has a node id does not answer the query for
 * nodes without one: Klipper may be using it, and giving it another id
 * would cut Klipper off.  Only with take_can_node (Klipper is known to be
 * stopped) is such a node given an id of its own and asked anyway. */
void mf_identify(const struct mf_target *t, bool take_can_node, struct mf_identity *id);

const char *mf_board_state_name(enum mf_board_state s);

/* A CAN node that is a USB to CAN bridge plugged into this host: its USB
 * serial number is its chip id, which gives its UUID as the firmware
 * computes it.  Running Klipper it has Klipper's bridge ids (1d50:606f);
 * waiting in Katapult, Katapult's (1d50:6177) and a serial port, and the
 * host's CAN interface is gone with it. */
enum mf_bridge {
    MF_BRIDGE_NONE,      /* not a bridge on this host (or not on USB now) */
    MF_BRIDGE_KLIPPER,
    MF_BRIDGE_KATAPULT,
};
/* info (may be NULL) gets its USB port. */
enum mf_bridge mf_can_bridge(const uint8_t uuid[CANBUS_UUID_LEN], struct usb_port_info *info);
/* A USB device that may be such a bridge (those ids): the UUID its serial
 * number gives. */
bool mf_usb_bridge_uuid(const struct usb_port_info *info, uint8_t uuid[CANBUS_UUID_LEN]);

#endif
