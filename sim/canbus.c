/* `mcuflash-sim canbus`: a virtual CAN bus.  An AF_UNIX SOCK_SEQPACKET
 * socket: each client (a virtual board, or mcuflash as the host's CAN
 * interface) gets one hello packet, then every packet is one Linux
 * struct can_frame, delivered in order to every other client.  With
 * realistic timing frames take the time their bits need on the bus. */
#include <errno.h>
#include <fcntl.h>
#include <linux/can.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sim.h"
#include "timing_model.h"
#include "unixsock.h"
#include "util/clock.h"

#define BUS_CLIENTS_MAX 32
#define BUS_QUEUE_MAX 4096

struct queued_frame {
    struct can_frame frame;
    int from;                 /* sender's slot */
    uint64_t at_ns;           /* on the bus until then */
};

struct bus {
    char path[108];
    int listen_fd;
    int clients[BUS_CLIENTS_MAX];
    uint32_t bitrate;
    bool realistic;
    struct queued_frame queue[BUS_QUEUE_MAX];
    size_t qhead, qlen;
    uint64_t free_at_ns;
    uint64_t frames, dropped;
};

static volatile sig_atomic_t bus_stop;

static void on_bus_signal(int sig)
{
    (void)sig;
    bus_stop = 1;
}

static uint64_t now_ns(void)
{
    return mf_now_us() * 1000u;
}

static int bus_usage(const char *why)
{
    fprintf(stderr, "mcuflash-sim canbus: %s\nusage: mcuflash-sim canbus --path PATH [--bitrate N] "
                    "[--timing none|realistic]\n", why);
    return MF_E_USAGE;
}

static int parse_bus_options(int argc, char **argv, struct bus *b)
{
    b->bitrate = SIM_CAN_DEFAULT_FREQUENCY;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc)
            return bus_usage("an option needs a value; nothing was started.");
        const char *a = argv[i], *v = argv[i + 1];
        char *end;
        if (!strcmp(a, "--path")) {
            if (strlen(v) >= sizeof(b->path))
                return bus_usage("the socket path is too long; nothing was started.");
            strcpy(b->path, v);
        } else if (!strcmp(a, "--bitrate")) {
            unsigned long r = strtoul(v, &end, 10);
            if (*end || r < 10000 || r > 8000000)
                return bus_usage("--bitrate takes 10000 to 8000000; nothing was started.");
            b->bitrate = (uint32_t)r;
        } else if (!strcmp(a, "--timing") && (!strcmp(v, "none") || !strcmp(v, "realistic"))) {
            b->realistic = !strcmp(v, "realistic");
        } else {
            return bus_usage("unknown option or value; nothing was started.");
        }
    }
    return b->path[0] ? 0 : bus_usage("--path is required; nothing was started.");
}

static int bus_listen(struct bus *b)
{
    b->listen_fd = unix_listen(b->path, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 16);
    if (b->listen_fd == UNIXSOCK_NOT_SOCKET) {
        fprintf(stderr, "mcuflash-sim canbus: %s exists and is not a socket; it was left alone and nothing "
                        "was started.\n", b->path);
        return MF_E_USAGE;
    }
    if (b->listen_fd == UNIXSOCK_TOO_LONG) {
        fprintf(stderr, "mcuflash-sim canbus: the path %s is too long for a socket; nothing was started.\n", b->path);
        return MF_E_USAGE;
    }
    if (b->listen_fd < 0) {
        fprintf(stderr, "mcuflash-sim canbus: could not listen at %s (%s); nothing was started.\n", b->path,
                strerror(errno));
        return MF_E_DEVICE;
    }
    return 0;
}

static void accept_client(struct bus *b)
{
    int fd = accept4(b->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0)
        return;
    for (int i = 0; i < BUS_CLIENTS_MAX; i++)
        if (b->clients[i] < 0) {
            char hello[64];
            int n = snprintf(hello, sizeof(hello), "mcuflash-sim canbus bitrate=%u", b->bitrate);
            if (send(fd, hello, (size_t)n, MSG_NOSIGNAL) != n)
                break;
            b->clients[i] = fd;
            return;
        }
    close(fd); /* no room (or it left at once) */
}

