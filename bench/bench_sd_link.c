/* What a sector costs on the line: sectors written and read through the SD
 * code on a virtual board with realistic timing, per link and bus, with
 * the time, message blocks and bytes each way per sector, and the lost
 * replies and retransmissions.  Prints one line per case; with a CASE
 * name, only that case, as "BYTES_OUT_WRITE BYTES_IN_WRITE BYTES_OUT_READ
 * BYTES_IN_READ" per sector (bench/flash-speed.sh reads it).  The case
 * "connect" times connecting and identifying instead, on a pty without
 * timing: it prints the median of 20 in milliseconds.  The cases
 * "connect-usb", "connect-usb-known" and "connect-uart" do so with
 * realistic timing, the second with the link known to be USB before the
 * dictionary says so (Klipper's USB ids, or an earlier session on the
 * same device).
 * Usage: bench_sd_link MCUFLASH_SIM [SECTORS [CASE]] */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "klipper/session.h"
#include "sd/klipper_bus.h"
#include "sd/sd.h"
#include "util/clock.h"

#define CARD_SECTORS 32768u  /* a 16 MiB image */

struct bench_case {
    const char *name, *mcu, *link;
    const char *spi_bus, *cs_pin; /* NULL: SDIO */
    uint32_t rate;
    const char *timing;
    enum transport_medium medium; /* as the transport tells it */
};

static const char *sim_path;
static char dir[256];

