/* The steps after the new firmware was started, the same for every route:
 * find the board again and prove what it runs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "klipper/mcu.h"
#include "method/reconnect.h"
#include "method/route.h"
#include "util/clock.h"
#include "util/interrupt.h"

void mf_job_running(struct mf_job *j, const struct kl_dict *d)
{
    const char *mcu = kl_dict_const(d, "MCU");
    snprintf(j->r->running_before, sizeof(j->r->running_before), "%s", d->version ? d->version : "unknown");
    snprintf(j->mcu, sizeof(j->mcu), "%s", mcu ? mcu : "");
}

void mf_job_note(struct mf_job *j, const char *event, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mf_progress_note(j->o->progress, event, text);
}

static const char *version_of(const struct kl_dict *d)
{
    return d->version ? d->version : "an unknown version";
}

/* The firmware now running is the new build: its dictionary is the image's
 * (or the klipper.dict's) to the byte. */
bool mf_job_runs_new(const struct mf_job *j, const struct kl_dict *now)
{
    return j->fw.expect_json && now->json_len == j->fw.expect_len &&
           !memcmp(now->json, j->fw.expect_json, now->json_len);
}

int mf_job_check_interface(const struct mf_job *j, const struct kl_dict *running, struct mf_err *err)
{
    const struct kl_dict *next = j->fw.dict.dict;
    const char *now = kl_dict_interface(running), *built = kl_dict_interface(next);
    if (!now || !built)
        return 0; /* an older build on either side: nothing to compare */
    if (strcmp(now, built))
        return mf_fail(err, MF_E_MISMATCH, "%s is built to talk over %s, but the firmware it would replace talks over "
                       "%s, which is how mcuflash and Klipper reach this board; nothing was changed; in 'make "
                       "menuconfig' set 'Communication interface' to the board's %s interface, rebuild and try again.",
                       j->o->firmware_path, kl_interface_words(built), kl_interface_words(now),
                       kl_interface_words(now));
    int64_t was = 0, will = 0;
    if (!strcmp(now, "uart") && kl_dict_const_int(running, "SERIAL_BAUD", &was) &&
        kl_dict_const_int(next, "SERIAL_BAUD", &will) && was != will)
        return mf_fail(err, MF_E_MISMATCH, "%s is built for %lld baud, but the firmware it would replace talks at "
                       "%lld baud, as printer.cfg expects; nothing was changed; set 'Baud rate for serial port' in "
                       "'make menuconfig' to %lld, rebuild and try again.", j->o->firmware_path, (long long)will,
                       (long long)was, (long long)was);
    return 0;
}

/* The MCU the board must report: the definition's, else what it reported
 * before flashing, else the image's. */
static const char *expected_mcu(const struct mf_job *j)
{
    if (j->o->board)
        return j->o->board->mcu;
    return j->mcu[0] ? j->mcu : j->fw.mcu;
}

int mf_check_running(struct mf_job *j, int timeout_s, struct mf_err *err)
{
    struct mf_conn conn;
    uint64_t now = mf_now_us(), until = (j->started_us ? j->started_us : now) + (uint64_t)timeout_s * 1000000u;
    if (mf_target_connect_wait(&j->o->target, until > now ? (int)((until - now) / 1000u) : 0, &conn, err) < 0) {
        /* Part of the time went to waiting for the device: say the whole. */
        if (j->started_us && err->code != MF_E_INTERRUPTED && err->code != MF_E_USAGE && mf_now_us() >= until)
            mf_fail(err, MF_E_DEVICE, "%s did not answer within %d s of the new firmware being started.",
                    j->o->target.device, timeout_s);
        return -1;
    }
    const struct kl_dict *d = kl_session_dict(conn.session);
    snprintf(j->r->running_after, sizeof(j->r->running_after), "%s", version_of(d));
    const char *mcu = kl_dict_const(d, "MCU"), *want = expected_mcu(j);
    int rc = mf_job_runs_new(j, d) ? 1 : 0;
    if (mcu && want && strcmp(mcu, want))
        rc = mf_fail(err, MF_E_MISMATCH, "After the reset the board reports a %s, not a %s; check the board "
                     "definition.", mcu, want);
    mf_disconnect(&conn);
    return rc;
}

int mf_wait_power_cycle(struct mf_job *j, struct mf_err *err)
{
    const struct mf_flash_opts *o = j->o;
    mf_job_note(j, "power_cycle", "Switch the board off, wait a few seconds and switch it on again; waiting up to "
                "%d s for it to come back.", o->wait_timeout_s);
    /* A restart shows as an uptime below what it would have reached. */
    uint64_t start_ticks = 0, start_us = mf_now_us(), deadline = start_us + (uint64_t)o->wait_timeout_s * 1000000u;
    int64_t freq = 0;
    struct mf_conn conn;
    if (mf_target_connect(&o->target, &conn, err) == 0) {
        kl_mcu_uptime(conn.session, &start_ticks, err);
        kl_dict_const_int(kl_session_dict(conn.session), "CLOCK_FREQ", &freq);
        start_us = mf_now_us();
        mf_disconnect(&conn);
    }
    while (mf_now_us() < deadline) {
        mf_sleep_us(500000);
        if (mf_interrupt_check(err) < 0)
            return -1;
        struct mf_err e2;
        if (mf_target_connect(&o->target, &conn, &e2) < 0)
            continue; /* off, or still starting */
        uint64_t ticks = UINT64_MAX, expected = start_ticks;
        kl_mcu_uptime(conn.session, &ticks, &e2);
        if (freq > 0)
            expected += (mf_now_us() - start_us) * (uint64_t)freq / 1000000u - (uint64_t)freq / 2;
        const struct kl_dict *d = kl_session_dict(conn.session);
        bool now_new = mf_job_runs_new(j, d);
        snprintf(j->r->running_after, sizeof(j->r->running_after), "%s", version_of(d));
        mf_disconnect(&conn);
        if (now_new)
            return 1;
        if (ticks < expected)
            return 0; /* it restarted, still on the old firmware */
    }
    return mf_fail(err, MF_E_NOT_FLASHED, "The board was not power-cycled within %d s; the firmware file stays on "
                   "the card and will be flashed at the next power-on; verify then with '%s'.", o->wait_timeout_s,
                   j->check_cmd);
}

int mf_judge_flashed(struct mf_job *j)
{
    j->r->verdict = MF_FLASHED;
    mf_job_note(j, "verified", "The board runs the new firmware (%s).", j->r->running_after);
    return 0;
}
