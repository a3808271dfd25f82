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
#include "usb_board.h"
#include "util/clock.h"

#define RETRY_LINK_US 1000000
/* A Linux process MCU's execv and start-up, until its new pty is there. */
#define PROCESS_RESTART_US 20000
#define POLL_MAX (2 + 1 + CONTROL_MAX_CLIENTS + 3 + USBCAN_HOSTS_MAX)

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
    return sim_running(s, MODE_KLIPPER);
}

/* Something on the board reads the link. */
static bool firmware_listens(const struct sim *s)
{
    return sim_running(s, MODE_KLIPPER) || sim_running(s, MODE_KATAPULT);
}

/* The board's time: while it handles input, when the model says it does
 * (its bus time ended, or the input arrived), not when this process got to
 * run, so a busy host machine does not slow the board down. */
static uint64_t board_now_ns(const struct sim *s)
{
    return s->handling ? s->handled_ns : now_ns();
}

/* A block or frame leaves the firmware busy_ns from now: through its
 * transmit buffer of txbuf bytes (0: unlimited), where it needs room bytes
 * free, and the line faults onto the wire. */
static void send_out(struct sim *s, const uint8_t *block, size_t len, bool data, uint64_t busy_ns, size_t txbuf,
                     size_t room)
{
    if (data && faults_lose_response(&s->faults))
        return;
    uint64_t t = board_now_ns(s);
    /* The firmware looks for room when it makes the reply: after the bus
     * time of the commands before it, while the buffer drained. */
    if (txbuf && wire_pending(&s->to_host, t + busy_ns) + room > txbuf) {
        s->tx_dropped++; /* the firmware's transmit buffer is full */
        return;
    }
    uint8_t copy[KL_MESSAGE_MAX > KATAPULT_FRAME_MAX ? KL_MESSAGE_MAX : KATAPULT_FRAME_MAX];
    memcpy(copy, block, len);
    size_t n = faults_apply(&s->faults, false, copy, len);
    if (wire_push(&s->to_host, t + busy_ns, copy, n) < 0)
        s->tx_dropped++; /* nobody reads the port: output backs up */
}

static void on_emit(void *ctx, const uint8_t *block, size_t len, bool data, size_t room)
{
    struct sim *s = ctx;
    if (mcu_on(s))
        send_out(s, block, len, data, s->mcu.busy_ns, timing_tx_buffer(&s->timing, s->mcu.before_may_2026), room);
}

static void on_katapult_emit(void *ctx, const uint8_t *frame, size_t len, bool response)
{
    struct sim *s = ctx;
    if (sim_running(s, MODE_KATAPULT))
        send_out(s, frame, len, response, s->katapult.busy_ns, timing_katapult_tx_buffer(&s->timing), len);
}

/* --- lifecycle --- */

static void come_up(struct sim *s)
{
    uint64_t now = mf_now_us();
    sim_choose_firmware(s);
    /* A bridge's Katapult is a USB serial port; its Klipper, the host's CAN interface. */
    port_use_serial(&s->port, s->mode == MODE_KATAPULT);
    /* A crashed MCU never brings its USB device up. */
    bool stays_away = (s->mode == MODE_CRASHED || s->mode == MODE_DFU) && sim_on_usb(s);
    if (stays_away)
        port_down(&s->port);
    else if (!port_is_up(&s->port)) {
        struct mf_err err = { 0 };
        if (port_up(&s->port, &err) < 0) {
            fprintf(stderr, "mcuflash-sim: %s\n", err.msg);
            s->up_at_us = now + RETRY_LINK_US;
            return;
        }
    }
    s->state = BOARD_RUNNING;
    s->mcu_ready_ns = 0;
    s->input_held = false;
    s->host_blocked = false;
    s->mcu.rx_limit = timing_rx_buffer(&s->timing);
    s->katapult.rx_limit = timing_rx_buffer(&s->timing);
    s->boots++;
    if (port_has_node(&s->port))
        cannode_set_online(&s->port.can, s->mode == MODE_KLIPPER || s->mode == MODE_KATAPULT,
                           s->mode == MODE_KATAPULT ? CAN_APP_KATAPULT : CAN_APP_KLIPPER);
    if (s->mode == MODE_KATAPULT)
        katapult_boot(&s->katapult);
    else if (s->mode == MODE_KLIPPER)
        sim_mcu_boot(&s->mcu, now);
}

/* The SD-card bootloader runs at every boot, before the firmware; returns
 * how long it keeps the board away (only with realistic timing).  A board
 * with Katapult has Katapult in its place. */
static uint64_t run_bootloader(struct sim *s)
{
    if (!s->board || s->opt.katapult)
        return 0;
    uint64_t took;
    if (boot_run(&s->boot, s->board, s->slot.card, &s->flash, &took))
        sim_take_identity(s);
    return s->timing.realistic ? took : 0;
}

