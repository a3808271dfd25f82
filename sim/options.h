/* Command line of the virtual board. */
#ifndef SIM_OPTIONS_H
#define SIM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

/* USBCAN: Klipper built as a "USB to CAN bus bridge": on USB to the host,
 * a node on a CAN bus itself, and the host's interface to that bus. */
enum sim_link_kind { SIM_LINK_USB, SIM_LINK_UART, SIM_LINK_CAN, SIM_LINK_USBCAN };

#define SIM_CAN_DEFAULT_FREQUENCY 1000000u

#define SIM_BOARD_FILES_MAX 16

struct sim_options {
    const char *path;
    const char *board;      /* a name in the board database */
    const char *board_files[SIM_BOARD_FILES_MAX]; /* --board-file, in order */
    size_t nboard_files;
    const char *flash_state; /* --flash-state: the board's flash kept across runs */
    const char *mcu;
    const char *dict;
    const char *card;
    enum sim_link_kind link;
    uint32_t baud;          /* uart: the baud rate; can: the bus frequency of the build */
    const char *can_bus;    /* can:PATH or usb-can:PATH, the virtual bus socket */
    const char *host_interface; /* usb-can: the host's CAN interface the bridge serves */
    const char *chip_id;    /* --chip-id HEX: the USB serial number (a bridge's UUID comes from it) */
    uint8_t can_uuid[6];    /* --canbus-uuid, or a bridge's from its chip id */
    bool have_uuid;
    bool katapult;          /* --bootloader katapult */
    const char *katapult_proto;   /* "1.0.0" or "1.1.0" */
    const char *katapult_version;
    uint32_t katapult_start;      /* 0: the family's default */
    bool empty_flash;             /* --empty-flash: no application at power-on */
    bool realistic;         /* --timing realistic */
    uint32_t tx_buffer;     /* --tx-buffer: the firmware's transmit buffer (0: its link's) */
    const char *faults;
    const char *control;
    const char *usb;        /* --usb SPEC: on an emulated USB bus (usb_board.h) */
    const char *version;
};

/* Parse the run options (argv after the program name); -1 with a usage error. */
int sim_options_parse(int argc, char **argv, struct sim_options *o, struct mf_err *err);
/* --link usb | uart:BAUD | can | can:PATH | usb-can | usb-can:PATH.  For
 * can and usb-can, *baud is the default bus frequency of a CAN build and
 * the bus path (if given) goes to *bus. */
int sim_parse_link_bus(const char *text, enum sim_link_kind *kind, uint32_t *baud, const char **bus,
                       struct mf_err *err);
/* The same without the bus path (for make-firmware: the dictionary only). */
int sim_parse_link(const char *text, enum sim_link_kind *kind, uint32_t *baud, struct mf_err *err);
/* HEX12: a 6-byte CAN uuid. */
int sim_parse_uuid(const char *text, uint8_t uuid[6], struct mf_err *err);
/* --board-file FILE: append to a list of at most SIM_BOARD_FILES_MAX. */
int sim_add_board_file(const char **files, size_t *n, const char *path, struct mf_err *err);
/* A version string a dictionary can carry unchanged (printable ASCII). */
int sim_check_version(const char *v, struct mf_err *err);

/* A bridge's chip id without --chip-id (8 bytes, as hex). */
#define SIM_BRIDGE_CHIP_ID "4E3A1C0B57383630"
/* A bridge's CAN UUID from its chip id, as Klipper computes it. */
int sim_bridge_uuid(const char *chip_id, uint8_t uuid[6], struct mf_err *err);

void sim_usage(FILE *out);

#endif
