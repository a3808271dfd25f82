#include "method/sdcard.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "klipper/mcu.h"
#include "method/card.h"
#include "method/fwprep.h"
#include "method/reconnect.h"
#include "method/safewrite.h"
#include "util/clock.h"

/* What verification found on the card. */
struct card_state {
    bool checked;
    bool pending;        /* the uploaded file is still there under its name */
    bool current;        /* the renamed file is there */
    bool current_ours;   /* ... and holds exactly what we uploaded */
    char why_not[sizeof(((struct mf_err *)0)->msg)]; /* why the card could not be checked */
};

struct flow {
    const struct mf_sdcard_opts *o;
    const struct board *b;
    struct mf_firmware fw;
    struct mf_sdcard_result *r;
    char check_cmd[400]; /* the -c command line that verifies this flash later */
    bool renames;        /* the bootloader renames the file after flashing */
    bool needs_power_cycle; /* SD-mode bootloader and the card was put in SPI mode */
};

void mf_sdcard_opts_init(struct mf_sdcard_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->baud = MF_DEFAULT_BAUD;
    o->wait_timeout_s = 300;
    o->reconnect_timeout_s = 30;
}

static void note(struct flow *f, const char *event, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void note(struct flow *f, const char *event, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mf_progress_note(f->o->progress, event, text);
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

static bool same_text(const char *a, size_t alen, const char *b, size_t blen)
{
    return a && b && alen == blen && !memcmp(a, b, alen);
}

/* The firmware now running is the new build: its dictionary is the image's
 * (or the klipper.dict's) to the byte. */
static bool runs_new(struct flow *f, const struct kl_dict *now)
{
    return same_text(now->json, now->json_len, f->fw.expect_json, f->fw.expect_len);
}

static void make_check_cmd(struct flow *f)
{
    const struct mf_sdcard_opts *o = f->o;
    size_t n = (size_t)snprintf(f->check_cmd, sizeof(f->check_cmd), "mcuflash sdcard -c");
    if (o->baud != MF_DEFAULT_BAUD && n < sizeof(f->check_cmd))
        n += (size_t)snprintf(f->check_cmd + n, sizeof(f->check_cmd) - n, " -b %u", o->baud);
    if (o->firmware_given && n < sizeof(f->check_cmd))
        n += (size_t)snprintf(f->check_cmd + n, sizeof(f->check_cmd) - n, " -f %s", o->firmware_path);
    if (o->dict_path && n < sizeof(f->check_cmd))
        n += (size_t)snprintf(f->check_cmd + n, sizeof(f->check_cmd) - n, " -d %s", o->dict_path);
    if (n < sizeof(f->check_cmd))
        snprintf(f->check_cmd + n, sizeof(f->check_cmd) - n, " %s %s", o->device, f->b->name);
}

static bool ends_with_bin(const char *name)
{
    size_t n = strlen(name);
    return n >= 4 && !strcasecmp(name + n - 4, ".bin");
}

/* Creality-style bootloaders skip a file named like the last one they
 * flashed: every upload gets a new name, and older .bin files go. */
static int remove_other_bins(struct flow *f, struct fat_volume *vol, const char *keep, struct mf_err *err)
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
            note(f, "removed", "Removed the older firmware file %s, so the bootloader cannot pick it.", names[i] + 1);
    }
    free(names);
    return rc < 0 ? -1 : 0;
}

