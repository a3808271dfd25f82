/* The MCU's transmit buffer is never overrun: sectors written and read
 * back through the SD code on virtual boards with realistic timing (USB's
 * 192-byte buffer and a UART's 96 bytes, which drop a reply that does not
 * fit), over hardware SPI at both clocks and SDIO.  Afterwards the board
 * counts no reply dropped, and the session no reply lost.  Some USB boards
 * are opened with the transport saying USB, as connecting does for a device
 * with Klipper's USB ids, so that identifying fills the larger buffer from
 * the start: fewer blocks each way than on a link not known (several chunks
 * of the dictionary to a block, one ack for them). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cardbus_model.h"
#include "check.h"
#include "klipper/session.h"
#include "sd/klipper_bus.h"
#include "sd/sd.h"
#include "sim_proc.h"

#define SECTORS 4096u  /* a 2 MiB image */
#define RUN 24u

struct txcase {
    const char *name, *link;
    uint32_t rate; /* SPI clock; 0: SDIO */
    enum transport_medium medium; /* as the transport tells it */
};

static int open_bus(struct kl_session *s, uint32_t rate, struct cardbus **bus, struct mf_err *err)
{
    if (!rate)
        return klipper_sdio_open(s, "sdio", bus, err);
    struct klipper_spi_config cfg = { .bus = "spi1", .cs_pin = "PA4", .rate = rate };
    return klipper_spi_open(s, &cfg, bus, err);
}

/* Write and read back RUN sectors; the data must match. */
static void round_trip(struct sd_card *sd, const char *name)
{
    uint8_t data[RUN * 512], back[RUN * 512];
    model_fill(data, sizeof(data), 11);
    struct mf_err err;
    int ok = sd_write_sectors(sd, 200, RUN, data, &err) == 0 && sd_read_sectors(sd, 200, RUN, back, &err) == 0;
    if (!ok)
        fprintf(stderr, "  %s: %s\n", name, err.msg);
    CHECK(ok);
    CHECK(ok && memcmp(data, back, sizeof(data)) == 0);
}

/* The session's counts after connecting and identifying on path, the
 * transport telling medium; all 0 if that failed. */
static struct kl_stats identify_stats(const char *path, enum transport_medium medium)
{
    int fd = sim_open_port(path);
    struct transport *t = NULL;
    struct kl_session *s = NULL;
    struct mf_err err;
    struct kl_stats st = { 0 };
    if (fd >= 0 && transport_over_fd(fd, path, &t, &err) == 0) {
        t->medium = medium;
        if (kl_session_open(t, &s, &err) == 0)
            st = kl_session_stats(s);
        else
            fprintf(stderr, "  identify on %s: %s\n", path, err.msg);
    }
    kl_session_close(s);
    if (t)
        transport_close(t);
    else if (fd >= 0)
        close(fd);
    return st;
}

/* Blocks sent, each counted once: retransmissions left out. */
static uint64_t first_sent(const struct kl_stats *st)
{
    return st->blocks_sent - st->retransmits;
}

static void one_case(const char *dir, const struct txcase *c)
{
    char image[1200];
    snprintf(image, sizeof(image), "%s/%s.img", dir, c->name);
    int img = open(image, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    CHECK(img >= 0 && ftruncate(img, (off_t)SECTORS * 512) == 0);
    if (img >= 0)
        close(img);
    struct sim_proc p;
    const char *args[] = { "--mcu", "stm32f407xx", "--link", c->link, "--timing", "realistic", "--card", image, NULL };
    if (!sim_start_board(&p, dir, c->name, true, args)) {
        CHECK(!"the virtual board started");
        sim_stop(&p);
        return;
    }
    if (c->medium == TRANSPORT_MEDIUM_USB) {
        struct kl_stats unknown = identify_stats(p.path, TRANSPORT_MEDIUM_UNKNOWN);
        struct kl_stats known = identify_stats(p.path, TRANSPORT_MEDIUM_USB);
        CHECK(unknown.blocks_sent > 0 && known.blocks_sent > 0);
        /* Blocks sent again (a board slow to answer on a busy machine)
         * and the nak each may bring are not counted. */
        CHECK(first_sent(&known) * 2 < first_sent(&unknown));
        CHECK(known.blocks_received - known.retransmits < unknown.blocks_received);
        CHECK_EQ(known.lost_responses + unknown.lost_responses, 0);
    }
    int fd = sim_open_port(p.path);
    struct transport *t = NULL;
    struct kl_session *s = NULL;
    struct cardbus *bus = NULL;
    struct sd_card *sd = NULL;
    struct mf_err err;
    if (fd >= 0 && transport_over_fd(fd, p.path, &t, &err) == 0)
        t->medium = c->medium;
    if (!t || kl_session_open(t, &s, &err) < 0 ||
        open_bus(s, c->rate, &bus, &err) < 0 || sd_open(bus, &sd, &err) < 0) {
        fprintf(stderr, "  %s: %s\n", c->name, fd < 0 ? "no device" : err.msg);
        CHECK(!"open");
    } else {
        round_trip(sd, c->name);
        CHECK_EQ(kl_session_stats(s).lost_responses, 0);
        json_t *st = sim_status(&p);
        json_t *dropped = st ? json_object_get(json_object_get(st, "counters"), "tx_dropped") : NULL;
        CHECK(json_is_integer(dropped));
        if (json_integer_value(dropped))
            fprintf(stderr, "  %s: %lld replies dropped\n", c->name, (long long)json_integer_value(dropped));
        CHECK_EQ(json_integer_value(dropped), 0);
        json_decref(st);
    }
    sd_close(sd, NULL);
    if (bus)
        bus->ops->close(bus);
    kl_session_close(s);
    if (t)
        transport_close(t);
    else if (fd >= 0)
        close(fd);
    CHECK(sim_stop(&p));
    unlink(image);
}

int main(void)
{
    static const struct txcase cases[] = {
        { "usb-spi-4mhz", "usb", KLIPPER_SD_SPI_FAST_RATE, TRANSPORT_MEDIUM_USB },
        { "usb-spi-400khz", "usb", KLIPPER_SD_SPI_RATE, TRANSPORT_MEDIUM_UNKNOWN },
        { "usb-sdio", "usb", 0, TRANSPORT_MEDIUM_USB },
        { "uart-spi-4mhz", "uart:250000", KLIPPER_SD_SPI_FAST_RATE, TRANSPORT_MEDIUM_UNKNOWN },
        { "uart-sdio", "uart:250000", 0, TRANSPORT_MEDIUM_UNKNOWN },
    };
    const char *dir = sim_tmpdir("test_sd_klipper_txbuf");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        one_case(dir, &cases[i]);
    rmdir(dir);
    return check_report("test_sd_klipper_txbuf");
}
