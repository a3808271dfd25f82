/* Command line of the virtual board. */
#ifndef SIM_OPTIONS_H
#define SIM_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

enum sim_link_kind { SIM_LINK_USB, SIM_LINK_UART };

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
    uint32_t baud;          /* uart only */
    bool realistic;         /* --timing realistic */
    const char *faults;
    const char *control;
    const char *version;
};

/* Parse the run options (argv after the program name); -1 with a usage error. */
int sim_options_parse(int argc, char **argv, struct sim_options *o, struct mf_err *err);
/* --link usb | uart:BAUD */
int sim_parse_link(const char *text, enum sim_link_kind *kind, uint32_t *baud, struct mf_err *err);
/* --board-file FILE: append to a list of at most SIM_BOARD_FILES_MAX. */
int sim_add_board_file(const char **files, size_t *n, const char *path, struct mf_err *err);
/* A version string a dictionary can carry unchanged (printable ASCII). */
int sim_check_version(const char *v, struct mf_err *err);

void sim_usage(FILE *out);

#endif