static void drop_client(struct bus *b, int slot)
{
    close(b->clients[slot]);
    b->clients[slot] = -1;
}

static void deliver(struct bus *b, const struct queued_frame *q)
{
    for (int i = 0; i < BUS_CLIENTS_MAX; i++) {
        if (i == q->from || b->clients[i] < 0)
            continue;
        ssize_t n = send(b->clients[i], &q->frame, sizeof(q->frame), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EPIPE)
            drop_client(b, i);
        else if (n != (ssize_t)sizeof(q->frame))
            b->dropped++; /* a client that does not read loses frames */
    }
    b->frames++;
}

/* Queue a frame behind the others; it is on the bus for its bit time. */
static void enqueue(struct bus *b, int from, const struct can_frame *f)
{
    if (b->qlen >= BUS_QUEUE_MAX) {
        b->dropped++;
        return;
    }
    uint64_t now = now_ns(), start = now > b->free_at_ns ? now : b->free_at_ns;
    uint8_t len = f->len > CAN_MAX_DLEN ? CAN_MAX_DLEN : f->len;
    uint64_t at = b->realistic ? start + (uint64_t)CAN_FRAME_BITS(len) * 1000000000u / b->bitrate : now;
    b->free_at_ns = at;
    struct queued_frame *q = &b->queue[(b->qhead + b->qlen++) % BUS_QUEUE_MAX];
    q->frame = *f;
    q->from = from;
    q->at_ns = at;
}

static void read_client(struct bus *b, int slot)
{
    struct can_frame f;
    for (;;) {
        ssize_t n = recv(b->clients[slot], &f, sizeof(f), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            drop_client(b, slot);
            return;
        }
        if (n < 0)
            return;
        if (n == (ssize_t)sizeof(f))
            enqueue(b, slot, &f);
    }
}

static void flush_due(struct bus *b)
{
    uint64_t now = now_ns();
    while (b->qlen && b->queue[b->qhead].at_ns <= now) {
        deliver(b, &b->queue[b->qhead]);
        b->qhead = (b->qhead + 1) % BUS_QUEUE_MAX;
        b->qlen--;
    }
}

static int bus_timeout_ms(const struct bus *b)
{
    if (!b->qlen)
        return 1000;
    uint64_t now = now_ns(), at = b->queue[b->qhead].at_ns;
    return at <= now ? 0 : (int)((at - now + 999999) / 1000000);
}

static void bus_loop(struct bus *b)
{
    while (!bus_stop) {
        struct pollfd pfd[BUS_CLIENTS_MAX + 1];
        int slot_of[BUS_CLIENTS_MAX + 1];
        nfds_t n = 0;
        pfd[n++] = (struct pollfd){ .fd = b->listen_fd, .events = POLLIN };
        for (int i = 0; i < BUS_CLIENTS_MAX; i++)
            if (b->clients[i] >= 0) {
                slot_of[n] = i;
                pfd[n++] = (struct pollfd){ .fd = b->clients[i], .events = POLLIN };
            }
        if (poll(pfd, n, bus_timeout_ms(b)) < 0 && errno != EINTR)
            break;
        if (pfd[0].revents)
            accept_client(b);
        for (nfds_t i = 1; i < n; i++)
            if (pfd[i].revents && b->clients[slot_of[i]] >= 0)
                read_client(b, slot_of[i]);
        flush_due(b);
    }
}

int sim_canbus_main(int argc, char **argv)
{
    static struct bus b;
    memset(&b, 0, sizeof(b));
    b.listen_fd = -1;
    for (int i = 0; i < BUS_CLIENTS_MAX; i++)
        b.clients[i] = -1;
    if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
        sim_usage(stdout);
        return 0;
    }
    int rc = parse_bus_options(argc, argv, &b);
    if (rc)
        return rc;
    struct sigaction sa = { .sa_handler = on_bus_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = bus_listen(&b);
    if (rc)
        return rc;
    bus_loop(&b);
    for (int i = 0; i < BUS_CLIENTS_MAX; i++)
        if (b.clients[i] >= 0)
            close(b.clients[i]);
    close(b.listen_fd);
    unlink(b.path);
    return 0;
}
