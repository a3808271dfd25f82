/* Errors that reach the user as one sentence.
 *
 * Every layer reports failure by filling a struct mf_err and returning -1.
 * The message is a complete sentence for the user: what went wrong, what was
 * left untouched, and what to do next.  The code selects the exit status.
 */
#ifndef MF_UTIL_ERR_H
#define MF_UTIL_ERR_H

#include <stddef.h>

/* Exit statuses, documented in README.md. */
enum mf_code {
    MF_OK = 0,
    MF_E_FAIL = 1,      /* anything not listed below */
    MF_E_USAGE = 2,     /* bad command line or option value */
    MF_E_DEVICE = 3,    /* device missing, busy, or not answering */
    MF_E_PROTOCOL = 4,  /* MCU answered but not as Klipper should, or shut down */
    MF_E_MISMATCH = 5,  /* board, MCU and firmware image do not agree */
    MF_E_INPUT = 6,     /* a file named is missing or unusable (firmware, dictionary, board file,
                         * printer.cfg, a file or name on the card) */
    MF_E_CARD = 7,      /* SD card missing, unreadable, protected or full */
    MF_E_FS = 8,        /* filesystem unsupported, damaged or marked unclean */
    MF_E_NOT_FLASHED = 9,  /* upload done, but the bootloader did not flash */
    MF_E_VERIFY = 10,   /* verification found a difference */
    MF_E_INTERRUPTED = 130, /* stopped by SIGINT (130) or SIGTERM (the CLI exits 143) */
};

/* A fact the user can act on, set by the layer that found it; the layer
 * that knows the user's command (cli/) adds what to do, in its own terms. */
enum mf_fact {
    MF_FACT_NONE = 0,
    MF_FACT_PORT_BUSY,      /* another program holds the port */
    MF_FACT_BOARD_NEEDED,   /* the route needs a board definition, and none was given */
    MF_FACT_DICT_OTHER,     /* the klipper.dict given is not of the image's build */
    MF_FACT_POWER_CYCLE,    /* a power cycle flashes the board, and it was not waited for */
    MF_FACT_NO_IMAGE,       /* no image was named for an MCU of the printer */
    MF_FACT_NO_CONFIG,      /* printer.cfg is not at its usual places */
    MF_FACT_FOLDER_IN_WAY,  /* a folder on the card has the name a file is to take */
    MF_FACT_CAN_IFACE,      /* the CAN interface is missing or not usable: nothing was sent */
};

struct mf_err {
    enum mf_code code;
    enum mf_fact fact;
    char msg[768];
};

/* Set the error (printf-style) and return -1, so callers can write
 * `return mf_fail(err, MF_E_DEVICE, "...");`.  A NULL err is allowed. */
int mf_fail(struct mf_err *err, enum mf_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with context ("while X: ") keeping its code. */
int mf_wrap(struct mf_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Note the fact behind the error just set; returns -1. */
int mf_fact(struct mf_err *err, enum mf_fact fact);

void mf_err_clear(struct mf_err *err);

#endif
