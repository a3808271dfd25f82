/* `mcuflash-sim moonraker`: a stand-in for Moonraker's service API on
 * 127.0.0.1, for tests of the Klipper service's stop and start: GET
 * /machine/system_info reports the unit's active_state, POST
 * /machine/services/stop|start?service=UNIT changes it.  Every request is
 * logged as "METHOD PATH", one a line. */
#include "moonraker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/clock.h"

#define REQUEST_MAX 4096
#define READ_WAIT_MS 2000

static volatile sig_atomic_t mr_stop;

static void on_signal(int sig)
{
    (void)sig;
    mr_stop = 1;
}

struct fake {
    const char *unit, *log;
    bool active, stuck;
    uint64_t stop_delay_us;  /* a stop reads "deactivating" this long, as systemd's job runs */
    uint64_t stopping_until; /* monotonic us; 0 when no stop is under way */
};

static int usage(FILE *out, int rc)
{
    fprintf(out, "usage: mcuflash-sim moonraker --port-file FILE [--log FILE] [--unit NAME] [--state active|inactive]\n"
                 "                              [--stuck] [--stop-delay MS]\n\n"
                 "Answer Moonraker's service requests on 127.0.0.1 (the port is written to FILE): the unit's\n"
                 "state (default klipper, active) in GET /machine/system_info, and POST\n"
                 "/machine/services/stop|start?service=UNIT (with --stuck a stop leaves it active; with\n"
                 "--stop-delay it reads deactivating for MS after the stop was answered).\n"
                 "Each request is appended to the log as \"METHOD PATH\".  Runs until SIGTERM or SIGINT.\n");
    return rc;
}

static void reply(int fd, int status, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n", status, status == 200 ? "OK" : status == 400 ? "Bad Request"
                                                                                           : "Not Found",
                     strlen(body));
    if (write(fd, head, (size_t)n) != n || write(fd, body, strlen(body)) != (ssize_t)strlen(body))
        return; /* the client left */
}

/* The request line and headers (a POST here has no body). */
static bool read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    struct pollfd p = { .fd = fd, .events = POLLIN };
    while (len + 1 < cap && poll(&p, 1, READ_WAIT_MS) == 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n <= 0)
            return false;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            return true;
    }
    return false;
}

static void serve(struct fake *f, int fd)
{
    char req[REQUEST_MAX], method[16], path[1024], body[512];
    if (!read_request(fd, req, sizeof(req)) || sscanf(req, "%15s %1023s", method, path) != 2)
        return;
    FILE *log = f->log ? fopen(f->log, "a") : NULL;
    if (log) {
        fprintf(log, "%s %s\n", method, path);
        fclose(log);
    }
    const char *service = strstr(path, "?service=");
    bool ours = service && !strcmp(service + 9, f->unit);
    if (f->stopping_until && mf_now_us() >= f->stopping_until) {
        f->stopping_until = 0;
        f->active = false;
    }
    if (!strcmp(method, "GET") && !strcmp(path, "/machine/system_info")) {
        const char *state = f->stopping_until ? "deactivating" : f->active ? "active" : "inactive";
        snprintf(body, sizeof(body), "{\"result\":{\"system_info\":{\"provider\":\"systemd_cli\",\"available_services\":"
                 "[\"%s\"],\"service_state\":{\"%s\":{\"active_state\":\"%s\",\"sub_state\":\"%s\"}}}}}", f->unit,
                 f->unit, state, f->stopping_until ? "stop-sigterm" : f->active ? "running" : "dead");
        reply(fd, 200, body);
    } else if (!strcmp(method, "POST") && (!strncmp(path, "/machine/services/stop?", 23) ||
                                           !strncmp(path, "/machine/services/start?", 24))) {
        if (!ours) {
            reply(fd, 400, "{\"error\":{\"code\":400,\"message\":\"Invalid argument\"}}");
            return;
        }
        if (!strncmp(path, "/machine/services/start?", 24)) {
            f->active = true;
            f->stopping_until = 0;
        } else if (!f->stuck && f->stop_delay_us) {
            f->stopping_until = mf_now_us() + f->stop_delay_us;
        } else if (!f->stuck) {
            f->active = false;
        }
        reply(fd, 200, "{\"result\":\"ok\"}");
    } else {
        reply(fd, 404, "{\"error\":{\"code\":404,\"message\":\"Not Found\"}}");
    }
}

int sim_moonraker_main(int argc, char **argv)
{
    struct fake f = { .unit = "klipper", .active = true };
    const char *port_file = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage(stdout, 0);
        if (!strcmp(a, "--stuck")) {
            f.stuck = true;
            continue;
        }
        if (!v)
            return usage(stderr, 2);
        i++;
        if (!strcmp(a, "--port-file"))
            port_file = v;
        else if (!strcmp(a, "--log"))
            f.log = v;
        else if (!strcmp(a, "--unit"))
            f.unit = v;
        else if (!strcmp(a, "--stop-delay") && atoi(v) > 0)
            f.stop_delay_us = (uint64_t)atoi(v) * 1000u;
        else if (!strcmp(a, "--state") && (!strcmp(v, "active") || !strcmp(v, "inactive")))
            f.active = !strcmp(v, "active");
        else
            return usage(stderr, 2);
    }
    if (!port_file)
        return usage(stderr, 2);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof(addr);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FILE *pf = NULL;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 8) < 0 ||
        getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0 || !(pf = fopen(port_file, "w"))) {
        fprintf(stderr, "mcuflash-sim moonraker: cannot listen on 127.0.0.1 (%s); nothing was started.\n",
                strerror(errno));
        return 3;
    }
    fprintf(pf, "%u\n", (unsigned)ntohs(addr.sin_port));
    fclose(pf);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    while (!mr_stop) {
        struct pollfd p = { .fd = lfd, .events = POLLIN };
        if (poll(&p, 1, 200) != 1)
            continue;
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve(&f, fd);
        close(fd);
    }
    close(lfd);
    unlink(port_file);
    return 0;
}
