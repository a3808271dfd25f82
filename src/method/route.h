/* The route seam: one way into a board (its SD card, Katapult, ...),
 * behind the steps that the shared workflow in method/flash.c calls in
 * order.  A route does its own talking to the board; preparing the image,
 * reconnecting to the new firmware, proving it runs, waiting for a power
 * cycle and the verdict's wording live once, in flash.c and verify.c.
 */
#ifndef MF_METHOD_ROUTE_H
#define MF_METHOD_ROUTE_H

#include <stdbool.h>

#include "method/flash.h"
#include "method/connect.h"
#include "method/fwprep.h"

struct mf_job;

struct mf_route {
    const char *name;
    unsigned accepts;          /* MF_ACCEPT_*: what the route writes besides a plain binary */
    /* The bootloader reports where it starts the application (Katapult's
     * CONNECT): the image's link address is checked against that once the
     * bootloader is reached, not against the board definition. */
    bool bootloader_gives_address;
    /* Before anything is touched: whether the route can write this image
     * at all (what its bootloader takes, where it starts it), beyond the
     * checks every route shares; NULL when those say all. */
    int (*check_image)(struct mf_job *j, struct mf_err *err);
    /* Reach the board as it runs now and check it against the board
     * definition and the image; nothing is written yet. */
    int (*open)(struct mf_job *j, struct mf_err *err);
    /* Write the image where the bootloader takes it and read it back. */
    int (*write)(struct mf_job *j, struct mf_err *err);
    /* written: start the new firmware (reset, COMPLETE).  Otherwise leave
     * the board safe: never start an image that was not fully written and
     * read back.  Always releases what open took. */
    int (*leave)(struct mf_job *j, bool written, struct mf_err *err);
    /* After reconnecting: running is 1 when the new firmware runs, 0 when
     * the old one does.  Sets the verdict and, when not flashed, the advice;
     * returns 0 (flashed) or -1 (MF_E_NOT_FLASHED). */
    int (*judge)(struct mf_job *j, int running, struct mf_err *err);
    /* The state a stop on request (Ctrl-C) while writing leaves the card
     * and the board in, after leave(written = false). */
    void (*stopped_writing)(const struct mf_job *j, char *buf, size_t cap);
    /* Whether a power cycle may still flash it (then --wait applies);
     * NULL: never. */
    bool (*power_cycle_helps)(const struct mf_job *j);
    void (*release)(struct mf_job *j);
};

struct mf_job {
    const struct mf_flash_opts *o;
    const struct mf_route *route;
    struct mf_flash_result *r;
    struct mf_firmware fw;
    char check_cmd[512]; /* the -c command line that verifies this flash later */
    char again_cmd[512]; /* the command line that runs this flash again */
    char mcu[64];        /* the board's MCU as the running firmware reports it */
    uint64_t started_us; /* when the new firmware was started, where the route then
                          * waited for it itself: the check's time counts from there
                          * (0: from the check) */
    void *state;         /* the route's own */
};

extern const struct mf_route mf_route_sdcard, mf_route_katapult, mf_route_dfu, mf_route_picoboot;

/* Whether the picoboot route is the one for o's target (why says so). */
bool mf_picoboot_suits(const struct mf_flash_opts *o, char *why, size_t cap);

/* The command that flashes o's target (through route, when not NULL), as
 * the front end spells it (mf_flash_opts.command); false, with buf empty,
 * when it gives none. */
bool mf_command(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap);

/* Shared steps (method/verify.c). */

/* Connect to the target after the new firmware was started (it may still be
 * re-enumerating), within timeout_s of j->started_us when set, and judge
 * what runs: 1 the new build (its dictionary is the image's, or the
 * klipper.dict's, to the byte), 0 another, -1 with err set when it did not
 * come back. */
int mf_check_running(struct mf_job *j, int timeout_s, struct mf_err *err);
/* Ask the user to power-cycle the board and watch it restart: 1 it runs the
 * new firmware, 0 it restarted with the old one, -1 timeout. */
int mf_wait_power_cycle(struct mf_job *j, struct mf_err *err);

/* The verdict when the new firmware runs: set it and say so. */
int mf_judge_flashed(struct mf_job *j);

/* What the running firmware said of itself before the flash: its version
 * for the summary and its MCU for the image check. */
struct kl_dict;
void mf_job_running(struct mf_job *j, const struct kl_dict *d);
/* Whether the firmware with dictionary d is the new build. */
bool mf_job_runs_new(const struct mf_job *j, const struct kl_dict *d);
/* The new build must talk over the interface (and at the baud rate) of
 * the firmware it replaces, by which the board is reached: else the board
 * cannot be reached once it runs.  MF_E_MISMATCH, nothing touched yet. */
int mf_job_check_interface(const struct mf_job *j, const struct kl_dict *running, struct mf_err *err);

/* A step worth telling the user about. */
void mf_job_note(struct mf_job *j, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
