/* Turning parsed sections into board definitions and aliases.  Internal to
 * the board layer. */
#ifndef MF_BOARD_DEFS_H
#define MF_BOARD_DEFS_H

#include "board/board.h"
#include "board/cfgfile.h"

/* file is NULL for the built-in table; label names it in errors. */
int board_from_section(const struct cfg_section *sec, const char *file, const char *label,
                       struct board **out, struct mf_err *err);
int alias_from_section(const struct cfg_section *sec, const char *file, const char *label,
                       struct board_alias **out, struct mf_err *err);
void board_free(struct board *b);
void board_alias_free(struct board_alias *a);

#endif
