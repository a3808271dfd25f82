/* An MCU of printer.cfg as a flash target: a TARGET on the command line
 * that is not a path names an MCU there ("mcu", "toolhead"). */
#ifndef MF_METHOD_MCUTARGET_H
#define MF_METHOD_MCUTARGET_H

#include <stdbool.h>

#include "method/flash.h"
#include "printer/mcus.h"

/* A path names a device: it has a '/' or is a file here.  Anything else
 * is looked up among printer.cfg's MCUs. */
bool mf_target_text_is_name(const char *text);

/* How Klipper reaches the MCU: its serial and baud, or its CAN node.  The
 * target points into m. */
void mf_target_from_mcu(const struct printer_mcu *m, struct mf_target *t);

/* The MCU called name in the printer's config (config_path, or the
 * default place when NULL): fills t and returns 0; otherwise err says which
 * MCUs there are (MF_E_USAGE) or why printer.cfg could not be read.  The
 * MCUs stay in mcus (free with printer_mcus_free) since t points there. */
int mf_target_from_config(const char *config_path, const char *name, struct printer_mcus *mcus,
                          struct mf_target *t, struct mf_err *err);

#endif
