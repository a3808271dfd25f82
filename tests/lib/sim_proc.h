/* Running virtual boards and buses from a unit test: start mcuflash-sim
 * with arguments, wait for its device and control socket, ask its status,
 * send control commands, stop it (it must exit 0). */
#ifndef MF_TEST_SIM_PROC_H
#define MF_TEST_SIM_PROC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sim_proc {
    pid_t pid;
    char path[1200];   /* the device link (boards) or bus socket */
    char ctl[1200];    /* the control socket ("" for a bus) */
};

/* The mcuflash-sim binary ($MCUFLASH_SIM, or beside the test). */
const char *sim_binary(void);
/* A fresh scratch directory under $MF_TMP (or /tmp) for this test. */
const char *sim_tmpdir(const char *test);

/* Start a board: --path DIR/NAME --control DIR/NAME.ctl then args (NULL-
 * terminated).  wait_device: also wait for the device link (not for CAN
 * boards).  False if it did not come up within a few seconds. */
bool sim_start_board(struct sim_proc *p, const char *dir, const char *name, bool wait_device,
                     const char *const args[]);
/* Start `mcuflash-sim canbus --path DIR/NAME` with extra args. */
bool sim_start_bus(struct sim_proc *p, const char *dir, const char *name, const char *const args[]);
/* Open the board's device as a host does, raw and non-blocking: the fd,
 * or -1. */
int sim_open_raw(const struct sim_proc *p);
/* SIGTERM and wait: true if it exited with status 0. */
bool sim_stop(struct sim_proc *p);

/* One control command; the reply line without its newline. */
void sim_ctl(const struct sim_proc *p, const char *command, char *reply, size_t cap);
/* `status` parsed (NULL if it is not JSON); json_decref it. */
json_t *sim_status(const struct sim_proc *p);
/* status[key] as a string ("" if absent or not a string), copied to buf. */
const char *sim_status_str(const struct sim_proc *p, const char *key, char *buf, size_t cap);
/* Wait up to ms for status[key] to equal want. */
bool sim_wait_status(const struct sim_proc *p, const char *key, const char *want, int ms);

/* Open a board's device for reading and writing, raw and non-blocking; -1
 * if it cannot be opened. */
int sim_open_port(const char *path);

/* Run mcuflash-sim with these arguments (stdout discarded): exit status. */
int sim_run(const char *const args[]);
/* Wait up to ms for path to exist (present) or be gone. */
bool sim_wait_path(const char *path, bool present, int ms);

/* Read a whole file (malloc'ed, NUL-terminated); NULL if unreadable. */
char *sim_read_file(const char *path, size_t *len);

#endif
