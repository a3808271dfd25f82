/* The control socket's commands: status, reset, power-cycle, unplug, plug,
 * double-tap, card remove|insert|write-protect on|off, power-cut, faults
 * SPEC, shutdown TEXT, katapult refuse-write|corrupt|corrupt-read, quit,
 * help: one table, which help and mcuflash-sim --help list. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "appimage.h"
#include "board/board.h"
#include "sim.h"
#include "usb_board.h"

static const char *state_name(enum board_state st)
{
    return st == BOARD_RUNNING ? "running" : st == BOARD_RESETTING ? "resetting" : "unplugged";
}

static json_t *fault_json(const struct sim_faults *f)
{
    return json_pack("{s:f,s:f,s:f,s:s,s:I,s:I,s:I,s:I,s:I,s:I}", "corrupt", f->corrupt, "drop", f->drop,
                     "lose_response", f->lose_response, "dir",
                     f->dir_in && f->dir_out ? "both" : f->dir_in ? "in" : "out", "seed", (json_int_t)f->seed,
                     "corrupted_in", (json_int_t)f->corrupted_in, "corrupted_out", (json_int_t)f->corrupted_out,
                     "dropped_in", (json_int_t)f->dropped_in, "dropped_out", (json_int_t)f->dropped_out,
                     "lost_responses", (json_int_t)f->lost_responses);
}

static json_t *counter_json(const struct sim *s)
{
    const struct sim_mcu *m = &s->mcu;
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "boots", (json_int_t)s->boots, "resets",
                     (json_int_t)s->resets, "power_cycles", (json_int_t)s->power_cycles, "power_cuts",
                     (json_int_t)s->powercut.cuts, "blocks",
                     (json_int_t)m->blocks_ok, "naks", (json_int_t)m->blocks_nak, "error_bursts",
                     (json_int_t)m->bursts, "replies_too_long", (json_int_t)m->replies_too_long, "tx_dropped",
                     (json_int_t)s->tx_dropped, "rx_overflow", (json_int_t)s->rx_overflow);
}

static const char *card_access_of(const struct boot_rules *r)
{
    return r->sd_mode ? "sd" : "spi";
}

/* The bootloader's last result and the flash it programs; null without a board. */
static json_t *bootloader_json(const struct sim *s)
{
    if (!s->board)
        return json_null();
    const struct sim_flash *f = &s->flash;
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s?,s:I,s:s}", "family", s->boot.rules.family, "card_access",
                     card_access_of(&s->boot.rules), "firmware_path", s->board->firmware_path,
                     "current_firmware_path", s->board->current_firmware_path, "runs", (json_int_t)s->boot.runs,
                     "flashes", (json_int_t)f->flashes, "result", s->boot.result, "last_name",
                     f->last_name[0] ? f->last_name : NULL, "image_size", (json_int_t)f->image_size,
                     "image_sha1", f->image_sha1);
}

static json_t *katapult_json(const struct sim *s)
{
    if (!s->opt.katapult)
        return json_null();
    const struct sim_katapult *k = &s->katapult;
    return json_pack("{s:s,s:s,s:I,s:i,s:I,s:I,s:I,s:I,s:b,s:s,s:I,s:I,s:I}", "proto",
                     k->build.proto == KATAPULT_PROTO_1_0_0 ? "1.0.0" : "1.1.0", "version", k->build.version,
                     "start_address", (json_int_t)k->build.start, "block_size", KATAPULT_BLOCK_SIZE,
                     "blocks_written", (json_int_t)k->blocks_written, "blocks_read", (json_int_t)k->blocks_read,
                     "erases", (json_int_t)k->erases, "completes", (json_int_t)k->completes, "app_valid",
                     app_present(&s->flash), "flash_family", k->fam->name, "nacks", (json_int_t)k->nacks,
                     "errors", (json_int_t)k->errors, "completed_at_us", (json_int_t)k->completed_at_us);
}

/* The CAN side of a board on a virtual bus. */
static void can_status(const struct sim *s, json_t *o)
{
    const struct can_node *n = &s->port.can;
    char uuid[2 * CAN_UUID_LEN + 1];
    for (int i = 0; i < CAN_UUID_LEN; i++)
        snprintf(uuid + 2 * i, 3, "%02x", n->uuid[i]);
    int nodeid = cannode_nodeid(n);
    json_object_set_new(o, "uuid", json_string(uuid));
    json_object_set_new(o, "nodeid", nodeid < 0 ? json_null() : json_integer(nodeid));
    json_object_set_new(o, "bus", json_string(n->bus));
    json_object_set_new(o, "canbus_frequency", json_integer(s->opt.baud));
}

