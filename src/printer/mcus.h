/* The MCUs a printer.cfg names: every [mcu] and [mcu NAME] section, with
 * how Klipper reaches each (serial and baud, or CAN UUID and interface)
 * and its restart method. */
#ifndef MF_PRINTER_MCUS_H
#define MF_PRINTER_MCUS_H

#include <stddef.h>
#include <stdint.h>

#include "printer/config.h"
#include "util/err.h"

struct printer_mcu {
    char name[64];           /* "mcu" for [mcu], else NAME of [mcu NAME] */
    char serial[512];        /* "" for a CAN node */
    uint32_t baud;           /* as Klipper defaults it: 250000 */
    char canbus_uuid[13];    /* "" for a serial MCU */
    char canbus_interface[512]; /* default can0; "sim:PATH" for the virtual bus */
    char restart_method[32]; /* arduino, cheetah, command, rpi_usb; "" when not given (or a CAN node) */
    char file[512];          /* where the section is */
    int line;
};

struct printer_mcus {
    struct printer_mcu *mcu;
    size_t n;
};

/* Every MCU section, [mcu] first, then the others in file order.  A
 * section with neither serial nor canbus_uuid, or with both, is refused
 * naming the file and line (Klipper refuses it too). */
int printer_mcus_from_config(const struct pcfg *c, struct printer_mcus *out, struct mf_err *err);
void printer_mcus_free(struct printer_mcus *m);
/* By name ("mcu", "toolhead"), or NULL. */
const struct printer_mcu *printer_mcus_find(const struct printer_mcus *m, const char *name);

/* Klipper's default places: ~/printer_data/config/printer.cfg, else
 * ~/printer.cfg.  Fills buf with the first that exists; -1 if none. */
int printer_config_default(char *buf, size_t cap);

/* Read the printer's config (path, or when NULL the default place) and its
 * MCUs.  used (cap bytes) receives the file read.  With no path and no
 * printer.cfg in the default places: MF_E_INPUT naming both. */
int printer_load(const char *path, char *used, size_t cap, struct pcfg **cfg, struct printer_mcus *mcus,
                 struct mf_err *err);
/* "mcu, toolhead, ebb" for messages. */
void printer_mcus_names(const struct printer_mcus *m, char *buf, size_t cap);

#endif