static int upload(struct flow *f, struct mf_card *c, struct mf_err *err)
{
    const struct board *b = f->b;
    char target[320];
    if (b->unique_name) {
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
    snprintf(f->r->card_name, sizeof(f->r->card_name), "%s", target + 1);
    struct fat_info fi;
    if (fat_info(c->vol, false, &fi, err) < 0)
        return -1;
    if (!fi.writable)
        return mf_fail(err, MF_E_CARD, "The card in %s is write-protected or its filesystem is marked as not "
                       "cleanly unmounted; nothing was written; unlock the card, or check it with fsck.fat on a "
                       "computer, then try again.", b->name);
    note(f, "upload", "Writing %s (%zu bytes) to the card over %s.", f->r->card_name, f->fw.card.size, f->r->bus);
    uint64_t t0 = mf_now_us();
    if (mf_fat_put(c->vol, target, f->fw.card.data, (uint32_t)f->fw.card.size, f->o->progress, err) < 0)
        return -1;
    f->r->upload_seconds = (double)(mf_now_us() - t0) / 1e6;
    f->r->bytes = f->fw.card.size;
    note(f, "uploaded", "Wrote %s and read it back: identical (%.1f KiB in %.1f s, %.1f KiB/s).", f->r->card_name,
         (double)f->r->bytes / 1024, f->r->upload_seconds,
         f->r->upload_seconds > 0 ? (double)f->r->bytes / 1024 / f->r->upload_seconds : 0.0);
    if (b->unique_name && remove_other_bins(f, c->vol, target, err) < 0)
        return -1;
    /* A renamed file from an earlier flash would make the bootloader's
     * rename fail (some then flash on every boot), and would hide whether it
     * ran this time. */
    if (f->renames) {
        char cur[320];
        struct fat_entry e;
        card_path(b->current_firmware_path, cur, sizeof(cur));
        int ex = fat_stat(c->vol, cur, &e, err);
        if (ex < 0 || (ex && fat_delete(c->vol, cur, err) < 0))
            return -1;
    }
    return 0;
}

/* Look at the card after the reset: was the file renamed, is it ours. */
static void inspect_card(struct flow *f, struct card_state *cs, bool cleanup)
{
    struct mf_card c;
    struct mf_err err;
    memset(cs, 0, sizeof(*cs));
    const struct board *b = f->b;
    struct mf_bus_spec spec;
    if (mf_card_connect(f->o->device, f->o->baud, NULL, &c, &err) < 0) {
        snprintf(cs->why_not, sizeof(cs->why_not), "%s", err.msg);
        return;
    }
    if (mf_bus_from_board(b, kl_session_dict(c.conn.session), f->o->fast_spi, &spec, &err) < 0 ||
        mf_card_attach(&c, &spec, true, &err) < 0) {
        snprintf(cs->why_not, sizeof(cs->why_not), "%s", err.msg);
        mf_card_close(&c, true, &err);
        return;
    }
    if (spec.kind != MF_BUS_SDIO && b->card_access == BOARD_CARD_SDIO)
        f->needs_power_cycle = true;
    char pend[320], cur[320];
    struct fat_entry e;
    card_path(f->r->card_name[0] ? f->r->card_name : b->firmware_path, pend, sizeof(pend));
    card_path(b->current_firmware_path, cur, sizeof(cur));
    cs->checked = true;
    cs->pending = fat_stat(c.vol, pend, &e, &err) == 1;
    if (f->renames) {
        cs->current = fat_stat(c.vol, cur, &e, &err) == 1;
        cs->current_ours = cs->current &&
                           mf_fat_compare(c.vol, cur, f->fw.card.data, (uint32_t)f->fw.card.size, NULL, &err) == 1;
    }
    /* A bootloader that does not rename would flash the file at every boot. */
    if (cleanup && cs->pending && !f->renames && !b->unique_name && fat_delete(c.vol, pend, &err) == 0) {
        cs->pending = false;
        note(f, "removed", "Removed %s from the card so the bootloader does not flash it again at every boot.",
             pend + 1);
    }
    mf_card_close(&c, true, &err);
}

/* Connect after a reset and judge what runs.  Returns 1 new firmware,
 * 0 old firmware, or -1 with err set (it did not come back). */
static int check_running(struct flow *f, int timeout_s, struct mf_err *err)
{
    struct mf_conn conn;
    if (mf_connect_wait(f->o->device, f->o->baud, timeout_s * 1000, &conn, err) < 0)
        return -1;
    const struct kl_dict *d = kl_session_dict(conn.session);
    snprintf(f->r->running_after, sizeof(f->r->running_after), "%s", version_of(d));
    const char *mcu = kl_dict_const(d, "MCU");
    int rc = runs_new(f, d) ? 1 : 0;
    if (mcu && strcmp(mcu, f->b->mcu))
        rc = mf_fail(err, MF_E_MISMATCH, "After the reset the board reports a %s, not a %s; check the board "
                     "definition.", mcu, f->b->mcu);
    mf_disconnect(&conn);
    return rc;
}

static void advise(struct flow *f, const struct card_state *cs)
{
    struct mf_sdcard_result *r = f->r;
    const struct mf_sdcard_opts *o = f->o;
    const char *pend = r->card_name[0] ? r->card_name : f->b->firmware_path;
    if (f->needs_power_cycle && (!cs->checked || cs->pending))
        snprintf(r->advice, sizeof(r->advice),
                 "The firmware is on the card as %s, but this board's bootloader reads the card in SD mode and the "
                 "card stays in SPI mode until it loses power, so a reset cannot flash it. Switch the board off, "
                 "wait a few seconds and switch it on; then run '%s' to verify%s.", pend, f->check_cmd,
                 o->wait_power_cycle ? "" : " (or use --wait to have mcuflash wait for the power cycle)");
    else if (cs->checked && cs->pending)
        snprintf(r->advice, sizeof(r->advice),
                 "The bootloader did not take the file: %s is still on the card unrenamed, so it could not read the "
                 "card or did not run. Power-cycle the board and run '%s'; if it still does not flash, check that "
                 "the board has the SD-card bootloader and expects the name %s ('mcuflash boards show %s').", pend,
                 f->check_cmd, f->b->firmware_path, f->b->name);
    else if (cs->checked && cs->current && cs->current_ours)
        snprintf(r->advice, sizeof(r->advice),
                 "The bootloader read the file (it renamed it to %s) but the board still runs %s: the image was "
                 "probably built for another bootloader offset or chip; check 'make menuconfig' in ~/klipper against "
                 "the board's documentation, rebuild and flash again.", f->b->current_firmware_path,
                 r->running_after);
    else if (cs->checked && f->renames)
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and %s is gone from the card without a matching %s; the bootloader may "
                 "have failed while flashing. Power-cycle the board and check with 'mcuflash info %s'.",
                 r->running_after, pend, f->b->current_firmware_path, o->device);
    else if (cs->checked)
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and %s is gone from the card; the bootloader may have failed while "
                 "flashing. Power-cycle the board and check with 'mcuflash info %s'.", r->running_after, pend,
                 o->device);
    else
        snprintf(r->advice, sizeof(r->advice),
                 "The board still runs %s and its card could not be checked (%.300s). Power-cycle the board and run "
                 "'%s'.", r->running_after, cs->why_not, f->check_cmd);
}

