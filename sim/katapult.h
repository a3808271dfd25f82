/* Katapult on the virtual board: its frames (01 88 cmd len payload crc
 * 99 03), framing recovery with one NACK per error burst, and the
 * commands of src/flashcmd.c (CONNECT, SEND_BLOCK, SEND_EOF, REQUEST_BLOCK,
 * COMPLETE, GET_CANBUS_ID on CAN builds) on the board's flash. */
#ifndef SIM_KATAPULT_H
#define SIM_KATAPULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flashmem.h"
#include "katapult_flash.h"

#define KATAPULT_PROTO_1_0_0 0x00010000u
#define KATAPULT_PROTO_1_1_0 0x00010100u
#define KATAPULT_FRAME_MAX 128
#define KATAPULT_FAULT_ADDRS 8
#define KATAPULT_COMPLETE_DELAY_US 100000u

/* Where Katapult's frames go; response is false for a NACK. */
typedef void (*katapult_emit_fn)(void *ctx, const uint8_t *frame, size_t len, bool response);

struct katapult_build {
    uint32_t proto;         /* KATAPULT_PROTO_* */
    char version[64];       /* reported from proto 1.1.0 on */
    char mcu[48];           /* CONFIG_MCU */
    uint32_t start;         /* CONFIG_LAUNCH_APP_ADDRESS */
    bool can;               /* a CAN build answers GET_CANBUS_ID */
    uint8_t uuid[6];
};

/* Faults the control socket asks for. */
struct katapult_faults {
    uint64_t refuse_at;     /* the SEND_BLOCK number (counted since start) refused first; 0: none */
    uint64_t refuse_left;   /* SEND_BLOCKs still to refuse; 0: every one until reset */
    uint32_t bad_cells[KATAPULT_FAULT_ADDRS];   /* flip a bit here when next written */
    size_t nbad_cells;
    uint32_t bad_reads[KATAPULT_FAULT_ADDRS];   /* REQUEST_BLOCK returns a flipped bit here */
    size_t nbad_reads;
};

struct sim_katapult {
    struct katapult_build build;
    const struct flash_family *fam;
    struct sim_flash *flash;
    katapult_emit_fn emit;
    void *emit_ctx;
    bool model_time;        /* account erase and program time in busy_ns */

    /* Session state (reset at every boot into Katapult). */
    uint8_t rx[4096];
    size_t rx_len, rx_limit;
    bool need_sync, need_valid;
    uint32_t page_writes;
    bool complete;
    uint64_t start_app_at_us;
    uint64_t busy_ns;
    struct katapult_faults faults;

    /* Counters since the board started. */
    uint64_t sends;         /* SEND_BLOCK frames */
    uint64_t blocks_written, blocks_read, erases, completes, nacks, errors;
    uint64_t completed_at_us; /* the last COMPLETE, on the host's monotonic clock (0: none) */
};

void katapult_init(struct sim_katapult *k, const struct katapult_build *b, const struct flash_family *fam,
                   struct sim_flash *flash);
/* The board resets into Katapult: a fresh session (faults set beforehand
 * stay armed). */
void katapult_boot(struct sim_katapult *k);
/* The board leaves Katapult (a reset, or COMPLETE's jump): refusals and
 * bad reads end. */
void katapult_leave(struct sim_katapult *k);
/* Append received bytes (at most rx_limit held); returns how many fit. */
size_t katapult_receive(struct sim_katapult *k, const uint8_t *buf, size_t len);
/* Handle the frames received; stops early after one that spent flash time
 * (busy_ns) and returns true then. */
bool katapult_process(struct sim_katapult *k, uint64_t now_us);
/* COMPLETE was acknowledged and its 100 ms are over: start the application. */
bool katapult_app_due(const struct sim_katapult *k, uint64_t now_us);

/* Control socket: "refuse-write N [once | times K]", "corrupt ADDR", "corrupt-read ADDR".
 * 0, or -1 with a one-line reason in why. */
int katapult_fault_command(struct sim_katapult *k, const char *args, char *why, size_t cap);

/* The default application start for a family (Katapult's Kconfig). */
uint32_t katapult_default_start(const struct flash_family *fam, uint32_t flash_base);

#endif
