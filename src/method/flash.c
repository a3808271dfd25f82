/* The workflow every route shares (method/flash.h), and the choice of route. */
#include "method/flash.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "method/connect.h"
#include "method/route.h"

static const struct mf_route *const routes[] = {
    &mf_route_sdcard,
    &mf_route_katapult,
    &mf_route_dfu,
    &mf_route_picoboot,
};

void mf_flash_opts_init(struct mf_flash_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->target.baud = MF_DEFAULT_BAUD;
    o->front_end = "flash";
    o->wait_timeout_s = 300;
    o->reconnect_timeout_s = 30;
}

const char *mf_verdict_name(enum mf_verdict v)
{
    switch (v) {
    case MF_FLASHED: return "flashed";
    case MF_NOT_FLASHED: return "not-flashed";
    case MF_OLD_RUNNING: return "old-firmware-running";
    }
    return "unknown";
}

static const struct mf_route *route_named(const char *name)
{
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (!strcasecmp(routes[i]->name, name))
            return routes[i];
    return NULL;
}

static void route_names(char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", routes[i]->name);
}

/* The route the user forced, or the one the board supports. */
static const struct mf_route *choose_route(const struct mf_flash_opts *o, struct mf_flash_result *r,
                                           struct mf_err *err)
{
    if (o->route) {
        const struct mf_route *rt = route_named(o->route);
        char names[128];
        route_names(names, sizeof(names));
        if (!rt)
            mf_fail(err, MF_E_USAGE, "There is no route called '%s'; nothing was done; the routes are: %s.", o->route,
                    names);
        else
            snprintf(r->route_why, sizeof(r->route_why), "asked for");
        return rt;
    }
    if (!o->target.can_uuid && (!o->board || o->board->katapult == BOARD_KATAPULT_UNKNOWN) &&
        mf_picoboot_suits(o, r->route_why, sizeof(r->route_why)))
        return &mf_route_picoboot;
    if (o->target.device && !strncmp(o->target.device, "usb:", 4)) {
        snprintf(r->route_why, sizeof(r->route_why), "the target is a USB bootloader device");
        return &mf_route_dfu;
    }
    if (o->target.can_uuid) {
        snprintf(r->route_why, sizeof(r->route_why), "a CAN node is flashed through Katapult");
        return &mf_route_katapult;
    }
    if (o->board && o->board->katapult != BOARD_KATAPULT_UNKNOWN) {
        snprintf(r->route_why, sizeof(r->route_why), "board %s has Katapult on %s", o->board->name,
                 board_katapult_name(o->board->katapult));
        return &mf_route_katapult;
    }
    if (o->board && (o->board->spi_bus || o->board->sdio_bus)) {
        snprintf(r->route_why, sizeof(r->route_why), "board %s has its SD card wired to the MCU", o->board->name);
        return &mf_route_sdcard;
    }
    if (o->board && o->board->has_dfu) {
        snprintf(r->route_why, sizeof(r->route_why), "board %s has a USB DFU bootloader", o->board->name);
        return &mf_route_dfu;
    }
    /* Without a board definition only Katapult can work: the firmware is
     * asked to jump to it, and if it is not there mcuflash says so. */
    snprintf(r->route_why, sizeof(r->route_why), "%s",
             o->board ? "the board definition names no SD card wiring"
                      : "no board definition was given, and only Katapult needs none");
    return &mf_route_katapult;
}

const char *mf_flash_route_name(const struct mf_flash_opts *o)
{
    struct mf_flash_result r;
    struct mf_err err;
    const struct mf_route *rt = choose_route(o, &r, &err);
    return rt ? rt->name : o->route;
}

bool mf_command(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (o->command)
        o->command(o, route, check, buf, cap);
    return buf[0] != '\0';
}

/* Where the flow was when it was asked to stop. */
enum phase { PHASE_CHECK, PHASE_WRITE, PHASE_VERIFY };

/* A stop on request: say what state the card and the board are in. */
static int stopped(const struct mf_job *j, enum phase ph, struct mf_err *err)
{
    char state[600];
    switch (ph) {
    case PHASE_CHECK:
        snprintf(state, sizeof(state), "nothing was written");
        break;
    case PHASE_WRITE:
        if (j->route->stopped_writing)
            j->route->stopped_writing(j, state, sizeof(state));
        else
            snprintf(state, sizeof(state), "the write was cut short and nothing was started");
        break;
    case PHASE_VERIFY:
        snprintf(state, sizeof(state), "the new firmware was written and started, but not yet verified; check it "
                 "with '%s'", j->check_cmd);
        break;
    }
    return mf_fail(err, MF_E_INTERRUPTED, "Interrupted: %s.", state);
}