static pid_t start_board(const struct bench_case *bc, const char *dev, const char *image)
{
    FILE *f = fopen(image, "wb");
    if (!f || ftruncate(fileno(f), (off_t)CARD_SECTORS * 512) < 0) {
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    const char *argv[] = { sim_path, "--path", dev, "--mcu", bc->mcu, "--link", bc->link, "--timing", bc->timing ? bc->timing : "realistic",
                           "--card", image, NULL };
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct stat st;
    for (int i = 0; i < 300 && stat(dev, &st) < 0; i++)
        usleep(20000);
    return pid;
}

static int open_port(const char *dev)
{
    int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios t;
    if (fd >= 0 && tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    return fd;
}

static int open_bus(struct kl_session *s, const struct bench_case *bc, struct cardbus **bus, struct mf_err *err)
{
    if (!bc->spi_bus)
        return klipper_sdio_open(s, "sdio", bus, err);
    struct klipper_spi_config cfg = { .bus = bc->spi_bus, .cs_pin = bc->cs_pin, .rate = bc->rate,
                                      .sw_pins = { "PA6", "PB5", "PA5" } };
    return klipper_spi_open(s, &cfg, bus, err);
}

struct phase {
    uint64_t us;
    struct kl_stats before, after;
};

static void print_phase(const char *what, const struct phase *p, uint32_t n)
{
    printf(" %s %6.2f ms %5.1f blk %6.0f B out %6.0f B in;", what, p->us / 1000.0 / n,
           (double)(p->after.blocks_sent - p->before.blocks_sent) / n,
           (double)(p->after.bytes_sent - p->before.bytes_sent) / n,
           (double)(p->after.bytes_received - p->before.bytes_received) / n);
}

/* Write then read back n sectors, 64 at a time as the FAT layer does. */
static int measure(struct kl_session *s, struct sd_card *sd, uint32_t n, struct phase ph[2], struct mf_err *err)
{
    uint8_t *data = malloc((size_t)n * 512), *back = malloc((size_t)n * 512);
    int rc = data && back ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < (size_t)n * 512; i++)
        data[i] = (uint8_t)(i * 131 + (i >> 9));
    for (int w = 0; w < 2 && rc == 0; w++) {
        ph[w].before = kl_session_stats(s);
        uint64_t t0 = mf_now_us();
        for (uint32_t off = 0; rc == 0 && off < n; off += 64) {
            uint32_t k = n - off < 64 ? n - off : 64;
            rc = w ? sd_read_sectors(sd, 1000 + off, k, back + (size_t)off * 512, err)
                   : sd_write_sectors(sd, 1000 + off, k, data + (size_t)off * 512, err);
        }
        ph[w].us = mf_now_us() - t0;
        ph[w].after = kl_session_stats(s);
    }
    if (rc == 0 && memcmp(data, back, (size_t)n * 512))
        rc = mf_fail(err, MF_E_FAIL, "the data read back differs");
    free(data);
    free(back);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Connect and identify 20 times; the median in ms, or -1. */
static double connect_ms(int fd, const char *dev, enum transport_medium medium)
{
    uint64_t took[20];
    for (int i = 0; i < 20; i++) {
        struct transport *t = NULL;
        struct kl_session *s = NULL;
        struct mf_err err;
        uint64_t t0 = mf_now_us();
        int rc = transport_over_fd(dup(fd), dev, &t, &err);
        if (rc == 0) {
            t->medium = medium;
            rc = kl_session_open(t, &s, &err);
        }
        took[i] = mf_now_us() - t0;
        kl_session_close(s);
        transport_close(t);
        if (rc < 0) {
            fprintf(stderr, "bench_sd_link: %s\n", err.msg);
            return -1;
        }
    }
    qsort(took, 20, sizeof(took[0]), cmp_u64);
    return took[10] / 1000.0;
}

static void stop_board(pid_t pid, int fd, const char *image)
{
    if (fd >= 0)
        close(fd);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    unlink(image);
}

/* The connect case: the median time to connect and identify. */
static void run_connect(const struct bench_case *bc, bool bare)
{
    char dev[300], image[300];
    snprintf(dev, sizeof(dev), "%s/%s", dir, bc->name);
    snprintf(image, sizeof(image), "%s/%s.img", dir, bc->name);
    pid_t pid = start_board(bc, dev, image);
    int fd = pid > 0 ? open_port(dev) : -1;
    double ms = fd >= 0 ? connect_ms(fd, dev, bc->medium) : -1;
    bool timed = bc->timing && strcmp(bc->timing, "none");
    if (bare)
        printf("%.1f\n", ms);
    else
        printf("%-24s %.1f ms to connect and identify (median of 20, %s)\n", bc->name, ms,
               !timed                                 ? "pty without timing"
               : bc->medium == TRANSPORT_MEDIUM_USB   ? "realistic timing, link known to be USB"
                                                      : "realistic timing, link not known");
    stop_board(pid, fd, image);
}

static double per_sector(uint64_t after, uint64_t before, uint32_t n)
{
    return (double)(after - before) / n;
}

static void run_case(const struct bench_case *bc, uint32_t n, bool bytes_only)
{
    char dev[300], image[300];
    snprintf(dev, sizeof(dev), "%s/%s", dir, bc->name);
    snprintf(image, sizeof(image), "%s/%s.img", dir, bc->name);
    pid_t pid = start_board(bc, dev, image);
    int fd = pid > 0 ? open_port(dev) : -1;
    struct transport *t = NULL;
    struct kl_session *s = NULL;
    struct cardbus *bus = NULL;
    struct sd_card *sd = NULL;
    struct phase ph[2];
    struct mf_err err;
    mf_err_clear(&err);
    int rc = fd >= 0 ? 0 : mf_fail(&err, MF_E_DEVICE, "the virtual board did not start");
    if (rc == 0)
        rc = transport_over_fd(fd, dev, &t, &err);
    if (rc == 0)
        rc = kl_session_open(t, &s, &err);
    if (rc == 0)
        rc = open_bus(s, bc, &bus, &err);
    if (rc == 0)
        rc = sd_open(bus, &sd, &err);
    if (rc == 0)
        rc = measure(s, sd, n, ph, &err);
    if (bytes_only) {
        if (rc == 0)
            printf("%.0f %.0f %.0f %.0f\n", per_sector(ph[0].after.bytes_sent, ph[0].before.bytes_sent, n),
                   per_sector(ph[0].after.bytes_received, ph[0].before.bytes_received, n),
                   per_sector(ph[1].after.bytes_sent, ph[1].before.bytes_sent, n),
                   per_sector(ph[1].after.bytes_received, ph[1].before.bytes_received, n));
        else
            fprintf(stderr, "bench_sd_link: %s: %s\n", bc->name, err.msg);
    } else if (printf("%-24s", bc->name), rc == 0) {
        print_phase("write", &ph[0], n);
        print_phase("read", &ph[1], n);
        printf(" %llu lost, %llu retransmitted\n", (unsigned long long)(ph[1].after.lost_responses),
               (unsigned long long)ph[1].after.retransmits);
    } else {
        printf(" failed: %s\n", err.msg);
    }
    sd_close(sd, NULL);
    if (bus)
        bus->ops->close(bus);
    kl_session_close(s);
    transport_close(t);
    stop_board(pid, fd, image);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_sd_link MCUFLASH_SIM [SECTORS [CASE]]\n");
        return 2;
    }
    sim_path = argv[1];
    uint32_t n = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 128;
    if (n == 0 || n > CARD_SECTORS - 1000) {
        fprintf(stderr, "bench_sd_link: SECTORS must be 1 to %u.\n", CARD_SECTORS - 1000);
        return 2;
    }
    snprintf(dir, sizeof(dir), "/tmp/mcuflash-bench-link.XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    static const struct bench_case cases[] = {
        { "usb-sdio", "stm32f407xx", "usb", NULL, NULL, 0, NULL, TRANSPORT_MEDIUM_UNKNOWN },
        { "usb-hw-spi-400kHz", "stm32f407xx", "usb", "spi1", "PA4", KLIPPER_SD_SPI_RATE, NULL, TRANSPORT_MEDIUM_UNKNOWN },
        { "usb-hw-spi-4MHz", "stm32f407xx", "usb", "spi1", "PA4", KLIPPER_SD_SPI_FAST_RATE, NULL, TRANSPORT_MEDIUM_UNKNOWN },
        { "usb-sw-spi-400kHz", "stm32f407xx", "usb", "swspi", "PA4", KLIPPER_SD_SPI_RATE, NULL, TRANSPORT_MEDIUM_UNKNOWN },
        { "uart250000-hw-spi-4MHz", "stm32f407xx", "uart:250000", "spi1", "PA4", KLIPPER_SD_SPI_FAST_RATE, NULL, TRANSPORT_MEDIUM_UNKNOWN },
        { "connect", "stm32f407xx", "usb", NULL, NULL, 0, "none", TRANSPORT_MEDIUM_UNKNOWN },
        { "connect-usb", "stm32f407xx", "usb", NULL, NULL, 0, "realistic", TRANSPORT_MEDIUM_UNKNOWN },
        { "connect-usb-known", "stm32f407xx", "usb", NULL, NULL, 0, "realistic", TRANSPORT_MEDIUM_USB },
        { "connect-uart", "stm32f407xx", "uart:250000", NULL, NULL, 0, "realistic", TRANSPORT_MEDIUM_UNKNOWN },
    };
    const char *only = argc > 3 ? argv[3] : NULL;
    if (!only)
        printf("%u sectors written and read back through the SD code, virtual board with --timing realistic;\n"
               "per sector: time, message blocks sent, bytes sent and received\n", n);
    bool found = false;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (only && strcmp(only, cases[i].name))
            continue;
        found = true;
        if (cases[i].timing)
            run_connect(&cases[i], only != NULL);
        else
            run_case(&cases[i], n, only != NULL);
    }
    if (!found)
        fprintf(stderr, "bench_sd_link: no case %s\n", only);
    rmdir(dir);
    return 0;
}