static void go_away(struct sim *s, enum board_state state, bool drop_link)
{
    s->state = state;
    s->up_at_us = mf_now_us() + timing_reset_delay_us(&s->timing);
    wire_clear(&s->to_mcu);
    s->mcu_ready_ns = 0;
    s->input_held = false;
    if (s->mode == MODE_KATAPULT)
        katapult_leave(&s->katapult);
    sim_mcu_power_off(&s->mcu);
    if (drop_link || s->port.kind == SIM_LINK_CAN) {
        /* USB re-enumerates; a CAN node leaves the bus and forgets its id. */
        wire_clear(&s->to_host);
        port_down(&s->port);
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
    go_away(s, BOARD_RESETTING, sim_on_usb(s));
    s->up_at_us += run_bootloader(s);
}

/* A Linux process MCU after config_reset: the process runs again, so its
 * pty closes and a new one appears behind the same path; nothing else on
 * the board (the card included) notices. */
static void restart_process(struct sim *s)
{
    s->resets++;
    go_away(s, BOARD_RESETTING, true);
    s->up_at_us = mf_now_us() + PROCESS_RESTART_US;
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
    if (port_fd(&s->port) < 0 || s->to_mcu.bytes >= WIRE_QUEUE_MAX / 2)
        return; /* leave it in the pty: the host's writes block, as with USB flow control */
    uint8_t buf[4096];
    ssize_t n = port_read(&s->port, buf, sizeof(buf));
    if (n <= 0 || !firmware_listens(s))
        return; /* a board that is off (or not listening) loses what arrives */
    size_t len = faults_apply(&s->faults, true, buf, (size_t)n);
    wire_push(&s->to_mcu, now_ns(), buf, len);
}

/* Requests the firmware noticed on its link. */
static bool handle_requests(struct sim *s)
{
    if (s->mcu.request == SIM_REQ_RESET) {
        s->mcu.request = SIM_REQ_NONE;
        sim_reset(s, false);
        return true;
    }
    if (s->mcu.request == SIM_REQ_RESTART) {
        s->mcu.request = SIM_REQ_NONE;
        restart_process(s);
        return true;
    }
    if (s->mcu.request == SIM_REQ_BOOTLOADER) {
        s->mcu.request = SIM_REQ_NONE;
        sim_request_bootloader(s);
        return true;
    }
    return false;
}

/* Hand what has arrived to the firmware that runs: Klipper or Katapult. */
static void feed_firmware(struct sim *s)
{
    uint64_t now = now_ns();
    while (firmware_listens(s) && now >= s->mcu_ready_ns) {
        bool katapult = s->mode == MODE_KATAPULT;
        /* It goes on when its bus time ends, with what it holds, or when the
         * next input arrives. */
        uint64_t due = wire_next_ns(&s->to_mcu);
        uint64_t t = s->input_held || due < s->mcu_ready_ns ? s->mcu_ready_ns : due;
        if (t < s->handled_ns)
            t = s->handled_ns;
        if (t > now)
            t = now;
        const uint8_t *data;
        size_t n = wire_peek(&s->to_mcu, t, &data);
        if (!n && t < now)
            n = wire_peek(&s->to_mcu, t = now, &data);
        s->handled_ns = t;
        s->handling = true;
        size_t took = !n         ? 0
                      : katapult ? katapult_receive(&s->katapult, data, n)
                                 : sim_mcu_receive(&s->mcu, data, n);
        if (took < n && s->opt.link == SIM_LINK_UART) {
            s->rx_overflow += n - took; /* UART: bytes past the buffer are lost */
            took = n;
        }
        wire_consume(&s->to_mcu, took);
        uint64_t *busy_ns = katapult ? &s->katapult.busy_ns : &s->mcu.busy_ns;
        bool busy = katapult ? katapult_process(&s->katapult, t / 1000u) : sim_mcu_process(&s->mcu);
        s->handling = false;
        if (!katapult && handle_requests(s))
            return;
        s->input_held = busy;
        if (busy) {
            /* Bus or flash time: the firmware takes nothing more until then,
             * and goes on with what it holds as soon as it is free. */
            s->mcu_ready_ns = t + *busy_ns;
            *busy_ns = 0;
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
    while (port_is_up(&s->port) && (n = wire_peek(&s->to_host, t, &data))) {
        ssize_t w = port_write(&s->port, data, n);
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

/* Until the next thing due, to the microsecond: the MCU's bus time is often
 * well under a millisecond, and a wait rounded up to one would add to it. */
static struct timespec poll_timeout(const struct sim *s)
{
    uint64_t now = now_ns(), next = UINT64_MAX;
    if (s->state == BOARD_RESETTING)
        next = min_u64(next, s->up_at_us * 1000u);
    if (mcu_on(s))
        next = min_u64(next, sim_mcu_next_event_us(&s->mcu) * 1000u);
    if (sim_running(s, MODE_KATAPULT) && s->katapult.complete)
        next = min_u64(next, s->katapult.start_app_at_us * 1000u);
    if (firmware_listens(s)) {
        uint64_t due = wire_next_ns(&s->to_mcu);
        if (due != UINT64_MAX)
            next = min_u64(next, due > s->mcu_ready_ns ? due : s->mcu_ready_ns);
        if (s->input_held)
            next = min_u64(next, s->mcu_ready_ns);
    }
    if (!s->host_blocked)
        next = min_u64(next, wire_next_ns(&s->to_host));
    if (mcu_on(s) && s->port.kind == SIM_LINK_USB)
        next = min_u64(next, now + SIM_TOUCH_POLL_MS * 1000000ull);
    if (sim_usb_poll_ms(s) >= 0)
        next = min_u64(next, now + (uint64_t)sim_usb_poll_ms(s) * 1000000ull);
    uint64_t ns = next <= now ? 0 : next - now > 1000000000u ? 1000000000u : next - now;
    return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u) };
}

static void step(struct sim *s)
{
    struct pollfd pfd[POLL_MAX];
    size_t n = 0;
    pfd[n++] = (struct pollfd){ .fd = signal_pipe[0], .events = POLLIN };
    if (port_fd(&s->port) >= 0)
        pfd[n++] = (struct pollfd){ .fd = port_fd(&s->port),
                                    .events = (short)(POLLIN | (s->host_blocked ? POLLOUT : 0)) };
    n += port_extra_pollfds(&s->port, pfd + n, POLL_MAX - n);
    size_t ctl_first = n;
    n += control_pollfds(&s->control, pfd + n, POLL_MAX - n);
    struct timespec timeout = poll_timeout(s);
    if (ppoll(pfd, (nfds_t)n, &timeout, NULL) < 0 && errno != EINTR)
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
    port_route(&s->port);
    read_host(s);
    sim_watch_entry(s);
    feed_firmware(s);
    powercut_watch(s);
    write_host(s);
    sim_usb_step(s);
}

/* --- start and stop --- */

/* The card's time: the MCU runs a block's commands one after another, so
 * a command sees the bus time of those before it in the block as passed. */
static uint64_t card_clock(void *ctx)
{
    const struct sim *s = ctx;
    return board_now_ns(s) + s->mcu.busy_ns;
}

static int open_card(struct sim *s, struct mf_err *err)
{
    if (!s->opt.card)
        return 0;
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    if (s->timing.realistic) {
        /* A real card takes a while to program a block: about a millisecond. */
        cfg.write_busy_ns = CARD_WRITE_BUSY_NS;
        cfg.clock_ns = card_clock;
        cfg.clock_ctx = s;
        cfg.sd_busy_polls = CARD_SD_BUSY_POLLS;
    }
    return sdcard_open_image(s->opt.card, &cfg, &s->slot.card, err);
}

#define KATAPULT_DEFAULT_VERSION "v0.0.1-sim"

static void init_katapult(struct sim *s, const struct flash_family *fam, const char *mcu)
{
    struct katapult_build b = { 0 };
    b.proto = s->opt.katapult_proto && !strcmp(s->opt.katapult_proto, "1.0.0") ? KATAPULT_PROTO_1_0_0
                                                                                : KATAPULT_PROTO_1_1_0;
    snprintf(b.version, sizeof(b.version), "%s",
             s->opt.katapult_version ? s->opt.katapult_version : KATAPULT_DEFAULT_VERSION);
    snprintf(b.mcu, sizeof(b.mcu), "%s", mcu);
    b.start = s->flash.app_base;
    b.can = s->opt.link == SIM_LINK_CAN;
    memcpy(b.uuid, s->opt.can_uuid, sizeof(b.uuid));
    katapult_init(&s->katapult, &b, fam, &s->flash);
    s->katapult.emit = on_katapult_emit;
    s->katapult.emit_ctx = s;
    s->katapult.model_time = s->timing.realistic;
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

/* Where the flash sits and where the application starts on this MCU. */
static int flash_layout_for(const struct sim *s, const struct flash_family *fam, struct flash_layout *l,
                            struct mf_err *err)
{
    const struct mcu_type *t = s->mcu.type;
    *l = (struct flash_layout){ t ? t->flash_base : 0x08000000u, t ? t->flash_size : 1024u * 1024u, 0,
                                t ? t->ram_top : 0x20020000u, s->opt.empty_flash };
    /* Without Katapult the application address only places the bytes;
     * Katapult's default start serves for that too. */
    l->app_base = fam ? katapult_default_start(fam, l->base) : l->base + 0x8000u;
    /* An RP2040 or RP2350 without Katapult boots from the start of flash. */
    if (!s->opt.katapult && t && t->family == FAMILY_RP2040)
        l->app_base = l->base + t->boot_stage_bytes;
    if (s->opt.katapult && s->opt.katapult_start)
        l->app_base = s->opt.katapult_start;
    if (s->opt.katapult && !fam)
        return mf_fail(err, MF_E_USAGE, "Katapult is not modelled for MCU %s; nothing was started.",
                       t ? t->name : "(unknown)");
    return 0;
}

static int load_identity(struct sim *s, struct mf_err *err)
{
    const char *mcu = s->board && !s->opt.dict ? s->board->mcu : s->opt.mcu;
    char *json = NULL;
    size_t len = 0;
    if (sim_identity_json(mcu, s->opt.dict, s->opt.version, s->opt.link, s->opt.baud, &json, &len, err) < 0)
        return -1;
    struct flash_layout layout;
    char name[64] = "";
    int rc = sim_mcu_init(&s->mcu, json, len, err);
    const char *mcu_const = rc == 0 ? kl_dict_const(s->mcu.dict, "MCU") : NULL;
    snprintf(name, sizeof(name), "%s", mcu_const ? mcu_const : "");
    const struct flash_family *fam = flash_family_for(name);
    if (rc == 0)
        rc = flash_layout_for(s, fam, &layout, err);
    if (rc == 0)
        rc = flash_init(&s->flash, s->opt.flash_state, &layout, json, len, err);
    if (rc == 0 && s->flash.dict && (s->flash.dict_len != len || memcmp(s->flash.dict, json, len)))
        rc = sim_mcu_set_identity(&s->mcu, s->flash.dict, s->flash.dict_len, err);
    s->mode = s->flash.dict ? MODE_KLIPPER : MODE_SILENT;
    if (rc == 0 && s->opt.katapult)
        init_katapult(s, fam, name);
    free(json);
    return rc;
}

/* Power-on: the bootloader runs before the device can appear. */
static int power_on(struct sim *s, struct mf_err *err)
{
    if (port_up(&s->port, err) < 0)
        return -1;
    uint64_t boot_us = run_bootloader(s);
    if (!boot_us) {
        come_up(s);
        return 0;
    }
    if (s->opt.link != SIM_LINK_UART)
        port_down(&s->port); /* USB enumerates only when the firmware runs */
    s->state = BOARD_RESETTING;
    s->up_at_us = mf_now_us() + boot_us;
    return 0;
}

static int start(struct sim *s, struct mf_err *err)
{
    /* A bridge's own traffic goes over USB, as a USB board's. */
    s->timing = (struct sim_timing){ s->opt.realistic, sim_on_usb(s) ? SIM_LINK_USB : s->opt.link, s->opt.baud,
                                     s->opt.tx_buffer };
    wire_init(&s->to_mcu, &s->timing);
    wire_init(&s->to_host, &s->timing);
    faults_init(&s->faults);
    control_init(&s->control);
    port_init(&s->port, &s->opt);
    if (s->opt.faults && faults_parse(&s->faults, s->opt.faults, err) < 0)
        return -1;
    if (load_board(s, err) < 0 || load_identity(s, err) < 0)
        return -1;
    s->mcu.emit = on_emit;
    s->mcu.emit_ctx = s;
    s->mcu.slot = &s->slot;
    s->mcu.model_time = s->timing.realistic;
    s->mcu.uart_bootloader_request = s->opt.link == SIM_LINK_UART;
    if (cardslot_wire(&s->slot, s->board, s->mcu.dict, err) < 0 || open_card(s, err) < 0)
        return -1;
    if (s->opt.control && control_open(&s->control, s->opt.control, sim_control_exec, s, err) < 0)
        return -1;
    if (sim_usb_start(s, err) < 0)
        return -1;
    return power_on(s, err);
}

static int stop(struct sim *s, struct mf_err *err)
{
    int rc = 0;
    sim_usb_stop(s);
    port_close(&s->port);
    control_close(&s->control);
    wire_clear(&s->to_mcu);
    wire_clear(&s->to_host);
    if (s->slot.card) {
        rc = sdcard_flush(s->slot.card, err);
        sdcard_free(s->slot.card);
        s->slot.card = NULL;
    }
    /* Katapult writes the flash block by block: keep what it wrote. */
    if (s->opt.katapult && s->flash.mem && rc == 0)
        rc = flash_save(&s->flash, err);
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