/* Wait for the user to power-cycle the board, then judge again. */
static int wait_for_power_cycle(struct flow *f, struct mf_err *err)
{
    note(f, "power-cycle", "Switch the board off, wait a few seconds and switch it on again; waiting up to %d s for "
         "it to come back.", f->o->wait_timeout_s);
    /* A restart shows as an uptime below what it would have reached. */
    uint64_t start_ticks = 0, start_us = mf_now_us(), deadline = start_us + (uint64_t)f->o->wait_timeout_s * 1000000u;
    int64_t freq = 0;
    struct mf_conn conn;
    if (mf_connect(f->o->device, f->o->baud, &conn, err) == 0) {
        kl_mcu_uptime(conn.session, &start_ticks, err);
        kl_dict_const_int(kl_session_dict(conn.session), "CLOCK_FREQ", &freq);
        start_us = mf_now_us();
        mf_disconnect(&conn);
    }
    while (mf_now_us() < deadline) {
        mf_sleep_us(500000);
        struct mf_err e2;
        if (mf_connect(f->o->device, f->o->baud, &conn, &e2) < 0)
            continue; /* off, or still starting */
        uint64_t ticks = UINT64_MAX, expected = start_ticks;
        kl_mcu_uptime(conn.session, &ticks, &e2);
        if (freq > 0)
            expected += (mf_now_us() - start_us) * (uint64_t)freq / 1000000u - (uint64_t)freq / 2;
        bool now_new = runs_new(f, kl_session_dict(conn.session));
        snprintf(f->r->running_after, sizeof(f->r->running_after), "%s", version_of(kl_session_dict(conn.session)));
        mf_disconnect(&conn);
        if (now_new)
            return 1;
        if (ticks < expected)
            return 0; /* it restarted, still on the old firmware */
    }
    return mf_fail(err, MF_E_NOT_FLASHED, "The board was not power-cycled within %d s; the firmware file stays on "
                   "the card and will be flashed at the next power-on; verify then with '%s'.",
                   f->o->wait_timeout_s, f->check_cmd);
}

static int verdict(struct flow *f, int running, struct mf_err *err)
{
    struct card_state cs;
    struct mf_sdcard_result *r = f->r;
    /* A bootloader that does not rename leaves the file; one that renames
     * and left it did not run (the same build may have been running). */
    inspect_card(f, &cs, running == 1 && !f->renames);
    if (running == 1 && !(f->renames && cs.checked && cs.pending)) {
        r->verdict = MF_FLASHED;
        note(f, "verified", "The board runs the new firmware (%s).", r->running_after);
        if (cs.checked && f->renames && cs.current && !cs.current_ours)
            note(f, "warning", "Note: %s on the card does not match the uploaded image.", f->b->current_firmware_path);
        return 0;
    }
    r->verdict = cs.checked && cs.current_ours ? MF_OLD_RUNNING : MF_NOT_FLASHED;
    advise(f, &cs);
    return mf_fail(err, MF_E_NOT_FLASHED, "%s", r->advice);
}

