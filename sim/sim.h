/* The virtual board: the MCU, its serial device, the card socket, the line
 * (faults and timing) and the control socket, driven by one event loop. */
#ifndef SIM_SIM_H
#define SIM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "bootloader.h"
#include "cardslot.h"
#include "control.h"
#include "faults.h"
#include "flashmem.h"
#include "katapult.h"
#include "mcu.h"
#include "options.h"
#include "port.h"
#include "powercut.h"
#include "timing.h"

enum board_state {
    BOARD_RUNNING,
    BOARD_RESETTING, /* away until up_at_us (USB re-enumeration or boot) */
    BOARD_UNPLUGGED, /* no power, no device until `plug` */
};

/* What runs on the board once it is up. */
enum sim_mode {
    MODE_KLIPPER,   /* Klipper, with the flash's dictionary */
    MODE_KATAPULT,  /* the Katapult bootloader */
    MODE_CRASHED,   /* an application linked for another address: nothing answers */
    MODE_SILENT,    /* firmware that is not Klipper: nothing answers */
    MODE_DFU,       /* the chip's ROM DFU bootloader, on the emulated USB bus (usb_board.h) */
};

struct board;
struct board_db;

struct sim {
    struct sim_options opt;
    struct board_db *boards;     /* with --board */
    const struct board *board;   /* NULL with --mcu / --dict: no bootloader */
    struct sim_flash flash;
    struct sim_boot boot;
    enum sim_mode mode;
    struct sim_katapult katapult; /* with --bootloader katapult */
    bool enter_katapult;          /* the next boot stays in Katapult (request code set) */
    bool enter_rom_dfu;           /* the next boot goes to the ROM's DFU bootloader */
    struct sim_usb *usb;          /* with --usb */
    struct sim_timing timing;
    struct sim_mcu mcu;
    struct sim_cardslot slot;
    struct sim_port port;
    struct sim_faults faults;
    struct sim_control control;
    struct sim_powercut powercut;
    struct sim_wire to_mcu, to_host;
    enum board_state state;
    uint64_t up_at_us;
    uint64_t mcu_ready_ns;   /* the MCU is busy on a bus until then */
    bool input_held;         /* it stopped for bus time with input maybe left */
    uint64_t handled_ns;     /* the model's time it last handled input at */
    bool handling;           /* ... and it is doing so now */
    bool host_blocked;       /* the pty is full: wait for the host to read */
    bool quit;
    /* Counters. */
    uint64_t boots, resets, power_cycles, tx_dropped, rx_overflow;
};

/* The modes of the binary. */
int sim_run_main(int argc, char **argv);
int sim_ctl_main(int argc, char **argv);
int sim_make_firmware_main(int argc, char **argv);
int sim_canbus_main(int argc, char **argv);

/* One command to a board's control socket; its reply line in reply. */
int sim_ctl_query(const char *socket_path, const char *command, char *reply, size_t cap);

/* Load the board database (with extra files) and find a board the
 * simulator can model; *db must be freed by the caller (also on failure). */
int sim_find_board(const char *name, const char *const *files, size_t n, struct board_db **db,
                   const struct board **out, struct mf_err *err);

/* Load the identity the options ask for (generated or from --dict):
 * malloc'ed JSON text. */
int sim_identity_json(const char *mcu, const char *dict_path, const char *version, enum sim_link_kind link,
                      uint32_t baud, char **json, size_t *len, struct mf_err *err);

/* Control socket commands (controlcmds.c). */
void sim_control_exec(void *ctx, char *line, char *reply, size_t cap);
/* The control commands with their arguments, joined by sep (for help). */
void sim_control_usage(char *buf, size_t cap, const char *sep);

/* Board events (sim.c). */
void sim_reset(struct sim *s, bool power_cycle);
void sim_unplug(struct sim *s);
void sim_plug(struct sim *s);
/* What runs and how the board gets into its bootloader (bootentry.c). */
#define SIM_TOUCH_POLL_MS 20 /* how often a USB board running Klipper looks at its line coding */
const char *sim_mode_name(enum sim_mode m);
/* On USB: a USB board or a USB to CAN bridge. */
static inline bool sim_on_usb(const struct sim *s)
{
    return s->opt.link == SIM_LINK_USB || s->opt.link == SIM_LINK_USBCAN;
}
static inline bool sim_running(const struct sim *s, enum sim_mode mode)
{
    return s->state == BOARD_RUNNING && s->mode == mode;
}
/* At boot: Katapult or the application (with Katapult), or what the flash
 * holds (the SD-card bootloader has already run). */
void sim_choose_firmware(struct sim *s);
/* The flash's dictionary becomes the MCU's identity (silent without one). */
void sim_take_identity(struct sim *s);
/* A bootloader request (1200-baud touch, UART string, CAN admin frame,
 * double-tap): into Katapult, or without one a plain reboot. */
void sim_request_bootloader(struct sim *s);
/* The ROM's DFU bootloader jumped to the application. */
void sim_rom_dfu_leave(struct sim *s);
/* Requests that do not come through the MCU's parser, and COMPLETE's jump. */
void sim_watch_entry(struct sim *s);

#endif