static void status(struct sim *s, char *reply, size_t cap)
{
    const struct sim_mcu *m = &s->mcu;
    const char *mcu = kl_dict_const(m->dict, "MCU");
    char link[32];
    if (s->opt.link == SIM_LINK_USB)
        snprintf(link, sizeof(link), "usb");
    else if (s->opt.link == SIM_LINK_CAN)
        snprintf(link, sizeof(link), "can");
    else if (s->opt.link == SIM_LINK_USBCAN)
        snprintf(link, sizeof(link), "usb-can");
    else
        snprintf(link, sizeof(link), "uart:%u", s->opt.baud);
    json_t *o = json_object();
    json_object_set_new(o, "mcu", json_string(mcu ? mcu : ""));
    json_object_set_new(o, "version", json_string(m->dict->version ? m->dict->version : ""));
    json_object_set_new(o, "state", json_string(state_name(s->state)));
    json_object_set_new(o, "link_up", json_boolean(port_is_up(&s->port)));
    json_object_set_new(o, "link", json_string(link));
    json_object_set_new(o, "path", json_string(s->port.pty.path));
    json_object_set_new(o, "device", json_string(s->port.kind == SIM_LINK_CAN ? "" : s->port.pty.slave_name));
    if (s->port.kind == SIM_LINK_CAN || s->port.kind == SIM_LINK_USBCAN)
        can_status(s, o);
    if (s->port.kind == SIM_LINK_USBCAN) {
        json_object_set_new(o, "host_interface", json_string(s->port.bridge.iface));
        json_object_set_new(o, "host_interface_up", json_boolean(usbcan_is_up(&s->port.bridge)));
        json_object_set_new(o, "chip_id", json_string(s->opt.chip_id));
    }
    json_object_set_new(o, "mode", json_string(sim_mode_name(s->mode)));
    json_object_set_new(o, "usb_testbed", sim_usb_root(s) ? json_string(sim_usb_root(s)) : json_null());
    json_object_set_new(o, "katapult", katapult_json(s));
    json_object_set_new(o, "timing", json_string(s->timing.realistic ? "realistic" : "none"));
    json_object_set_new(o, "seq", json_integer(m->next_seq & KL_SEQ_MASK));
    json_object_set_new(o, "oids_allocated", json_boolean(m->oids_allocated));
    json_object_set_new(o, "configured", json_boolean(m->finalized));
    json_object_set_new(o, "shutdown", m->is_shutdown ? json_string(m->shutdown_text) : json_null());
    json_object_set_new(o, "card_present", json_boolean(s->slot.card && sdcard_config(s->slot.card)->present));
    json_object_set_new(o, "card_write_protected",
                        json_boolean(s->slot.card && sdcard_config(s->slot.card)->write_protect != SDCARD_WP_NONE));
    json_object_set_new(o, "card_spi_mode", json_boolean(s->slot.card && sdcard_in_spi_mode(s->slot.card)));
    json_object_set_new(o, "card_writes",
                        json_integer(s->slot.card ? (json_int_t)sdcard_stats(s->slot.card)->sectors_written : 0));
    int64_t left = powercut_writes_left(s);
    json_object_set_new(o, "power_cut_in", left < 0 ? json_null() : json_integer(left));
    json_object_set_new(o, "board", s->board ? json_string(s->board->name) : json_null());
    json_object_set_new(o, "firmware", json_string(s->flash.dict ? "klipper" : "not klipper"));
    json_object_set_new(o, "bootloader", bootloader_json(s));
    json_object_set_new(o, "faults", fault_json(&s->faults));
    json_object_set_new(o, "counters", counter_json(s));
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    snprintf(reply, cap, "%s", text ? text : "error: out of memory");
    free(text);
}

static void run_shutdown(struct sim *s, char *text, char *reply, size_t cap)
{
    if (!*text) {
        snprintf(reply, cap, "error: shutdown needs a reason text");
        return;
    }
    if (s->state != BOARD_RUNNING) {
        snprintf(reply, cap, "error: the board is %s; nothing was changed", state_name(s->state));
        return;
    }
    if (s->mode != MODE_KLIPPER) {
        snprintf(reply, cap, "error: the board runs %s, not Klipper; nothing was changed", sim_mode_name(s->mode));
        return;
    }
    sim_mcu_force_shutdown(&s->mcu, text);
    snprintf(reply, cap, "ok");
}

/* card remove | insert | write-protect on|off: the socket as a user handles
 * it.  The image stays open throughout; an inserted card starts powered up
 * in SD mode, as a fresh card does. */
static void run_card(struct sim *s, char *arg, char *reply, size_t cap)
{
    struct sdcard *card = s->slot.card;
    bool present = card && sdcard_config(card)->present;
    if (!card) {
        snprintf(reply, cap, "error: the board was started without --card; nothing was changed");
    } else if (!strcmp(arg, "remove")) {
        if (!present)
            snprintf(reply, cap, "error: the card is already out; nothing was changed");
        else
            sdcard_set_present(card, false);
    } else if (!strcmp(arg, "insert")) {
        if (present)
            snprintf(reply, cap, "error: the card is already in; nothing was changed");
        else
            sdcard_set_present(card, true);
    } else if (!strcmp(arg, "write-protect on")) {
        sdcard_set_write_protect(card, SDCARD_WP_TEMPORARY);
    } else if (!strcmp(arg, "write-protect off")) {
        sdcard_set_write_protect(card, SDCARD_WP_NONE);
    } else {
        snprintf(reply, cap, "error: card takes remove, insert, or write-protect on|off");
    }
}

