/* The timing model. */
#include "timing.h"

#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ull
#define NS_PER_FRAME ((uint64_t)USB_FRAME_NS)

struct wire_chunk {
    struct wire_chunk *next;
    uint64_t at_ns;                /* delivered to the other end */
    uint64_t tx_start_ns, tx_end_ns; /* leaving the sender's buffer */
    size_t len, off;
    uint8_t data[];
};

uint64_t timing_reset_delay_us(const struct sim_timing *t)
{
    if (t->link == SIM_LINK_USB)
        return t->realistic ? USB_REENUMERATE_US : 100000;
    return t->realistic ? UART_BOOT_US : 10000;
}

/* A CAN link's bit rate: the build's bus frequency. */
static uint64_t can_bitrate(const struct sim_timing *t)
{
    return t->baud ? t->baud : SIM_CAN_DEFAULT_FREQUENCY;
}

size_t timing_tx_buffer(const struct sim_timing *t, bool before_may_2026)
{
    if (!t->realistic)
        return 0;
    if (t->tx_buffer)
        return t->tx_buffer;
    /* canserial.c's was 96 bytes too before Klipper raised it in May 2026. */
    if (t->link == SIM_LINK_CAN)
        return before_may_2026 ? 96 : 192;
    return t->link == SIM_LINK_UART ? 96 : 192;
}

size_t timing_katapult_tx_buffer(const struct sim_timing *t)
{
    if (!t->realistic)
        return 0;
    /* Katapult's canserial.c keeps 96; its USB and UART code are Klipper's. */
    return t->link == SIM_LINK_UART || t->link == SIM_LINK_CAN ? 96 : 192;
}

size_t timing_rx_buffer(const struct sim_timing *t)
{
    if (!t->realistic)
        return 4096;
    return t->link == SIM_LINK_USB ? 128 : 192;
}

void wire_init(struct sim_wire *w, const struct sim_timing *t)
{
    memset(w, 0, sizeof(*w));
    w->timing = t;
}

void wire_clear(struct sim_wire *w)
{
    while (w->head) {
        struct wire_chunk *c = w->head;
        w->head = c->next;
        free(c);
    }
    w->tail = NULL;
    w->bytes = 0;
    w->free_at_ns = 0;
    w->packet_ns = 0;
    w->packet_fill = 0;
}

static int append(struct sim_wire *w, const uint8_t *data, size_t len, uint64_t at, uint64_t tx_start,
                  uint64_t tx_end)
{
    struct wire_chunk *c = malloc(sizeof(*c) + len);
    if (!c)
        return -1;
    c->next = NULL;
    c->len = len;
    c->off = 0;
    memcpy(c->data, data, len);
    c->at_ns = at;
    c->tx_start_ns = tx_start;
    c->tx_end_ns = tx_end;
    if (w->tail)
        w->tail->next = c;
    else
        w->head = c;
    w->tail = c;
    w->bytes += len;
    return 0;
}

/* The end of the frame a packet ending at ns went in. */
static uint64_t frame_end(uint64_t ns)
{
    return (ns + NS_PER_FRAME - 1) / NS_PER_FRAME * NS_PER_FRAME;
}

/* USB: bytes ready while the last packet waits for its turn go in it, up to
 * 64; the rest in packets of their own, one after another.  Each piece
 * arrives at the end of its packet's frame. */
static int push_usb(struct sim_wire *w, uint64_t ready_ns, const uint8_t *data, size_t len)
{
    const uint64_t slot = NS_PER_FRAME / USB_PACKETS_PER_FRAME;
    if (w->packet_fill && w->packet_fill < USB_PACKET && ready_ns <= w->packet_ns) {
        size_t n = len < USB_PACKET - w->packet_fill ? len : USB_PACKET - w->packet_fill;
        if (append(w, data, n, frame_end(w->free_at_ns), w->packet_ns, w->free_at_ns) < 0)
            return -1;
        w->packet_fill += n;
        data += n;
        len -= n;
    }
    while (len) {
        size_t n = len < USB_PACKET ? len : USB_PACKET;
        uint64_t start = ready_ns > w->free_at_ns ? ready_ns : w->free_at_ns;
        w->packet_ns = start;
        w->packet_fill = n;
        w->free_at_ns = start + slot;
        if (append(w, data, n, frame_end(w->free_at_ns), start, w->free_at_ns) < 0)
            return -1;
        data += n;
        len -= n;
    }
    return 0;
}

