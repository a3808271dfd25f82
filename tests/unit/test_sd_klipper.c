/* The SD code on the Klipper buses of the virtual board: SDIO (pipelined
 * runs through the MCU's one data buffer) and hardware SPI, on a clean line
 * and with reply blocks lost at random; every sector is checked in the card
 * image itself once the board has stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cardbus_model.h"
#include "klipper/session.h"
#include "sd/klipper_bus.h"
#include "sd/sd.h"
#include "sim_proc.h"

#define SECTORS 16384u  /* an 8 MiB image */

static char dir[1024];

struct board {
    struct sim_proc proc;
    char image[1100];
    int fd;
    struct transport *t;
};

static void board_start(struct board *b, const char *name, const char *timing)
{
    memset(b, 0, sizeof(*b));
    snprintf(b->image, sizeof(b->image), "%s/%s.img", dir, name);
    uint8_t *zero = calloc(SECTORS, 512);
    FILE *f = fopen(b->image, "wb");
    CHECK(f && zero && fwrite(zero, 512, SECTORS, f) == SECTORS);
    if (f)
        fclose(f);
    free(zero);
    CHECK(sim_start_board(&b->proc, dir, name, true,
                          (const char *const[]){ "--mcu", "stm32f407xx", "--card", b->image, "--timing", timing, NULL }));
    b->fd = sim_open_raw(&b->proc);
    if (b->fd >= 0)
        transport_over_fd(b->fd, b->proc.path, &b->t, NULL);
}

static void board_faults(struct board *b, const char *spec)
{
    char command[300], reply[300];
    snprintf(command, sizeof(command), "faults %s", spec);
    sim_ctl(&b->proc, command, reply, sizeof(reply));
    CHECK_STR(reply, "ok");
}

/* Stop the board (it writes the image out) and compare sectors with it. */
static void board_stop(struct board *b)
{
    transport_close(b->t);
    if (b->fd >= 0)
        close(b->fd);
    CHECK(sim_stop(&b->proc));
}

static int image_holds(const struct board *b, uint32_t lba, uint32_t count, const uint8_t *data)
{
    uint8_t *file = malloc((size_t)count * 512);
    FILE *f = fopen(b->image, "rb");
    int ok = f && file && fseek(f, (long)lba * 512, SEEK_SET) == 0 &&
             fread(file, 512, count, f) == count && memcmp(file, data, (size_t)count * 512) == 0;
    if (f)
        fclose(f);
    free(file);
    return ok;
}

/* Write count sectors at lba and read them back through the card. */
static int round_trip(struct sd_card *sd, uint32_t lba, uint32_t count, uint8_t *data, uint32_t seed)
{
    uint8_t *back = malloc((size_t)count * 512);
    model_fill(data, (size_t)count * 512, seed);
    struct mf_err err;
    int ok = sd_write_sectors(sd, lba, count, data, &err) == 0;
    if (!ok)
        fprintf(stderr, "  write %u+%u: %s\n", lba, count, err.msg);
    if (ok && !(ok = sd_read_sectors(sd, lba, count, back, &err) == 0))
        fprintf(stderr, "  read %u+%u: %s\n", lba, count, err.msg);
    ok = ok && memcmp(back, data, (size_t)count * 512) == 0;
    free(back);
    return ok;
}

static int open_bus(struct kl_session *s, bool sdio, struct cardbus **bus, struct mf_err *err)
{
    if (sdio)
        return klipper_sdio_open(s, "sdio", bus, err);
    struct klipper_spi_config cfg = { .bus = "spi1", .cs_pin = "PA4", .rate = KLIPPER_SD_SPI_FAST_RATE };
    return klipper_spi_open(s, &cfg, bus, err);
}

/* A board with its card open through the SD code on one Klipper bus. */
struct card_run {
    struct board b;
    struct kl_session *s;
    struct cardbus *bus;
    struct sd_card *sd;
};

/* Start the board and open the card; on failure say why, check, and stop
 * it again. */
