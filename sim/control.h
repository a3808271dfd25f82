/* The control socket: a unix stream socket taking one-line text commands
 * and giving one-line replies, so tests can reset, power-cycle, unplug the
 * board, inject faults and inspect its state. */
#ifndef SIM_CONTROL_H
#define SIM_CONTROL_H

#include <poll.h>
#include <stddef.h>

#include "util/err.h"

#define CONTROL_MAX_CLIENTS 8
#define CONTROL_LINE_MAX 1024

/* Runs one command line; writes the reply (without newline). */
typedef void (*control_exec_fn)(void *ctx, char *line, char *reply, size_t cap);

struct control_client {
    int fd;
    char buf[CONTROL_LINE_MAX];
    size_t len;
};

struct sim_control {
    char path[108];
    int listen_fd;
    struct control_client clients[CONTROL_MAX_CLIENTS];
    control_exec_fn exec;
    void *ctx;
};

void control_init(struct sim_control *c);
int control_open(struct sim_control *c, const char *path, control_exec_fn exec, void *ctx, struct mf_err *err);
void control_close(struct sim_control *c);
/* Fill poll entries (listener and clients); returns how many. */
size_t control_pollfds(const struct sim_control *c, struct pollfd *pfd, size_t max);
/* Serve what poll reported on those entries. */
void control_serve(struct sim_control *c, const struct pollfd *pfd, size_t n);

#endif
