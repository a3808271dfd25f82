/* The SD-card route: the board's running Klipper firmware drives its SD
 * card; the image goes on the card under a temporary name, is read back and
 * renamed to the name the bootloader looks for, and a reset lets the
 * bootloader flash it.  When the new firmware does not run, the card tells
 * which case it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "klipper/mcu.h"
#include "link/resetline.h"
#include "method/card.h"
#include "method/connect.h"
#include "method/route.h"
#include "method/safewrite.h"
#include "util/clock.h"

/* A USB board drops off the bus within this time of a reset. */
#define GONE_WINDOW_MS 1500

/* What verification found on the card. */
struct card_state {
    bool checked;
    bool pending;        /* the uploaded file is still there under its name */
    bool pending_other;  /* -c: ... but it is not the image given (another build) */
    bool current;        /* the renamed file is there */
    bool current_ours;   /* ... and holds exactly what we uploaded */
    char why_not[sizeof(((struct mf_err *)0)->msg)]; /* why the card could not be checked */
};

struct sd_state {
    struct mf_card card;
    bool card_open;
    bool renames;           /* the bootloader renames the file after flashing */
    bool needs_power_cycle; /* SD-mode bootloader and the card was put in SPI mode */
    uint32_t uploaded_cluster; /* where the uploaded file starts (0: unknown) */
    bool ran_other_build;   /* the board ran another build when we connected */
};

static struct sd_state *state(struct mf_job *j)
{
    if (!j->state) {
        struct sd_state *s = calloc(1, sizeof(*s));
        const struct board *b = j->o->board;
        if (!s)
            return NULL;
        s->renames = board_bl_renames(b);
        j->state = s;
    }
    return j->state;
}

static const char *version_of(const struct kl_dict *d)
{
    return d->version ? d->version : "an unknown version";
}

/* Path on the card for a board file name. */
static void card_path(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "/%.*s", (int)(cap - 2), name[0] == '/' ? name + 1 : name);
}

static bool ends_with_bin(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && !strcasecmp(name + n - 4, ".bin");
}

/* Creality-style bootloaders skip a file named like the last one they
 * flashed: every upload gets a new name, and older .bin files go. */
static int remove_other_bins(struct mf_job *j, struct fat_volume *vol, const char *keep, struct mf_err *err)
{
    struct fat_dir *d;
    if (fat_dir_open(vol, "/", &d, err) < 0)
        return -1;
    char (*names)[FAT_NAME_MAX + 2] = NULL;
    size_t n = 0;
    struct fat_entry e;
    int rc;
    while ((rc = fat_dir_next(d, &e, err)) == 1) {
        if ((e.attr & FAT_ATTR_DIRECTORY) || !ends_with_bin(e.name) || !strcasecmp(e.name, keep + 1))
            continue;
        void *nn = realloc(names, (n + 1) * sizeof(*names));
        if (!nn) {
            rc = mf_fail(err, MF_E_FAIL, "Out of memory.");
            break;
        }
        names = nn;
        snprintf(names[n++], sizeof(names[0]), "/%s", e.name);
    }
    fat_dir_close(d);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = fat_delete(vol, names[i], err);
        if (rc == 0)
            mf_job_note(j, "removed", "Removed the older firmware file %s, so the bootloader cannot pick it.",
                        names[i] + 1);
    }
    free(names);
    return rc < 0 ? -1 : 0;
}

