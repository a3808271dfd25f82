/* The virtual MCU: the Klipper side of the wire protocol (block finding,
 * sequence numbers, ack/nak, dispatch, responses) and the state every
 * command handler shares (shutdown, oids, config, clock).
 *
 * It follows Klipper's src/command.c and src/sched.c: a block is accepted
 * only with the expected seq; responses and the ack carry the new seq; a
 * valid out-of-sequence block gets a nak; a corrupt one is dropped up to
 * the next 0x7E with one nak per error burst. */
#ifndef SIM_MCU_H
#define SIM_MCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cardslot.h"
#include "command.h"
#include "klipper/dict.h"
#include "klipper/proto.h"
#include "util/err.h"

/* Where the MCU's blocks go.  data is false for acks and naks. */
/* A block leaves the MCU: data (a response, not an ack or nak), and the
 * room the firmware wants free in its transmit buffer to send it. */
typedef void (*sim_emit_fn)(void *ctx, const uint8_t *block, size_t len, bool data, size_t room);

/* What the MCU asks of the board around it. */
enum sim_request {
    SIM_REQ_NONE,
    SIM_REQ_RESET,
    SIM_REQ_BOOTLOADER,
    SIM_REQ_RESTART, /* a Linux process MCU runs itself again (execv) */
};

struct sim_binding {
    const struct kl_msgfmt *fmt;    /* from the dictionary */
    const struct sim_command *cmd;  /* NULL if the sim does not know the format */
    uint16_t encoded_id;            /* as it appears on the wire, 1..0x3fff */
};

struct sim_oid {
    const void *type; /* the config handler's type tag, NULL if free */
    void *data;
};

struct sim_identity {
    char *json;       /* exact dictionary text */
    size_t json_len;
    uint8_t *zdata;   /* zlib level 9 of json: what identify hands out */
    size_t zlen;
};

struct sim_mcu {
    /* Identity (kept across resets; replaced when the firmware changes). */
    struct sim_identity id;
    struct kl_dict *dict;
    const struct mcu_type *type; /* NULL for an MCU the tables do not know */
    uint32_t clock_freq;
    struct sim_binding *bindings;
    size_t nbindings;

    /* The board's services. */
    sim_emit_fn emit;
    void *emit_ctx;
    struct sim_cardslot *slot;  /* the card socket the buses reach */

    /* Link protocol state (reset at every boot). */
    struct kl_finder finder;
    bool need_valid;      /* an error burst was already nak'ed */
    uint8_t next_seq;     /* 0x10 | expected seq */
    uint8_t rx[4096];     /* received, not yet consumed */
    size_t rx_len, rx_limit;
    bool stalled;         /* a shutdown cut a block short: wait for new input */
    bool model_time;      /* account bus time in busy_ns (--timing realistic) */
    bool uart_bootloader_request; /* a serial build: the request string asks for the bootloader */
    bool before_may_2026; /* a build older than Klipper's buffer changes of May 2026 (set at boot) */

    /* Scheduler state. */
    uint64_t boot_us;
    bool is_shutdown;
    uint16_t shutdown_reason;
    char shutdown_text[96]; /* the reason, for the control socket */
    bool abort_block;     /* a handler shut down or reset: stop this block */
    enum sim_request request;
    uint64_t next_stats_us;
    uint32_t stats_count;

    /* basecmd state. */
    struct sim_oid *oids;
    uint8_t oid_count;
    bool oids_allocated, finalized;
    uint32_t config_crc;

    /* Time the current block spent on buses (for the timing model). */
    uint64_t busy_ns;

    /* Counters. */
    uint64_t blocks_ok, blocks_nak, bursts, replies_too_long;
};

/* Whether a dictionary version names a Klipper build from before May 2026
 * (v0.13.0-681 and earlier): its encoder wants room for a response's
 * largest size, not its actual one, and a CAN build's transmit buffer is
 * 96 bytes, not 192.  A version that is not git describe output counts as
 * newer. */
bool sim_version_before_may_2026(const char *version);

/* Load an identity from dictionary JSON (kept byte for byte).  Binds the
 * commands the sim implements; the others are parsed and ignored. */
int sim_mcu_init(struct sim_mcu *m, const char *json, size_t len, struct mf_err *err);
void sim_mcu_free(struct sim_mcu *m);
/* Replace the identity (new firmware flashed); the MCU is off meanwhile.
 * On failure the old identity stays. */
int sim_mcu_set_identity(struct sim_mcu *m, const char *json, size_t len, struct mf_err *err);

/* Power on: fresh protocol and config state, `starting` sent. */
void sim_mcu_boot(struct sim_mcu *m, uint64_t now_us);
/* Power off: all protocol and config state gone. */
void sim_mcu_power_off(struct sim_mcu *m);

/* Append received bytes to the receive buffer (at most rx_limit bytes are
 * held); returns how many fit.  Any arrival, even one that does not fit,
 * wakes a stalled receiver. */
size_t sim_mcu_receive(struct sim_mcu *m, const uint8_t *buf, size_t len);
/* Handle what is in the receive buffer.  Stops early after a block that
 * spent bus time or asked for something (request), so the board can model
 * the delay or act; returns true if it stopped for bus time (busy_ns). */
bool sim_mcu_process(struct sim_mcu *m);
/* Shut down from outside a command (control socket). */
void sim_mcu_force_shutdown(struct sim_mcu *m, const char *text);

/* Periodic work (stats every 5 s); in basecmd.c. */
void sim_mcu_tick(struct sim_mcu *m, uint64_t now_us);
uint64_t sim_mcu_next_event_us(const struct sim_mcu *m);
void sim_stats_reset(struct sim_mcu *m, uint64_t now_us);

/* The 64-bit clock at CLOCK_FREQ since boot. */
uint64_t sim_mcu_clock(const struct sim_mcu *m);

/* --- for command handlers --- */

/* Enter (or re-report) shutdown with a static string.  The handler must
 * return right after. */
void sim_shutdown(struct sim_mcu *m, const char *text);
/* Send a response whose format is exactly fmt; silently dropped if the
 * dictionary lacks it or it does not fit a block (as the firmware does). */
void sim_sendf(struct sim_mcu *m, const char *fmt, const struct kl_arg *args);
/* Account time spent on a bus (only with model_time). */
void sim_mcu_spend(struct sim_mcu *m, uint64_t ns);
/* Ask the board to reset the MCU; ends the block without an ack. */
void sim_mcu_request(struct sim_mcu *m, enum sim_request req);
/* Oids: NULL after shutting down with Klipper's texts. */
void *sim_oid_alloc(struct sim_mcu *m, uint8_t oid, const void *type, size_t size);
void *sim_oid_lookup(struct sim_mcu *m, uint8_t oid, const void *type);
/* Next oid of a type after *i (start with *i = -1); NULL when done. */
void *sim_oid_next(struct sim_mcu *m, int *i, const void *type);
/* Pin check against the dictionary's "pin" enumeration. */
bool sim_pin_valid(const struct sim_mcu *m, uint32_t pin);
/* Value listed in an enumeration? */
bool sim_enum_has_value(const struct sim_mcu *m, const char *enumeration, int32_t value);
/* The static_string_id of a text (0xff if the dictionary lacks it). */
uint16_t sim_static_string_id(const struct sim_mcu *m, const char *text);

#endif
