/* Building and running batches of SPI chip-select windows.
 *
 * Every op is one CS window on the card and at most bus->max_spi_chunk
 * bytes.  The replies of all read windows form one continuous stream, which
 * the protocol code parses as the card produced it. */
#include "sd/sd_int.h"

#include <stdlib.h>
#include <string.h>

struct spi_slot {
    size_t tx_off;      /* into io->tx, unless tx_ff */
    size_t rx_off;      /* into io->rx, if has_rx */
    uint16_t len;
    bool tx_ff, has_rx, idle;
};

/* A bus that names no limit still gets windows of a sane size. */
#define SPI_IO_DEFAULT_CHUNK 512u
#define SPI_IO_MIN_CHUNK 6u

static int grow(void **p, size_t *cap, size_t need, size_t elem, struct mf_err *err)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    *p = q;
    *cap = n;
    return 0;
}

int spi_io_init(struct spi_io *io, struct cardbus *bus, struct mf_err *err)
{
    memset(io, 0, sizeof(*io));
    io->bus = bus;
    io->chunk = bus->max_spi_chunk ? bus->max_spi_chunk : SPI_IO_DEFAULT_CHUNK;
    if (io->chunk < SPI_IO_MIN_CHUNK)  /* a command frame must fit one CS window */
        return mf_fail(err, MF_E_FAIL,
                       "The bus %s carries only %u bytes per transfer; an SD card command needs "
                       "%u; nothing was changed.", bus->name, io->chunk, SPI_IO_MIN_CHUNK);
    io->ff = malloc(io->chunk);
    if (!io->ff)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    memset(io->ff, 0xFF, io->chunk);
    return 0;
}

void spi_io_free(struct spi_io *io)
{
    free(io->slots);
    free(io->ops);
    free(io->tx);
    free(io->rx);
    free(io->ff);
    memset(io, 0, sizeof(*io));
}

void spi_io_begin(struct spi_io *io)
{
    io->n_slots = 0;
    io->tx_len = 0;
}

void spi_io_clear(struct spi_io *io)
{
    io->rx_len = 0;
}

static struct spi_slot *new_slot(struct spi_io *io, struct mf_err *err)
{
    if (grow((void **)&io->slots, &io->cap_slots, io->n_slots + 1, sizeof(*io->slots), err) < 0)
        return NULL;
    struct spi_slot *s = &io->slots[io->n_slots++];
    memset(s, 0, sizeof(*s));
    return s;
}

/* Queue windows of at most chunk bytes; tx NULL clocks 0xFF. */
static int queue(struct spi_io *io, const uint8_t *tx, size_t len, bool want_rx, struct mf_err *err)
{
    while (len) {
        uint16_t n = (uint16_t)(len < io->chunk ? len : io->chunk);
        struct spi_slot *s = new_slot(io, err);
        if (!s)
            return -1;
        s->len = n;
        s->tx_ff = tx == NULL;
        if (tx) {
            if (grow((void **)&io->tx, &io->tx_cap, io->tx_len + n, 1, err) < 0)
                return -1;
            memcpy(io->tx + io->tx_len, tx, n);
            s->tx_off = io->tx_len;
            io->tx_len += n;
            tx += n;
        }
        if (want_rx) {
            if (grow((void **)&io->rx, &io->rx_cap, io->rx_len + n, 1, err) < 0)
                return -1;
            memset(io->rx + io->rx_len, 0xFF, n);
            s->rx_off = io->rx_len;
            s->has_rx = true;
            io->rx_len += n;
        }
        len -= n;
    }
    return 0;
}

int spi_io_send(struct spi_io *io, const uint8_t *data, size_t len, struct mf_err *err)
{
    return queue(io, data, len, false, err);
}

int spi_io_idle(struct spi_io *io, size_t len, struct mf_err *err)
{
    while (len) {
        uint16_t n = (uint16_t)(len < UINT16_MAX ? len : UINT16_MAX);
        struct spi_slot *s = new_slot(io, err);
        if (!s)
            return -1;
        s->len = n;
        s->idle = true;
        len -= n;
    }
    return 0;
}

int spi_io_transfer(struct spi_io *io, const uint8_t *tx, size_t len, size_t *at,
                    struct mf_err *err)
{
    *at = io->rx_len;
    return queue(io, tx, len, true, err);
}

int spi_io_run(struct spi_io *io, struct mf_err *err)
{
    if (!io->n_slots)
        return 0;
    if (!io->bus->ops->spi_batch)
        return mf_fail(err, MF_E_FAIL, "The bus %s cannot carry SPI transfers.", io->bus->name);
    if (grow((void **)&io->ops, &io->cap_ops, io->n_slots, sizeof(*io->ops), err) < 0)
        return -1;
    for (size_t i = 0; i < io->n_slots; i++) {
        const struct spi_slot *s = &io->slots[i];
        io->ops[i].tx = s->idle ? NULL : s->tx_ff ? io->ff : io->tx + s->tx_off;
        io->ops[i].rx = s->has_rx ? io->rx + s->rx_off : NULL;
        io->ops[i].len = s->len;
        io->ops[i].idle = s->idle;
    }
    io->batches++;
    int rc = io->bus->ops->spi_batch(io->bus, io->ops, io->n_slots, err);
    spi_io_begin(io);
    return rc;
}

int spi_io_more(struct spi_io *io, size_t len, struct mf_err *err)
{
    size_t at;
    spi_io_begin(io);
    if (spi_io_transfer(io, NULL, len, &at, err) < 0)
        return -1;
    return spi_io_run(io, err);
}