/* Connect, check the board, choose the bus and mount the card. */
static int sdcard_open(struct mf_job *j, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    const struct board *b = o->board;
    struct sd_state *s = state(j);
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    struct mf_card *c = &s->card;
    s->card_open = true;
    if (mf_card_connect(o->target.device, o->target.baud, o->progress, c, err) < 0)
        return -1;
    const struct kl_dict *d = kl_session_dict(c->conn.session);
    const char *mcu = kl_dict_const(d, "MCU");
    snprintf(j->r->running_before, sizeof(j->r->running_before), "%s", version_of(d));
    if (!mcu || strcmp(mcu, b->mcu))
        return mf_fail(err, MF_E_MISMATCH, "The board at %s has a %s, but board definition %s is for a %s; nothing "
                       "was changed; check the board name ('mcuflash boards %s*').", o->target.device,
                       mcu ? mcu : "unknown MCU", b->name, b->mcu, mcu ? mcu : "");
    snprintf(j->mcu, sizeof(j->mcu), "%s", mcu);
    if (mf_job_check_interface(j, d, err) < 0)
        return -1;
    s->ran_other_build = !mf_job_runs_new(j, d);
    mf_job_note(j, "connected", "Connected to %s: %s running %s.", o->target.device, mcu, j->r->running_before);
    struct mf_bus_spec spec;
    if (mf_bus_from_board(b, d, o->fast_spi, &spec, err) < 0)
        return -1;
    mf_bus_describe(&spec, j->r->bus, sizeof(j->r->bus));
    j->r->used_sdio = spec.kind == MF_BUS_SDIO;
    s->needs_power_cycle = !j->r->used_sdio && board_bl_reads_sd_mode(b);
    if (mf_card_attach(c, &spec, true, err) < 0)
        return -1;
    sd_describe(sd_card_info(c->card), j->r->card, sizeof(j->r->card));
    mf_job_note(j, "card", "Card: %s.", j->r->card);
    return 0;
}

/* A step after the new file took its name failed: the card is not as it
 * was, and the reset that follows lets the bootloader flash that file,
 * which was read back whole.  Only what went wrong is kept of the lower
 * layer's sentence, not what it says it left untouched. */
static int failed_after_publish(const struct mf_job *j, const char *step, struct mf_err *err)
{
    struct mf_err why = *err;
    char *rest = strstr(why.msg, "; ");
    if (rest)
        *rest = '\0';
    size_t n = strlen(why.msg);
    if (n && why.msg[n - 1] == '.')
        why.msg[n - 1] = '\0';
    return mf_fail(err, why.code, "The new firmware is on the card as %s, written and read back whole, but %s "
                   "failed (%.300s); the board is reset so that its bootloader flashes it; check the result with "
                   "'%s'.", j->r->card_name, step, why.msg, j->check_cmd);
}

static int sdcard_write(struct mf_job *j, struct mf_err *err)
{
    const struct board *b = j->o->board;
    struct sd_state *s = j->state;
    struct mf_card *c = &s->card;
    struct mf_flash_result *r = j->r;
    char target[320];
    if (board_bl_unique_names(b)) {
        /* A name the card does not hold yet (two flashes within a second
         * would otherwise share one, and the bootloader skip the second). */
        time_t t = time(NULL);
        for (int tries = 0;; tries++, t++) {
            char stamp[32];
            struct fat_entry e;
            strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", localtime(&t));
            snprintf(target, sizeof(target), "/%s%s", stamp, b->firmware_path);
            int ex = fat_stat(c->vol, target, &e, err);
            if (ex < 0)
                return -1;
            if (!ex || tries == 60)
                break;
        }
    } else {
        card_path(b->firmware_path, target, sizeof(target));
    }
    snprintf(r->card_name, sizeof(r->card_name), "%s", target + 1);
    if (mf_card_check_writable(c, err) < 0)
        return -1;
    mf_job_note(j, "upload", "Writing %s (%zu bytes) to the card over %s.", r->card_name, j->fw.card.size, r->bus);
    uint64_t t0 = mf_now_us();
    if (mf_fat_put(c->vol, target, j->fw.card.data, (uint32_t)j->fw.card.size, j->o->progress, err) < 0)
        return -1;
    r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    r->bytes = j->fw.card.size;
    struct fat_entry up;
    if (fat_stat(c->vol, target, &up, err) == 1)
        s->uploaded_cluster = up.first_cluster;
    mf_job_note(j, "uploaded", "Wrote %s and read it back: identical (%.1f KiB in %.1f s, %.1f KiB/s).",
                r->card_name, (double)r->bytes / 1024, r->upload_seconds,
                r->upload_seconds > 0 ? (double)r->bytes / 1024 / r->upload_seconds : 0.0);
    if (board_bl_unique_names(b) && remove_other_bins(j, c->vol, target, err) < 0)
        return failed_after_publish(j, "removing the older firmware files", err);
    /* A renamed file from an earlier flash would make the bootloader's
     * rename fail (some then flash on every boot), and would hide whether it
     * ran this time. */
    if (s->renames) {
        char cur[320];
        struct fat_entry e;
        card_path(b->current_firmware_path, cur, sizeof(cur));
        int ex = fat_stat(c->vol, cur, &e, err);
        if (ex < 0 || (ex && fat_delete(c->vol, cur, err) < 0))
            return failed_after_publish(j, "removing the last flash's renamed file", err);
    }
    if (fat_copies_resynced(c->vol))
        mf_job_note(j, "repaired", "The card's two FAT copies differed (a write was cut short); they were "
                    "made the same again, keeping every cluster either copy had in use.");
    return 0;
}

