/* Searching the board database by what a connected board reports: its MCU
 * type, and a family name a user would type ("btt-skr-2", "skr2") that
 * several definitions share. */
#ifndef MF_BOARD_SEARCH_H
#define MF_BOARD_SEARCH_H

#include <stddef.h>

#include "board/board.h"

/* The definitions whose MCU is mcu (case-insensitive), in name order:
 * returns how many there are, and stores at most cap of them. */
size_t board_db_by_mcu(const struct board_db *db, const char *mcu, const struct board **out, size_t cap);

/* The definitions whose name or alias holds name as whole words, one after
 * another, once case and '-', '_', '.' and ' ' are ignored ("skr2" and
 * "skr-2" fit btt-skr-2-f407, "z" fits nothing), and whose MCU is mcu
 * (unless NULL): how many, at most cap stored, in name order. */
size_t board_db_family(const struct board_db *db, const char *name, const char *mcu, const struct board **out,
                       size_t cap);

/* name as a definition or alias; failing that as a family (as
 * board_db_family matches it).  Of those, the one whose MCU is mcu (mcu
 * NULL: the only one).
 * Where none or several remain, err lists them (MF_E_MISMATCH, or
 * MF_E_USAGE for an unknown name). */
const struct board *board_db_find_for_mcu(const struct board_db *db, const char *name, const char *mcu,
                                          struct mf_err *err);

#endif