int wire_push(struct sim_wire *w, uint64_t not_before_ns, const uint8_t *data, size_t len)
{
    const struct sim_timing *t = w->timing;
    if (!len)
        return 0;
    if (w->bytes + len > WIRE_QUEUE_MAX)
        return -1;
    if (!t->realistic)
        return append(w, data, len, not_before_ns, not_before_ns, not_before_ns);
    if (t->link == SIM_LINK_CAN) {
        /* The bus process times the frames, so they go to it at once; the
         * firmware's buffer only frees at the pace the bus takes them. */
        uint64_t start = not_before_ns > w->free_at_ns ? not_before_ns : w->free_at_ns;
        uint64_t bits = (uint64_t)(len / CAN_FRAME_DATA) * CAN_FRAME_BITS(CAN_FRAME_DATA);
        if (len % CAN_FRAME_DATA)
            bits += CAN_FRAME_BITS(len % CAN_FRAME_DATA);
        w->free_at_ns = start + bits * NS_PER_S / can_bitrate(t);
        return append(w, data, len, not_before_ns, 0, 0);
    }
    if (t->link == SIM_LINK_USB)
        return push_usb(w, not_before_ns, data, len);
    /* A UART: byte after byte at the baud rate. */
    uint64_t start = not_before_ns > w->free_at_ns ? not_before_ns : w->free_at_ns;
    w->free_at_ns = start + (uint64_t)len * UART_BITS_PER_BYTE * NS_PER_S / (t->baud ? t->baud : 250000);
    return append(w, data, len, w->free_at_ns, start, w->free_at_ns);
}

/* Bytes still in the sender's buffer: a chunk leaves it byte by byte (UART)
 * or packet by packet (USB) between tx_start and tx_end, as a firmware's
 * transmit buffer frees; on CAN, frame by frame as the bus takes them. */
size_t wire_pending(const struct sim_wire *w, uint64_t now_ns)
{
    size_t n = 0;
    const struct sim_timing *t = w->timing;
    if (t->realistic && t->link == SIM_LINK_CAN && w->free_at_ns > now_ns) {
        /* Bytes of the frames the bus has yet to take, at full frames' pace. */
        uint64_t bits = (w->free_at_ns - now_ns) * can_bitrate(t) / NS_PER_S;
        n += (size_t)((bits * CAN_FRAME_DATA + CAN_FRAME_BITS(CAN_FRAME_DATA) - 1) /
                      CAN_FRAME_BITS(CAN_FRAME_DATA));
    }
    for (const struct wire_chunk *c = w->head; c; c = c->next) {
        size_t left = c->len - c->off;
        if (now_ns >= c->tx_end_ns)
            continue;
        if (now_ns > c->tx_start_ns) {
            uint64_t span = c->tx_end_ns - c->tx_start_ns;
            size_t unsent = (size_t)((c->len * (c->tx_end_ns - now_ns) + span - 1) / span);
            if (unsent < left)
                left = unsent;
        }
        n += left;
    }
    return n;
}

/* What has arrived by now.  A UART delivers byte by byte, so the receiver
 * sees a block as soon as its own last byte is in, not when a whole write
 * of several blocks has crossed; USB delivers whole packets. */
size_t wire_peek(const struct sim_wire *w, uint64_t now_ns, const uint8_t **data)
{
    const struct wire_chunk *c = w->head;
    if (!c)
        return 0;
    size_t arrived = c->len;
    if (c->at_ns > now_ns) {
        if (!w->timing->realistic || w->timing->link != SIM_LINK_UART || now_ns <= c->tx_start_ns)
            return 0;
        arrived = (size_t)(c->len * (now_ns - c->tx_start_ns) / (c->at_ns - c->tx_start_ns));
        if (arrived <= c->off)
            return 0;
    }
    *data = c->data + c->off;
    return arrived - c->off;
}

void wire_consume(struct sim_wire *w, size_t n)
{
    while (n && w->head) {
        struct wire_chunk *c = w->head;
        size_t take = c->len - c->off < n ? c->len - c->off : n;
        c->off += take;
        w->bytes -= take;
        n -= take;
        if (c->off == c->len) {
            w->head = c->next;
            if (!w->head)
                w->tail = NULL;
            free(c);
        }
    }
}

uint64_t wire_next_ns(const struct sim_wire *w)
{
    const struct wire_chunk *c = w->head;
    if (!c)
        return UINT64_MAX;
    /* A UART chunk arrives byte by byte: wake for its next byte. */
    if (w->timing->realistic && w->timing->link == SIM_LINK_UART && c->off < c->len && c->at_ns > c->tx_start_ns)
        return c->tx_start_ns + (c->at_ns - c->tx_start_ns) * (c->off + 1) / c->len;
    return c->at_ns;
}