static bool run_open(struct card_run *r, const char *name, const char *timing, bool sdio)
{
    memset(r, 0, sizeof(*r));
    board_start(&r->b, name, timing);
    struct mf_err err;
    if (r->b.t && kl_session_open(r->b.t, &r->s, &err) == 0 && open_bus(r->s, sdio, &r->bus, &err) == 0 &&
        sd_open(r->bus, &r->sd, &err) == 0)
        return true;
    fprintf(stderr, "%s: %s\n", name, err.msg);
    CHECK(!"open");
    if (r->bus)
        r->bus->ops->close(r->bus);
    kl_session_close(r->s);
    board_stop(&r->b);
    return false;
}

/* Close the card (cleanly) and stop the board, which writes its image. */
static void run_close(struct card_run *r)
{
    struct mf_err err;
    CHECK_EQ(sd_close(r->sd, &err), 0);
    r->bus->ops->close(r->bus);
    kl_session_close(r->s);
    board_stop(&r->b);
}

static void one_bus(const char *name, bool sdio)
{
    struct card_run r;
    if (!run_open(&r, name, "none", sdio))
        return;
    enum { CLEAN = 40, LOSSY = 120 };
    uint8_t *clean = malloc(CLEAN * 512), *lossy = malloc(LOSSY * 512), *after = malloc(16 * 512);
    CHECK(round_trip(r.sd, 100, CLEAN, clean, 1));
    CHECK_EQ(sd_card_stats(r.sd)->retries, 0);

    /* Reply blocks lost: one in 250 for SPI, whose runs are retried
     * whole, one in 30 for SD mode, which redoes only the sectors
     * concerned. */
    board_faults(&r.b, sdio ? "lose-response=0.033,seed=5" : "lose-response=0.004,seed=5");
    CHECK(round_trip(r.sd, 1000, LOSSY, lossy, 2));
    board_faults(&r.b, "\"\"");
    fprintf(stderr, "%s: %llu replies lost, %llu retries, %llu split runs\n", name,
            (unsigned long long)kl_session_stats(r.s).lost_responses,
            (unsigned long long)sd_card_stats(r.sd)->retries, (unsigned long long)sd_card_stats(r.sd)->split_runs);
    CHECK(kl_session_stats(r.s).lost_responses > 0);
    /* SPI retries a run with a lost reply; SD mode reads and writes
     * again only the sectors whose replies were lost. */
    CHECK(sdio || sd_card_stats(r.sd)->retries > 0);
    CHECK(round_trip(r.sd, SECTORS - 16, 16, after, 3));
    run_close(&r);
    CHECK(image_holds(&r.b, 100, CLEAN, clean));
    CHECK(image_holds(&r.b, 1000, LOSSY, lossy));
    CHECK(image_holds(&r.b, SECTORS - 16, 16, after));
    free(clean);
    free(lossy);
    free(after);
}

/* At 4 MHz a card programming a written block for 1 ms (realistic
 * timing) would take some 500 bytes of pad clocked on its own device; the
 * second device without a chip select clocks that time at 400 kHz, so a
 * written sector costs about its data on the link.  Bytes are counted, not
 * time: they do not depend on the machine's load. */
static void spi_idle_device(void)
{
    enum { N = 24 };
    struct card_run r;
    if (!run_open(&r, "spi-idle", "realistic", false))
        return;
    uint8_t *data = malloc(N * 512);
    model_fill(data, N * 512, 7);
    struct mf_err err;
    uint64_t before = kl_session_stats(r.s).bytes_sent;
    CHECK_EQ(sd_write_sectors(r.sd, 200, N, data, &err), 0);
    uint64_t per_sector = (kl_session_stats(r.s).bytes_sent - before) / N;
    fprintf(stderr, "spi-idle: %llu bytes sent per written sector\n", (unsigned long long)per_sector);
    CHECK(per_sector < 800);
    run_close(&r);
    CHECK(image_holds(&r.b, 200, N, data));
    free(data);
}

int main(void)
{
    if (!getenv("MCUFLASH_SIM")) {
        fprintf(stderr, "MCUFLASH_SIM is not set\n");
        return 1;
    }
    snprintf(dir, sizeof(dir), "%s", sim_tmpdir("sdklipper"));
    one_bus("sdio", true);
    one_bus("spi", false);
    spi_idle_device();
    char rm[1100];
    snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
    CHECK_EQ(system(rm), 0);
    return check_report("test_sd_klipper");
}
