/* Updating every MCU of a printer in one planned run.
 *
 * Each MCU needs its own image: `-f NAME=FILE` on the command line, or
 * `firmware:` in its [mcu NAME] section of mcuflash.cfg beside printer.cfg
 * (docs/printer.md).  A missing or unreadable image, or one built for
 * another MCU than the board reports, stops the run before any board is
 * touched.  The order is: CAN nodes behind a USB to CAN bridge, then the
 * bridge (so a bridge that fails leaves no node behind it unflashed), then
 * the rest.  A bridge found waiting in its bootloader has taken the CAN
 * interface with it, so it goes first, and if it fails the nodes behind it
 * are not tried.  Otherwise a failure on one MCU does not stop the others.  The
 * caller stops the Klipper service first and starts it again at the end,
 * also after a failure (printer/service.h).
 */
#ifndef MF_METHOD_UPDATE_H
#define MF_METHOD_UPDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "board/board.h"
#include "method/flash.h"
#include "method/identify.h"
#include "method/progress.h"
#include "printer/mcus.h"

#define MF_UPDATE_SETTINGS_FILE "mcuflash.cfg"

struct mf_update_opts {
    const char *config_path;           /* printer.cfg; NULL: the default place */
    const char *settings_path;         /* NULL: mcuflash.cfg beside printer.cfg (optional) */
    const char *const *names;          /* the MCUs to update; none: all */
    size_t nnames;
    const char *const *images;         /* "NAME=FILE" */
    size_t nimages;
    const char *const *dicts;          /* "NAME=FILE" */
    size_t ndicts;
    const char *const *board_files;
    size_t nboard_files;
    const struct mf_progress *progress; /* notes and progress of each flash */
    /* How the front end spells a flash command (mf_flash_opts.command). */
    void (*command)(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap);
};

enum mf_update_result {
    MF_UPDATE_PLANNED,
    MF_UPDATE_FLASHED,
    MF_UPDATE_FAILED,
    MF_UPDATE_SKIPPED, /* not tried: the bridge it is reached through failed, or a stop was asked for */
};

struct mf_update_item {
    struct printer_mcu mcu;
    struct mf_target target;           /* points into mcu */
    char image[4096], dict[4096];      /* dict "" when none */
    const struct board *board;         /* from `board:`; NULL when not given */
    char route[16];                    /* from `route:`; "" to let flash choose */
    char image_mcu[64], image_version[128];
    bool bridge;                       /* a USB to CAN bridge (found on USB, or `bridge: yes`) */
    const char *behind;                /* the bridge (its MCU name) a CAN node is reached through, or NULL */
    bool identified;                   /* before holds what the board said */
    struct mf_identity before;
    enum mf_update_result result;
    char after[128];                   /* the version it runs after flashing */
    char error[768];
    enum mf_code code;                 /* of the failure */
};

struct mf_update {
    char config[4096];
    char settings[4096];               /* "" when there is none */
    char service[64];                  /* the Klipper unit (`klipper_service:`, default klipper) */
    char moonraker[512];               /* Moonraker's address (`moonraker:`; "none": not asked) */
    struct mf_update_item *items;      /* in flash order once planned */
    size_t n;
    struct board_db *db;
};

/* Read printer.cfg and mcuflash.cfg, pick the MCUs, find and read each
 * image.  Nothing on any board is touched.  Refuses (MF_E_INPUT,
 * MF_E_USAGE) naming every MCU without a usable image. */
int mf_update_prepare(const struct mf_update_opts *o, struct mf_update *u, struct mf_err *err);

/* Ask each board what it runs (its firmware is not changed), then put the
 * items in flash order.  take_can_nodes: Klipper is stopped, so a CAN node
 * that still has the node id Klipper gave it is given one of mcuflash's
 * (method/identify.h).  Refuses (MF_E_MISMATCH) naming every MCU whose
 * image was built for another MCU than the board reports. */
int mf_update_identify(struct mf_update *u, bool take_can_nodes, struct mf_err *err);

/* Put the items in flash order without asking the boards. */
void mf_update_order(struct mf_update *u);

/* Flash the items in order.  Returns how many did not end flashed. */
size_t mf_update_flash(const struct mf_update_opts *o, struct mf_update *u);

/* The route the flash will take: the one asked for with `route:`, else
 * the one the target and board definition call for (method/flash.c). */
const char *mf_update_route(const struct mf_update_item *it);

void mf_update_free(struct mf_update *u);

const char *mf_update_result_name(enum mf_update_result r);

#endif