/* printer.cfg's restart_method arduino or cheetah: the board's reset pin
 * hangs on the DTR line, and Klipper resets it that way. */
static bool resets_by_line(const struct mf_job *j, enum reset_line_style *style)
{
    const char *m = j->o->target.restart_method;
    if (!m || (strcmp(m, "arduino") && strcmp(m, "cheetah")))
        return false;
    *style = strcmp(m, "cheetah") ? RESET_LINE_ARDUINO : RESET_LINE_CHEETAH;
    return true;
}

/* A port without modem lines cannot do that: Klipper's reset command then. */
static void reset_by_line(struct mf_job *j, enum reset_line_style style)
{
    const struct mf_target *t = &j->o->target;
    struct mf_err e;
    if (reset_line_pulse(t->device, style, &e) == 0)
        return;
    mf_job_note(j, "reset", "restart_method %s: %s Resetting the board with Klipper's reset command instead.",
                t->restart_method, e.msg);
    struct mf_conn conn;
    if (mf_connect(t->device, t->baud, &conn, &e) == 0) {
        kl_mcu_reset(conn.session, &e);
        mf_disconnect(&conn);
    }
}

/* Unmount and reset in any case: on failure the reset leaves the board as
 * after power-on, and the card holds at most the temporary file. */
static int sdcard_leave(struct mf_job *j, bool written, struct mf_err *err)
{
    struct sd_state *s = j->state;
    if (!s || !s->card_open)
        return 0;
    enum reset_line_style style;
    bool by_line = resets_by_line(j, &style);
    if (written)
        mf_job_note(j, "reset", "Resetting the board%s%s%s so its bootloader flashes the file.",
                    by_line ? " through its DTR line (restart_method " : "", by_line ? j->o->target.restart_method : "",
                    by_line ? ")" : "");
    s->card_open = false;
    int rc = mf_card_close(&s->card, !by_line, err);
    if (by_line)
        reset_by_line(j, style);
    if (written && rc == 0) {
        struct mf_err gone;
        link_wait_gone(j->o->target.device, GONE_WINDOW_MS, &gone);
    }
    return rc;
}

/* Whether the renamed file is the one uploaded.  When the new firmware
 * runs, the file read back before the reset is known good and a rename
 * moves no data: the entry's start and size tell.  Otherwise every byte is
 * compared, to tell what the bootloader did with it. */
static bool renamed_is_ours(struct mf_job *j, struct fat_volume *vol, const char *cur, const struct fat_entry *e,
                            bool runs_new)
{
    struct sd_state *s = j->state;
    uint32_t size = (uint32_t)j->fw.card.size;
    struct mf_err err;
    if (runs_new && s->uploaded_cluster)
        return e->size == size && e->first_cluster == s->uploaded_cluster;
    return mf_fat_compare(vol, cur, j->fw.card.data, size, NULL, &err) == 1;
}

