/* The timing model.  With --timing none every byte moves at once and only
 * the reset delays remain (short).  With --timing realistic:
 *  - UART: 10 bits per byte at the baud rate, each direction on its own;
 *  - USB full speed: bytes travel in packets of up to 64, a few per 1 ms
 *    frame (USB_PACKETS_PER_FRAME), each delivered at the end of its frame;
 *    a packet takes whatever the sender has queued when it goes, several
 *    messages together (usb_cdc.c's transmit buffer, the host's cdc-acm
 *    writes);
 *  - CAN: the bus process gives each frame its bit time; here the node's
 *    own frames only leave its transmit buffer at that pace;
 *  - the MCU's transmit buffer (USB 192, UART 96 bytes, CAN 192 or in a
 *    build from before May 2026 96, or --tx-buffer; Katapult's on CAN 96):
 *    a response is dropped, as the firmware does, when it does not fit (a
 *    build from before May 2026: when its largest size does not);
 *  - bus time (SPI clock, SD clock) is spent by the command handlers;
 *  - re-enumeration after a USB reset takes about 1.5 s. */
#ifndef SIM_TIMING_H
#define SIM_TIMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "timing_model.h"

#define WIRE_QUEUE_MAX 65536

struct sim_timing {
    bool realistic;
    enum sim_link_kind link;
    uint32_t baud;      /* UART: the baud rate; CAN: the bus's bit rate */
    size_t tx_buffer;   /* the firmware's transmit buffer; 0: its link's */
};

/* How long the board is away after a reset: USB re-enumeration, or the
 * UART firmware's boot. */
uint64_t timing_reset_delay_us(const struct sim_timing *t);
/* Room in the MCU's transmit buffer (0: unlimited): Klipper's (a build from
 * before May 2026 has 96 bytes on CAN), and Katapult's. */
size_t timing_tx_buffer(const struct sim_timing *t, bool before_may_2026);
size_t timing_katapult_tx_buffer(const struct sim_timing *t);
/* MCU receive buffer size. */
size_t timing_rx_buffer(const struct sim_timing *t);

struct wire_chunk;

/* One direction of the line: a queue of bytes, each chunk released at the
 * time the wire would have delivered its last byte. */
struct sim_wire {
    const struct sim_timing *timing;
    uint64_t free_at_ns;     /* when the wire is next idle */
    uint64_t packet_ns;      /* USB: when the last packet started */
    size_t packet_fill;      /* ... and the bytes in it */
    struct wire_chunk *head, *tail;
    size_t bytes;            /* queued */
};

void wire_init(struct sim_wire *w, const struct sim_timing *t);
void wire_clear(struct sim_wire *w);
/* Queue data that is ready to go at not_before_ns; -1 (nothing queued) if
 * the queue would exceed WIRE_QUEUE_MAX. */
int wire_push(struct sim_wire *w, uint64_t not_before_ns, const uint8_t *data, size_t len);
/* Bytes queued but not yet delivered at now_ns (still in the sender's buffer). */
size_t wire_pending(const struct sim_wire *w, uint64_t now_ns);
/* The first delivered chunk's remaining bytes, or 0 if none is due yet. */
size_t wire_peek(const struct sim_wire *w, uint64_t now_ns, const uint8_t **data);
void wire_consume(struct sim_wire *w, size_t n);
/* When the next chunk is due (UINT64_MAX if empty). */
uint64_t wire_next_ns(const struct sim_wire *w);

#endif