/* power-cut after-writes K | off: the board loses its power right after
 * the K-th sector the card programs from now on. */
static void run_power_cut(struct sim *s, char *arg, char *reply, size_t cap)
{
    char *end;
    unsigned long long k;
    if (!s->slot.card) {
        snprintf(reply, cap, "error: the board was started without --card; nothing was changed");
    } else if (!strcmp(arg, "off")) {
        powercut_disarm(s);
    } else if (!strncmp(arg, "after-writes ", 13) && (k = strtoull(arg + 13, &end, 10)) >= 1 && !*end &&
               arg[13] >= '0' && arg[13] <= '9') {
        powercut_arm(s, k);
    } else {
        snprintf(reply, cap, "error: power-cut takes after-writes K (K >= 1) or off");
    }
}

static void run_status(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg;
    status(s, reply, cap);
}

static void run_reset(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg, (void)reply, (void)cap;
    sim_reset(s, false);
}

static void run_power_cycle(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg, (void)reply, (void)cap;
    sim_reset(s, true);
}

static void run_unplug(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg, (void)reply, (void)cap;
    sim_unplug(s);
}

static void run_plug(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg;
    if (s->state != BOARD_UNPLUGGED)
        snprintf(reply, cap, "error: the board is not unplugged; nothing was changed");
    else
        sim_plug(s);
}

static void run_double_tap(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg, (void)reply, (void)cap;
    sim_request_bootloader(s); /* two resets within Katapult's window */
}

static void run_katapult(struct sim *s, char *arg, char *reply, size_t cap)
{
    char why[160];
    if (!s->opt.katapult)
        snprintf(reply, cap, "error: this board has no Katapult (start it with --bootloader katapult)");
    else if (katapult_fault_command(&s->katapult, arg, why, sizeof(why)) < 0)
        snprintf(reply, cap, "error: %s; nothing was changed", why);
}

static void run_faults(struct sim *s, char *arg, char *reply, size_t cap)
{
    struct mf_err err = { 0 };
    if (faults_parse(&s->faults, arg, &err) < 0)
        snprintf(reply, cap, "error: %s", err.msg);
}

static void run_quit(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)arg, (void)reply, (void)cap;
    s->quit = true;
}

static void run_help(struct sim *s, char *arg, char *reply, size_t cap);

struct control_command {
    const char *name;
    const char *args;  /* usage after the name, "" for none; forms separated by newlines */
    bool needs_power;  /* refused while the board is unplugged */
    void (*run)(struct sim *s, char *arg, char *reply, size_t cap);
};

/* Every control command, in the order help lists them. */
static const struct control_command commands[] = {
    { "status", "", false, run_status },
    { "reset", "", true, run_reset },
    { "power-cycle", "", true, run_power_cycle },
    { "unplug", "", true, run_unplug },
    { "plug", "", false, run_plug },
    { "double-tap", "", true, run_double_tap },
    { "card", "remove\ninsert\nwrite-protect on|off", false, run_card },
    { "power-cut", "after-writes K\noff", false, run_power_cut },
    { "faults", "[SPEC]", false, run_faults },
    { "shutdown", "TEXT", false, run_shutdown },
    { "katapult", "refuse-write N [once|times K]\ncorrupt ADDR\ncorrupt-read ADDR", false, run_katapult },
    { "quit", "", false, run_quit },
    { "help", "", false, run_help },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

void sim_control_usage(char *buf, size_t cap, const char *sep)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < NCOMMANDS; i++) {
        /* One entry per form: "card remove", "card insert", ... */
        const char *form = commands[i].args;
        do {
            size_t n = strcspn(form, "\n");
            if (len < cap)
                len += (size_t)snprintf(buf + len, cap - len, "%s%s%s%.*s", len ? sep : "", commands[i].name,
                                        n ? " " : "", (int)n, form);
            form += n + (form[n] == '\n');
        } while (*form);
    }
}

static void run_help(struct sim *s, char *arg, char *reply, size_t cap)
{
    (void)s, (void)arg;
    int n = snprintf(reply, cap, "commands: ");
    if (n > 0 && (size_t)n < cap)
        sim_control_usage(reply + n, cap - (size_t)n, ", ");
}

void sim_control_exec(void *ctx, char *line, char *reply, size_t cap)
{
    struct sim *s = ctx;
    while (*line == ' ')
        line++;
    char *arg = strchr(line, ' ');
    if (arg)
        *arg++ = '\0';
    else
        arg = line + strlen(line);
    snprintf(reply, cap, "ok");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct control_command *c = &commands[i];
        if (strcmp(line, c->name))
            continue;
        if (c->needs_power && s->state == BOARD_UNPLUGGED)
            snprintf(reply, cap, "error: the board is unplugged; nothing was changed (plug it first)");
        else
            c->run(s, arg, reply, cap);
        return;
    }
    snprintf(reply, cap, "error: unknown command '%s' (try help)", line);
}
