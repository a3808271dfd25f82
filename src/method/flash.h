/* Flashing a board: the one workflow every route runs.
 *
 * Prepare and check the image, reach the running firmware, enter the
 * bootloader, write and read back, start the new firmware, reconnect and
 * prove that it runs; when it does not, say which case it is and what to do.
 * How each step is done is the route's business (method/route.h).
 */
#ifndef MF_METHOD_FLASH_H
#define MF_METHOD_FLASH_H

#include <stdbool.h>
#include <stdint.h>

#include "board/board.h"
#include "method/progress.h"

/* What the user pointed at: a serial device, or a node on a CAN bus. */
struct mf_target {
    const char *device;    /* serial path; NULL for a CAN node */
    uint32_t baud;
    const char *can_iface; /* "can0", or "sim:PATH" for the virtual bus; with can_uuid */
    const char *can_uuid;  /* 12 hex digits; NULL for a serial device */
    const char *restart_method; /* printer.cfg's for a serial MCU ("arduino", "cheetah", "command",
                                 * "rpi_usb"); NULL: Klipper's reset command */
};

enum mf_verdict {
    MF_FLASHED,     /* the new firmware runs */
    MF_NOT_FLASHED, /* the bootloader did not take the image */
    MF_OLD_RUNNING, /* the bootloader took the image but the old firmware runs */
};

struct mf_flash_opts {
    struct mf_target target;
    const struct board *board; /* NULL where the route needs none */
    const char *route;         /* "sdcard", "katapult"; NULL: choose */
    const char *front_end;     /* "sdcard" or "flash": how advice repeats the command */
    const char *firmware_path;
    bool firmware_given;       /* -f was given (so the -c advice repeats it) */
    const char *dict_path;     /* klipper.dict to compare with; may be NULL */
    bool check_only;           /* -c: verify what runs (and what is on the card) */
    bool fast_spi;             /* -s */
    bool wait_power_cycle;     /* --wait */
    /* The caller asked the running firmware to start its bootloader just
     * before (update, for a CAN node): the image there is intact, so a run
     * that writes nothing starts it again. */
    bool bootloader_entered;
    int wait_timeout_s;        /* for --wait (default 300) */
    int reconnect_timeout_s;   /* after starting the new firmware (default 30) */
    const struct mf_progress *progress;
    /* How the user's command line spells the command that flashes this
     * target again (check: only verifies), through route when not NULL:
     * the front end's business, as it owns the option names.  The advice
     * quotes it; NULL: no command is quoted. */
    void (*command)(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap);
};

struct mf_flash_result {
    enum mf_verdict verdict;
    const char *route;         /* the route taken */
    char route_why[256];       /* why it was chosen */
    char running_before[128], running_after[128]; /* versions */
    uint64_t bytes;
    double upload_seconds;     /* writing and reading back */
    char advice[1536];         /* what to do next, for the verdicts that need it */
    /* sdcard */
    char bus[160];
    char card[256];
    char card_name[320];       /* file name written on the card */
    bool used_sdio;
    /* bootloader routes */
    char bootloader[200];      /* "Katapult v0.0.1-12-gabc (protocol 1.1.0), application at 0x08008000" */
};

void mf_flash_opts_init(struct mf_flash_opts *o);

/* Returns 0 when the new firmware runs (MF_FLASHED); -1 with err set
 * otherwise; result is filled as far as the flow got. */
int mf_flash_run(const struct mf_flash_opts *o, struct mf_flash_result *r, struct mf_err *err);

/* What mf_flash_run checks before it touches the board: its route, and
 * the image against the board definition and what that route can write.
 * 0, or -1 with the reason (which says nothing was changed). */
int mf_flash_preflight(const struct mf_flash_opts *o, struct mf_err *err);

/* The route mf_flash_run takes for these options (the one asked for, even
 * if there is none of that name), without touching the board. */
const char *mf_flash_route_name(const struct mf_flash_opts *o);

const char *mf_verdict_name(enum mf_verdict v);

#endif
