/* The virtual board: lifecycle (boot, reset, power, plug) and the event
 * loop that moves bytes between the pty, the line model and the MCU. */
#include "sim.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "board/board.h"
#include "dictgen.h"
#include "mcutypes.h"
#include "util/clock.h"

#define RETRY_LINK_US 1000000
#define POLL_MAX (2 + 1 + CONTROL_MAX_CLIENTS)

static volatile sig_atomic_t got_signal;
static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    got_signal = sig;
    int saved = errno;
    if (signal_pipe[1] >= 0 && write(signal_pipe[1], "", 1) < 0) {
        /* the loop also checks got_signal */
    }
    errno = saved;
}

static int setup_signals(struct mf_err *err)
{
    if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return mf_fail(err, MF_E_FAIL, "Could not set up signal handling (%s); nothing was started.",
                       strerror(errno));
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static uint64_t now_ns(void)
{
    return mf_now_us() * 1000u;
}

/* --- the MCU's output --- */

/* Running Klipper: booted, and the flash holds a Klipper build. */
static bool mcu_on(const struct sim *s)
{
    return s->state == BOARD_RUNNING && !s->silent;
}

static void on_emit(void *ctx, const uint8_t *block, size_t len, bool data)
{
    struct sim *s = ctx;
    if (!mcu_on(s))
        return;
    if (data && faults_lose_response(&s->faults))
        return;
    uint64_t t = now_ns();
    size_t txbuf = timing_tx_buffer(&s->timing);
    if (txbuf && wire_pending(&s->to_host, t) + len > txbuf) {
        s->tx_dropped++; /* the firmware's transmit buffer is full */
        return;
    }
    uint8_t copy[KL_MESSAGE_MAX];
    memcpy(copy, block, len);
    size_t n = faults_apply(&s->faults, false, copy, len);
    if (wire_push(&s->to_host, t + s->mcu.busy_ns, copy, n) < 0)
        s->tx_dropped++; /* nobody reads the port: output backs up */
}

/* --- lifecycle --- */

static void come_up(struct sim *s)
{
    uint64_t now = mf_now_us();
    if (!pty_link_is_up(&s->link)) {
        struct mf_err err = { 0 };
        if (pty_link_up(&s->link, &err) < 0) {
            fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
            s->up_at_us = now + RETRY_LINK_US;
            return;
        }
    }
    s->state = BOARD_RUNNING;
    s->mcu_ready_ns = 0;
    s->host_blocked = false;
    s->mcu.rx_limit = timing_rx_buffer(&s->timing);
    s->boots++;
    if (!s->silent)
        sim_mcu_boot(&s->mcu, now);
}

/* The bootloader flashed: the image's dictionary is the board's identity
 * from now on; an image without one leaves the board silent. */
static void take_new_firmware(struct sim *s)
{
    struct mf_err err = { 0 };
    s->silent = true;
    if (!s->flash.dict)
        return;
    if (sim_mcu_set_identity(&s->mcu, s->flash.dict, s->flash.dict_len, &err) < 0) {
        fprintf(stderr, "mcuflash-sim: the flashed firmware's dictionary is unusable (%s); the board stays silent.\n",
                err.msg);
        return;
    }
    s->silent = false;
    if (cardslot_wire(&s->slot, s->board, s->mcu.dict, &err) < 0)
        fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
}

/* The bootloader runs at every boot, before the firmware; returns how long
 * it keeps the board away (only with realistic timing). */
static uint64_t run_bootloader(struct sim *s)
{
    if (!s->board)
        return 0;
    uint64_t took;
    if (boot_run(&s->boot, s->board, s->slot.card, &s->flash, &took))
        take_new_firmware(s);
    return s->timing.realistic ? took : 0;
}

static void go_away(struct sim *s, enum board_state state, bool drop_link)
{
    s->state = state;
    s->up_at_us = mf_now_us() + timing_reset_delay_us(&s->timing);
    wire_clear(&s->to_mcu);
    s->mcu_ready_ns = 0;
    sim_mcu_power_off(&s->mcu);
    if (drop_link) {
        wire_clear(&s->to_host);
        pty_link_down(&s->link);
    }
}

void sim_reset(struct sim *s, bool power_cycle)
{
    s->resets++;
    if (power_cycle) {
        s->power_cycles++;
        if (s->slot.card)
            sdcard_power_cycle(s->slot.card);
    }
    /* USB re-enumerates (the device disappears); a UART port stays. */
    go_away(s, BOARD_RESETTING, s->opt.link == SIM_LINK_USB);
    s->up_at_us += run_bootloader(s);
}

void sim_unplug(struct sim *s)
{
    go_away(s, BOARD_UNPLUGGED, true);
}

void sim_plug(struct sim *s)
{
    if (s->state != BOARD_UNPLUGGED)
        return;
    /* Power returns to the card with the board. */
    if (s->slot.card)
        sdcard_power_cycle(s->slot.card);
    s->power_cycles++;
    go_away(s, BOARD_RESETTING, true);
    s->up_at_us += run_bootloader(s);
}

/* --- moving bytes --- */

static void read_host(struct sim *s)
{
    if (!pty_link_is_up(&s->link) || s->to_mcu.bytes >= WIRE_QUEUE_MAX / 2)
        return; /* leave it in the pty: the host's writes block, as with USB flow control */
    uint8_t buf[4096];
    ssize_t n = pty_link_read(&s->link, buf, sizeof(buf));
    if (n <= 0 || !mcu_on(s))
        return; /* an MCU that is off (or not running Klipper) loses what arrives */
    size_t len = faults_apply(&s->faults, true, buf, (size_t)n);
    wire_push(&s->to_mcu, now_ns(), buf, len);
}

static void feed_mcu(struct sim *s)
{
    uint64_t t = now_ns();
    while (mcu_on(s) && t >= s->mcu_ready_ns) {
        const uint8_t *data;
        size_t n = wire_peek(&s->to_mcu, t, &data);
        size_t took = n ? sim_mcu_receive(&s->mcu, data, n) : 0;
        if (took < n && s->opt.link == SIM_LINK_UART) {
            s->rx_overflow += n - took; /* UART: bytes past the buffer are lost */
            took = n;
        }
        wire_consume(&s->to_mcu, took);
        bool busy = sim_mcu_process(&s->mcu);
        if (s->mcu.request == SIM_REQ_RESET) {
            s->mcu.request = SIM_REQ_NONE;
            sim_reset(s, false);
            return;
        }
        if (busy) {
            s->mcu_ready_ns = t + s->mcu.busy_ns;
            s->mcu.busy_ns = 0;
            return;
        }
        if (!took)
            return;
    }
}

static void write_host(struct sim *s)
{
    uint64_t t = now_ns();
    const uint8_t *data;
    size_t n;
    s->host_blocked = false;
    while (pty_link_is_up(&s->link) && (n = wire_peek(&s->to_host, t, &data))) {
        ssize_t w = pty_link_write(&s->link, data, n);
        if (w <= 0) {
            s->host_blocked = true;
            return;
        }
        wire_consume(&s->to_host, (size_t)w);
    }
}

/* --- the loop --- */

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static int poll_timeout_ms(const struct sim *s)
{
    uint64_t now = now_ns(), next = UINT64_MAX;
    if (s->state == BOARD_RESETTING)
        next = min_u64(next, s->up_at_us * 1000u);
    if (mcu_on(s)) {
        next = min_u64(next, sim_mcu_next_event_us(&s->mcu) * 1000u);
        uint64_t due = wire_next_ns(&s->to_mcu);
        if (due != UINT64_MAX)
            next = min_u64(next, due > s->mcu_ready_ns ? due : s->mcu_ready_ns);
    }
    if (!s->host_blocked)
        next = min_u64(next, wire_next_ns(&s->to_host));
    if (next == UINT64_MAX)
        return 1000;
    if (next <= now)
        return 0;
    uint64_t ms = (next - now + 999999) / 1000000;
    return ms > 1000 ? 1000 : (int)ms;
}

static void step(struct sim *s)
{
    struct pollfd pfd[POLL_MAX];
    size_t n = 0;
    pfd[n++] = (struct pollfd){ .fd = signal_pipe[0], .events = POLLIN };
    if (pty_link_is_up(&s->link))
        pfd[n++] = (struct pollfd){ .fd = s->link.master,
                                    .events = (short)(POLLIN | (s->host_blocked ? POLLOUT : 0)) };
    size_t ctl_first = n;
    n += control_pollfds(&s->control, pfd + n, POLL_MAX - n);
    if (poll(pfd, (nfds_t)n, poll_timeout_ms(s)) < 0 && errno != EINTR)
        return;
    if (got_signal) {
        s->quit = true;
        return;
    }
    control_serve(&s->control, pfd + ctl_first, n - ctl_first);
    if (s->state == BOARD_RESETTING && mf_now_us() >= s->up_at_us)
        come_up(s);
    if (mcu_on(s))
        sim_mcu_tick(&s->mcu, mf_now_us());
    read_host(s);
    feed_mcu(s);
    write_host(s);
}

/* --- start and stop --- */

static uint64_t card_clock(void *ctx)
{
    return now_ns();
}

static int open_card(struct sim *s, struct mf_err *err)
{
    if (!s->opt.card)
        return 0;
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    if (s->timing.realistic) {
        /* A real card takes a while to program a block: about a millisecond. */
        cfg.write_busy_ns = 1000000;
        cfg.clock_ns = card_clock;
        cfg.sd_busy_polls = 2;
    }
    return sdcard_open_image(s->opt.card, &cfg, &s->slot.card, err);
}

/* --board: the definition, and the firmware the board came with (the
 * options' MCU or dictionary) unless the flash state file says otherwise. */
static int load_board(struct sim *s, struct mf_err *err)
{
    if (s->opt.board && sim_find_board(s->opt.board, s->opt.board_files, s->opt.nboard_files, &s->boards,
                                       &s->board, err) < 0)
        return -1;
    if (s->board)
        boot_rules_for(s->board, &s->boot.rules);
    return 0;
}

static int load_identity(struct sim *s, struct mf_err *err)
{
    const char *mcu = s->board && !s->opt.dict ? s->board->mcu : s->opt.mcu;
    char *json = NULL;
    size_t len = 0;
    if (sim_identity_json(mcu, s->opt.dict, s->opt.version, s->opt.link, s->opt.baud, &json, &len, err) < 0)
        return -1;
    int rc = flash_init(&s->flash, s->opt.flash_state, json, len, err);
    if (rc == 0 && s->flash.dict)
        rc = sim_mcu_init(&s->mcu, s->flash.dict, s->flash.dict_len, err);
    else if (rc == 0)
        rc = sim_mcu_init(&s->mcu, json, len, err); /* flashed with something that is not Klipper */
    s->silent = !s->flash.dict;
    free(json);
    return rc;
}

/* Power-on: the bootloader runs before the device can appear. */
static int power_on(struct sim *s, struct mf_err *err)
{
    if (pty_link_up(&s->link, err) < 0)
        return -1;
    uint64_t boot_us = run_bootloader(s);
    if (!boot_us) {
        come_up(s);
        return 0;
    }
    if (s->opt.link == SIM_LINK_USB)
        pty_link_down(&s->link); /* USB enumerates only when the firmware runs */
    s->state = BOARD_RESETTING;
    s->up_at_us = mf_now_us() + boot_us;
    return 0;
}

static int start(struct sim *s, struct mf_err *err)
{
    s->timing = (struct sim_timing){ s->opt.realistic, s->opt.link, s->opt.baud };
    wire_init(&s->to_mcu, &s->timing);
    wire_init(&s->to_host, &s->timing);
    faults_init(&s->faults);
    control_init(&s->control);
    pty_link_init(&s->link, s->opt.path);
    if (s->opt.faults && faults_parse(&s->faults, s->opt.faults, err) < 0)
        return -1;
    if (load_board(s, err) < 0 || load_identity(s, err) < 0)
        return -1;
    s->mcu.emit = on_emit;
    s->mcu.emit_ctx = s;
    s->mcu.slot = &s->slot;
    s->mcu.model_time = s->timing.realistic;
    if (cardslot_wire(&s->slot, s->board, s->mcu.dict, err) < 0 || open_card(s, err) < 0)
        return -1;
    if (s->opt.control && control_open(&s->control, s->opt.control, sim_control_exec, s, err) < 0)
        return -1;
    return power_on(s, err);
}

static int stop(struct sim *s, struct mf_err *err)
{
    int rc = 0;
    pty_link_down(&s->link);
    control_close(&s->control);
    wire_clear(&s->to_mcu);
    wire_clear(&s->to_host);
    if (s->slot.card) {
        rc = sdcard_flush(s->slot.card, err);
        sdcard_free(s->slot.card);
        s->slot.card = NULL;
    }
    sim_mcu_free(&s->mcu);
    flash_free(&s->flash);
    board_db_free(s->boards);
    s->boards = NULL;
    s->board = NULL;
    return rc;
}

int sim_run_main(int argc, char **argv)
{
    static struct sim s;
    struct mf_err err = { 0 };
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        sim_usage(stdout);
        return 0;
    }
    if (sim_options_parse(argc, argv, &s.opt, &err) < 0 || setup_signals(&err) < 0) {
        fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
        return err.code;
    }
    if (start(&s, &err) < 0) {
        fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
        struct mf_err ignored;
        stop(&s, &ignored);
        return err.code ? err.code : MF_E_FAIL;
    }
    while (!s.quit)
        step(&s);
    if (stop(&s, &err) < 0) {
        fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
        return err.code;
    }
    return 0;
}