/* The route for the job; the SD-card route also needs the board definition. */
static int pick_route(struct mf_job *j, struct mf_err *err)
{
    j->route = choose_route(j->o, j->r, err);
    if (!j->route)
        return -1;
    j->r->route = j->route->name;
    if (j->route == &mf_route_sdcard && !j->o->board) {
        mf_fail(err, MF_E_USAGE, "The SD-card route needs the board definition, which says how the card is wired; "
                "nothing was done.");
        return mf_fact(err, MF_FACT_BOARD_NEEDED);
    }
    return 0;
}

/* The image read and checked for the board (j->fw), as the route sees it. */
static int check_for_route(struct mf_job *j, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    struct mf_fw_target t = { .accepts = j->route->accepts };
    if (j->route->bootloader_gives_address)
        t.mcu = o->board ? o->board->mcu : NULL;
    else
        t.board = o->board;
    return mf_firmware_check(o->firmware_path, o->dict_path, &t, &j->fw, err);
}

/* Whether the route can write the image at all. */
static int check_writable(struct mf_job *j, struct mf_err *err)
{
    return j->route->check_image ? j->route->check_image(j, err) : 0;
}

int mf_flash_preflight(const struct mf_flash_opts *o, struct mf_err *err)
{
    struct mf_flash_result r;
    struct mf_job j = { .o = o, .r = &r };
    memset(&r, 0, sizeof(r));
    int rc = pick_route(&j, err) < 0 || check_for_route(&j, err) < 0 ? -1 : check_writable(&j, err);
    mf_firmware_free(&j.fw);
    return rc;
}

int mf_flash_run(const struct mf_flash_opts *o, struct mf_flash_result *r, struct mf_err *err)
{
    struct mf_job j = { .o = o, .r = r };
    memset(r, 0, sizeof(*r));
    r->verdict = MF_NOT_FLASHED; /* until the new firmware is seen running */
    if (pick_route(&j, err) < 0)
        return -1;
    /* The route is repeated only where the user chose it. */
    mf_command(o, o->route ? j.route->name : NULL, true, j.check_cmd, sizeof(j.check_cmd));
    mf_command(o, o->route ? j.route->name : NULL, false, j.again_cmd, sizeof(j.again_cmd));
    if (strcmp(o->front_end, "sdcard"))
        mf_job_note(&j, "route", "Route: %s (%s).", r->route, r->route_why);
    int rc = check_for_route(&j, err);
    if (rc < 0)
        goto out;
    /* A route that learns the address from its bootloader checks again
     * there, and says then what it could not check. */
    if (j.fw.note[0] && !j.route->bootloader_gives_address)
        mf_job_note(&j, "note", "Note: %s", j.fw.note);
    if (o->check_only) {
        /* Judge what runs now, without writing or resetting first. */
        rc = mf_check_running(&j, o->reconnect_timeout_s, err);
        if (rc != -1)
            rc = j.route->judge(&j, rc, err);
        goto out;
    }
    enum phase ph = PHASE_CHECK;
    rc = check_writable(&j, err);
    if (rc == 0)
        rc = j.route->open(&j, err);
    if (rc == 0) {
        ph = PHASE_WRITE;
        rc = j.route->write(&j, err);
    }
    /* Leave in any case: on failure the route leaves the board safe. */
    bool written = rc == 0;
    struct mf_err lerr;
    if (j.route->leave(&j, written, written ? err : &lerr) < 0)
        rc = -1;
    if (rc < 0) {
        if (err->code == MF_E_INTERRUPTED)
            rc = stopped(&j, ph, err);
        goto out;
    }
    ph = PHASE_VERIFY;
    int running = mf_check_running(&j, o->reconnect_timeout_s, err);
    if (running == 0 && o->wait_power_cycle && j.route->power_cycle_helps && j.route->power_cycle_helps(&j)) {
        running = mf_wait_power_cycle(&j, err);
        if (running < 0 && err->code != MF_E_INTERRUPTED) {
            rc = -1;
            goto out;
        }
    }
    if (running < 0 && err->code == MF_E_INTERRUPTED) {
        rc = stopped(&j, ph, err);
        goto out;
    }
    rc = j.route->judge(&j, running, err);
out:
    if (j.route->release)
        j.route->release(&j);
    mf_firmware_free(&j.fw);
    return rc;
}