/* Look at the card after the reset: was the file renamed, is it ours. */
static void inspect_card(struct mf_job *j, struct card_state *cs, bool runs_new, bool cleanup)
{
    struct sd_state *s = j->state;
    const struct board *b = j->o->board;
    struct mf_card c;
    struct mf_err err;
    memset(cs, 0, sizeof(*cs));
    struct mf_bus_spec spec;
    if (mf_card_connect(j->o->target.device, j->o->target.baud, NULL, &c, &err) < 0) {
        snprintf(cs->why_not, sizeof(cs->why_not), "%s", err.msg);
        return;
    }
    if (mf_bus_from_board(b, kl_session_dict(c.conn.session), j->o->fast_spi, &spec, &err) < 0 ||
        mf_card_attach(&c, &spec, true, &err) < 0) {
        snprintf(cs->why_not, sizeof(cs->why_not), "%s", err.msg);
        mf_card_close_settled(&c, &err);
        return;
    }
    if (spec.kind != MF_BUS_SDIO && board_bl_reads_sd_mode(b))
        s->needs_power_cycle = true;
    char pend[320], cur[320];
    struct fat_entry e;
    card_path(j->r->card_name[0] ? j->r->card_name : b->firmware_path, pend, sizeof(pend));
    card_path(b->current_firmware_path, cur, sizeof(cur));
    cs->checked = true;
    cs->pending = fat_stat(c.vol, pend, &e, &err) == 1;
    /* Checking only: the file there may be another build than the one
     * named, which a power cycle would not turn into it. */
    if (j->o->check_only && cs->pending)
        cs->pending_other = mf_fat_compare(c.vol, pend, j->fw.card.data, (uint32_t)j->fw.card.size, NULL, &err) == 0;
    if (s->renames) {
        cs->current = fat_stat(c.vol, cur, &e, &err) == 1;
        cs->current_ours = cs->current && renamed_is_ours(j, c.vol, cur, &e, runs_new);
    }
    /* A bootloader that does not rename would flash the file at every boot. */
    if (cleanup && cs->pending && !s->renames && !board_bl_unique_names(b) && fat_delete(c.vol, pend, &err) == 0) {
        cs->pending = false;
        mf_job_note(j, "removed", "Removed %s from the card so the bootloader does not flash it again at every boot.",
                    pend + 1);
    }
    mf_card_close_settled(&c, &err);
}

/* The advice for a file the bootloader did not take; true when a power
 * cycle flashes it (and so could be waited for). */
static bool advise(struct mf_job *j, const struct card_state *cs)
{
    struct sd_state *s = j->state;
    struct mf_flash_result *r = j->r;
    const struct mf_flash_opts *o = j->o;
    const struct board *b = o->board;
    const char *pend = r->card_name[0] ? r->card_name : b->firmware_path;
    if (cs->checked && cs->pending_other) {
        snprintf(r->advice, sizeof(r->advice),
                 "The board runs %s, and %s on the card is another build than %s, so that image was never put on "
                 "the card; run '%s' to flash it.", r->running_after, pend, o->firmware_path, j->again_cmd);
        return false;
    }
    if (s->needs_power_cycle && (!cs->checked || cs->pending)) {
        snprintf(r->advice, sizeof(r->advice),
                 "The firmware is on the card as %s, but this board's bootloader reads the card in SD mode and the "
                 "card stays in SPI mode until it loses power, so a reset cannot flash it. Switch the board off, "
                 "wait a few seconds and switch it on; then run '%s' to verify.", pend, j->check_cmd);
        return true;
    }
    if (cs->checked && cs->pending)
        snprintf(r->advice, sizeof(r->advice),
                 "The bootloader did not take the file: %s is still on the card unrenamed, so it could not read the "
                 "card or did not run. Power-cycle the board and run '%s'; if it still does not flash, check that "
                 "the board has the SD-card bootloader and expects the name %s ('mcuflash boards show %s').", pend,
                 j->check_cmd, b->firmware_path, b->name);
    else if (cs->checked && cs->current && cs->current_ours)
        snprintf(r->advice, sizeof(r->advice),
                 "The bootloader read the file (it renamed it to %s) but the board still runs %s: the image was "
                 "probably built for another bootloader offset or chip; check 'make menuconfig' in ~/klipper against "
                 "the board's documentation, rebuild and flash again.", b->current_firmware_path, r->running_after);
    else if (cs->checked && s->renames)
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and %s is gone from the card without a matching %s; the bootloader may "
                 "have failed while flashing. Power-cycle the board and check with 'mcuflash info %s'.",
                 r->running_after, pend, b->current_firmware_path, o->target.device);
    else if (cs->checked)
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and %s is gone from the card; the bootloader may have failed while "
                 "flashing. Power-cycle the board and check with 'mcuflash info %s'.", r->running_after, pend,
                 o->target.device);
    else
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and its card could not be checked (%.300s). Power-cycle the board and run "
                 "'%s'.", r->running_after, cs->why_not, j->check_cmd);
    return false;
}