/* Connect, check the board, choose the bus and mount the card. */
static int open_card(struct flow *f, struct mf_card *c, struct mf_err *err)
{
    const struct mf_sdcard_opts *o = f->o;
    if (mf_card_connect(o->device, o->baud, o->progress, c, err) < 0)
        return -1;
    const struct kl_dict *d = kl_session_dict(c->conn.session);
    const char *mcu = kl_dict_const(d, "MCU");
    snprintf(f->r->running_before, sizeof(f->r->running_before), "%s", version_of(d));
    if (!mcu || strcmp(mcu, f->b->mcu))
        return mf_fail(err, MF_E_MISMATCH, "The board at %s has a %s, but board definition %s is for a %s; nothing "
                       "was changed; check the board name ('mcuflash boards %s*').", o->device, mcu ? mcu : "unknown MCU",
                       f->b->name, f->b->mcu, mcu ? mcu : "");
    note(f, "connected", "Connected to %s: %s running %s.", o->device, mcu, f->r->running_before);
    struct mf_bus_spec spec;
    if (mf_bus_from_board(f->b, d, o->fast_spi, &spec, err) < 0)
        return -1;
    mf_bus_describe(&spec, f->r->bus, sizeof(f->r->bus));
    f->r->used_sdio = spec.kind == MF_BUS_SDIO;
    f->needs_power_cycle = !f->r->used_sdio && f->b->card_access == BOARD_CARD_SDIO;
    if (mf_card_attach(c, &spec, true, err) < 0)
        return -1;
    sd_describe(sd_card_info(c->card), f->r->card, sizeof(f->r->card));
    note(f, "card", "Card: %s.", f->r->card);
    return 0;
}

int mf_sdcard_run(const struct mf_sdcard_opts *o, struct mf_sdcard_result *r, struct mf_err *err)
{
    struct flow f = { .o = o, .b = o->board, .r = r };
    memset(r, 0, sizeof(*r));
    r->verdict = MF_NOT_FLASHED; /* until the new firmware is seen running */
    /* Chitu bootloaders are not known to rename update.cbd. */
    f.renames = strcasecmp(o->board->firmware_path, o->board->current_firmware_path) != 0 &&
                !o->board->unique_name && o->board->conversion != BOARD_CONV_CHITU;
    make_check_cmd(&f);
    if (mf_firmware_prepare(o->firmware_path, o->dict_path, o->board, &f.fw, err) < 0) {
        mf_firmware_free(&f.fw);
        return -1;
    }
    int rc;
    struct mf_card c;
    memset(&c, 0, sizeof(c));
    if (o->check_only) {
        /* Judge what runs now, without uploading or resetting first. */
        rc = check_running(&f, o->reconnect_timeout_s, err);
        if (rc != -1)
            rc = verdict(&f, rc, err);
        goto out;
    }
    rc = open_card(&f, &c, err);
    if (rc == 0)
        rc = upload(&f, &c, err);
    if (rc == 0)
        note(&f, "reset", "Resetting the board so its bootloader flashes the file.");
    /* Reset in any case: on failure it leaves the board as after power-on. */
    struct mf_err cerr;
    if (mf_card_close(&c, true, rc == 0 ? err : &cerr) < 0)
        rc = -1;
    if (rc < 0)
        goto out;
    struct mf_err gone;
    link_wait_gone(o->device, 1500, &gone);
    int running = check_running(&f, o->reconnect_timeout_s, err);
    if (running == -1) {
        char why[sizeof(err->msg)];
        memcpy(why, err->msg, sizeof(why));
        rc = mf_fail(err, MF_E_DEVICE, "The firmware is on the card as %s, but the board did not come back after the "
                     "reset (%s) If it is flashing, give it a minute and run '%s'; otherwise "
                     "power-cycle it.", r->card_name, why, f.check_cmd);
        goto out;
    }
    if (running == 0 && o->wait_power_cycle) {
        rc = wait_for_power_cycle(&f, err);
        if (rc < 0)
            goto out;
        running = rc;
    }
    rc = verdict(&f, running, err);
out:
    mf_firmware_free(&f.fw);
    return rc;
}
