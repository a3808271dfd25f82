/* Flashing a board through its SD card: the main flow of mcuflash.
 *
 * Upload the image under a temporary name, read it back, rename it to the
 * name the bootloader looks for, reset, reconnect and prove the new firmware
 * runs.  When it does not, say which case it is and what to do.
 */
#ifndef MF_METHOD_SDCARD_H
#define MF_METHOD_SDCARD_H

#include <stdbool.h>
#include <stdint.h>

#include "board/board.h"
#include "method/progress.h"

struct mf_sdcard_opts {
    const char *device;
    uint32_t baud;
    const struct board *board;
    const char *firmware_path;
    bool firmware_given;     /* -f was given (so the -c advice repeats it) */
    const char *dict_path;   /* klipper.dict to compare with; may be NULL */
    bool check_only;         /* -c: verify what runs and what is on the card */
    bool fast_spi;           /* -s */
    bool wait_power_cycle;   /* --wait */
    int wait_timeout_s;      /* for --wait (default 300) */
    int reconnect_timeout_s; /* after a reset (default 30) */
    const struct mf_progress *progress;
};

enum mf_verdict {
    MF_FLASHED,          /* the new firmware runs */
    MF_NOT_FLASHED,      /* the bootloader did not take the file */
    MF_OLD_RUNNING,      /* the bootloader took the file but the old firmware runs */
};

struct mf_sdcard_result {
    enum mf_verdict verdict;
    char bus[160];
    char card[256];
    char running_before[128], running_after[128]; /* versions */
    char card_name[320];     /* file name written on the card */
    uint64_t bytes;
    double upload_seconds;
    bool used_sdio;
    char advice[1536];        /* what to do next, for the verdicts that need it */
};

void mf_sdcard_opts_init(struct mf_sdcard_opts *o);
/* Returns 0 when the new firmware runs (MF_FLASHED); -1 with err set
 * otherwise; result is filled as far as the flow got. */
int mf_sdcard_run(const struct mf_sdcard_opts *o, struct mf_sdcard_result *r, struct mf_err *err);

#endif