static int sdcard_judge(struct mf_job *j, int running, struct mf_err *err)
{
    struct sd_state *s = state(j);
    struct mf_flash_result *r = j->r;
    if (!s)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    if (running < 0) {
        char why[sizeof(err->msg)];
        memcpy(why, err->msg, sizeof(why));
        return mf_fail(err, MF_E_DEVICE, "The firmware is on the card as %s, but the board did not come back after "
                       "the reset (%s) If it is flashing, give it a minute and run '%s'; otherwise power-cycle it.",
                       r->card_name, why, j->check_cmd);
    }
    /* Another build ran before and the new one runs now: the bootloader
     * flashed the file, and one that renames took it off the card.  The
     * card is left alone, and with it the reset and re-enumeration that
     * configuring its bus would cost. */
    if (running == 1 && s->ran_other_build && s->renames)
        return mf_judge_flashed(j);
    struct card_state cs;
    /* A bootloader that does not rename leaves the file; one that renames
     * and left it did not run (the same build may have been running). */
    inspect_card(j, &cs, running == 1, running == 1 && !s->renames);
    if (running == 1 && !(s->renames && cs.checked && cs.pending)) {
        mf_judge_flashed(j);
        if (cs.checked && s->renames && cs.current && !cs.current_ours)
            mf_job_note(j, "warning", "Note: %s on the card does not match the uploaded image.",
                        j->o->board->current_firmware_path);
        return 0;
    }
    r->verdict = cs.checked && cs.current_ours ? MF_OLD_RUNNING : MF_NOT_FLASHED;
    bool power_cycle = advise(j, &cs);
    mf_fail(err, MF_E_NOT_FLASHED, "%s", r->advice);
    return mf_fact(err, power_cycle && !j->o->wait_power_cycle ? MF_FACT_POWER_CYCLE : MF_FACT_NONE);
}

static void sdcard_stopped_writing(const struct mf_job *j, char *buf, size_t cap)
{
    snprintf(buf, cap, "the card's files are unchanged (the temporary %s goes with the next run) and nothing was "
             "flashed; the board was reset", MF_TEMP_NAME);
}

static bool sdcard_power_cycle_helps(const struct mf_job *j)
{
    (void)j;
    return true; /* the bootloader runs at every power-on and finds the file */
}

static void sdcard_release(struct mf_job *j)
{
    struct sd_state *s = j->state;
    if (s && s->card_open) {
        struct mf_err ignore;
        mf_card_close(&s->card, true, &ignore);
    }
    free(s);
    j->state = NULL;
}

const struct mf_route mf_route_sdcard = {
    .name = "sdcard",
    .accepts = MF_ACCEPT_CARD,
    .open = sdcard_open,
    .write = sdcard_write,
    .leave = sdcard_leave,
    .judge = sdcard_judge,
    .power_cycle_helps = sdcard_power_cycle_helps,
    .stopped_writing = sdcard_stopped_writing,
    .release = sdcard_release,
};
