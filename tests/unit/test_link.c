/* The link layer on pseudo-terminals and FIFOs: raw bytes both ways, busy
 * detection naming the holder (and not the pty's owner), missing and
 * unusable paths, locking, and waiting for a path to go and come back. */
#include "link/link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static char dir[512];

struct pty {
    int master, slave;
    char name[64];
};

static void make_test_dir(void)
{
    const char *tmp = getenv("MF_TMP");
    char base[400];
    snprintf(base, sizeof(base), "%s", tmp && *tmp ? tmp : "/tmp");
    /* mkdir -p: MF_TMP itself may not exist yet. */
    for (char *p = base + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(base, 0755);
            *p = '/';
        }
    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/link-%ld", base, (long)getpid());
    CHECK(mkdir(dir, 0755) == 0 || errno == EEXIST);
    chmod(dir, 0755);  /* the permission test runs a child as "nobody" */
}

static void path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static void open_pty(struct pty *p)
{
    CHECK(openpty(&p->master, &p->slave, p->name, NULL, NULL) == 0);
}

/* Point link_path at target, replacing any old link. */
static void link_name(const char *target, const char *link_path)
{
    unlink(link_path);
    CHECK(symlink(target, link_path) == 0);
}

/* A pty plus a symlink to its slave, as a simulator or udev would make. */
static void open_linked_pty(struct pty *p, char *sym, size_t cap, const char *name)
{
    open_pty(p);
    path_in_dir(sym, cap, name);
    link_name(p->name, sym);
}

static void close_pty(struct pty *p)
{
    close(p->master);
    close(p->slave);
}

static size_t read_for(int fd, unsigned char *buf, size_t want, int timeout_ms)
{
    size_t got = 0;
    while (got < want) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            break;
        ssize_t n = read(fd, buf + got, want - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

static bool readable_within(int fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    return poll(&pfd, 1, timeout_ms) > 0;
}

static bool contains(const char *haystack, const char *needle)
{
    bool found = strstr(haystack, needle) != NULL;
    if (!found)
        fprintf(stderr, "  expected \"%s\" in: %s\n", needle, haystack);
    return found;
}

/* Bytes a cooked terminal would eat or change: the protocol's sync byte,
 * CR/LF, ^C, XON/XOFF, ^D, ^Z, DEL, ^\, ^U, backspace, 0xFF, then every
 * byte value once. */
static size_t awkward_bytes(unsigned char *buf)
{
    static const unsigned char special[] = {0x7E, 0x0D, 0x0A, 0x03, 0x11, 0x13, 0xFF,
                                            0x00, 0x04, 0x1A, 0x7F, 0x1C, 0x15, 0x08};
    memcpy(buf, special, sizeof(special));
    for (int i = 0; i < 256; i++)
        buf[sizeof(special) + (size_t)i] = (unsigned char)i;
    return sizeof(special) + 256;
}

static void check_passes_unchanged(int from, int to, int echo_side)
{
    unsigned char sent[300], got[300];
    size_t n = awkward_bytes(sent);
    CHECK_EQ(write(from, sent, n), n);
    CHECK_EQ(read_for(to, got, n, 2000), n);
    CHECK_MEM(got, sent, n);
    CHECK(!readable_within(to, 50));         /* nothing added */
    CHECK(!readable_within(echo_side, 50));  /* nothing echoed back */
}

static void test_raw_both_ways(void)
{
    struct pty p;
    char sym[600];
    open_linked_pty(&p, sym, sizeof(sym), "board-raw");

    struct link *l = NULL;
    struct mf_err err = {0};
    CHECK_EQ(link_open(sym, 250000, &l, &err), 0);
    if (!l) {
        fprintf(stderr, "  %s\n", err.msg);
        close_pty(&p);
        return;
    }
    CHECK_EQ(l->kind, LINK_PTY);
    CHECK_STR(l->path, sym);
    CHECK_STR(l->real_path, p.name);
    CHECK_EQ(l->baud, 0);  /* ptys have no speed */
    check_passes_unchanged(p.master, l->fd, p.master);
    check_passes_unchanged(l->fd, p.master, l->fd);
    link_close(l);
    close_pty(&p);
    unlink(sym);
}

/* Fork a process that holds `device` on its stdin and runs argv (execvp);
 * returns once it has exec'd, so /proc shows its real command line. */
static pid_t spawn_holder(const char *device, char *const argv[])
{
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        for (int fd = 3; fd < 256; fd++)
            if (fd != sync[1])
                fcntl(fd, F_SETFD, FD_CLOEXEC);
        int fd = open(device, O_RDWR | O_NOCTTY);
        if (fd < 0 || dup2(fd, 0) < 0)
            _exit(126);
        execvp(argv[0], argv);
        CHECK(write(sync[1], "x", 1) == 1);  /* tell the parent exec failed */
        _exit(127);
    }
    close(sync[1]);
    char c;
    ssize_t n = read(sync[0], &c, 1);  /* 0 (EOF) once exec closed the pipe */
    close(sync[0]);
    CHECK_EQ(n, 0);
    return pid;
}

static void stop_child(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

static void test_busy_names_holder(void)
{
    struct pty p;
    char sym[600], expected[128], text[512];
    open_linked_pty(&p, sym, sizeof(sym), "board-busy");

    char *sleeper[] = {"sleep", "30", NULL};
    pid_t holder = spawn_holder(p.name, sleeper);
    CHECK(holder > 0);
    snprintf(expected, sizeof(expected), "pid %ld (sleep 30)", (long)holder);

    struct link *l = NULL;
    struct mf_err err = {0};
    CHECK_EQ(link_open(sym, 250000, &l, &err), -1);
    CHECK(l == NULL);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK(contains(err.msg, sym));
    CHECK(contains(err.msg, " is in use by "));
    CHECK(contains(err.msg, expected));
    CHECK(contains(err.msg, "nothing was sent to the board"));
    /* The link says what happened; what to do is the command line's advice. */
    CHECK_EQ(err.fact, MF_FACT_PORT_BUSY);
    CHECK(strstr(err.msg, "systemctl") == NULL);

    CHECK_EQ(link_holders(p.name, text, sizeof(text)), 1);
    CHECK_STR(text, expected);

    /* Three more with long command lines: listed up to three, shortened,
     * and the rest counted. */
    char *long_sleeper[44] = {"sleep", "30"};
    for (int i = 2; i < 42; i++)
        long_sleeper[i] = "0";
    pid_t more[3];
    for (int i = 0; i < 3; i++)
        more[i] = spawn_holder(p.name, long_sleeper);
    CHECK_EQ(link_holders(p.name, text, sizeof(text)), 4);
    CHECK(contains(text, " and 1 more"));
    CHECK(contains(text, "(sleep 30 0 0 0"));
    CHECK(contains(text, " ...)"));
    CHECK(strlen(text) < 400);
    CHECK_EQ(link_open(sym, 250000, &l, &err), -1);
    CHECK(contains(err.msg, "pid"));

    /* A tiny buffer is filled safely, and the count still comes back. */
    char tiny[8];
    CHECK_EQ(link_holders(p.name, tiny, sizeof(tiny)), 4);
    CHECK_EQ(strlen(tiny), sizeof(tiny) - 1);
    CHECK_EQ(link_holders(p.name, NULL, 0), 4);

    for (int i = 0; i < 3; i++)
        stop_child(more[i]);
    stop_child(holder);
    CHECK_EQ(link_holders(p.name, text, sizeof(text)), 0);
    CHECK_STR(text, "");

    /* A command line with a newline and a tab in an argument stays on one
     * line: control characters are shown escaped. */
    char *odd[] = {"bash", "-c", "read -r -t 30 _", "two\nlines\tand tab", NULL};
    holder = spawn_holder(p.name, odd);
    CHECK_EQ(link_holders(p.name, text, sizeof(text)), 1);
    CHECK(contains(text, "two\\nlines\\tand tab"));
    CHECK(strchr(text, '\n') == NULL && strchr(text, '\t') == NULL);
    stop_child(holder);
    CHECK_EQ(link_open(sym, 250000, &l, &err), 0);
    link_close(l);
    close_pty(&p);
    unlink(sym);
}

/* The process holding a pty's master is the device: whoever else looks,
 * it is not reported, even when it also has the slave open. */
static void test_pty_owner_not_reported(void)
{
    struct pty p;
    char sym[600];
    open_linked_pty(&p, sym, sizeof(sym), "board-owner");  /* this process now holds the master and the slave */

    pid_t looker = fork();
    if (looker == 0)
        _exit(link_holders(p.name, NULL, 0));
    int status = -1;
    waitpid(looker, &status, 0);
    CHECK(WIFEXITED(status));
    CHECK_EQ(WEXITSTATUS(status), 0);

    struct link *l = NULL;
    struct mf_err err = {0};
    CHECK_EQ(link_open(sym, 0, &l, &err), 0);
    if (!l)
        fprintf(stderr, "  %s\n", err.msg);
    link_close(l);
    close_pty(&p);
    unlink(sym);
}

/* A virtual board in another process: it owns master and slave, echoes what
 * it gets, and link_open must accept it. */
static void test_open_virtual_board(void)
{
    char sym[600];
    path_in_dir(sym, sizeof(sym), "board-sim");
    unlink(sym);
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t board = fork();
    if (board == 0) {
        struct pty p;
        if (openpty(&p.master, &p.slave, p.name, NULL, NULL) != 0 || symlink(p.name, sym) != 0)
            _exit(1);
        CHECK(write(ready[1], "r", 1) == 1);
        unsigned char buf[256];
        ssize_t n;
        while ((n = read(p.master, buf, sizeof(buf))) > 0)
            CHECK(write(p.master, buf, (size_t)n) == n);
        _exit(0);
    }
    close(ready[1]);
    char c = 0;
    CHECK_EQ(read(ready[0], &c, 1), 1);
    close(ready[0]);

    /* Our own extra handle on the slave is not a competitor either. */
    int own = open(sym, O_RDWR | O_NOCTTY);
    CHECK(own >= 0);
    struct link *l = NULL;
    struct mf_err err = {0};
    CHECK_EQ(link_open(sym, 250000, &l, &err), 0);
    close(own);
    if (l) {
        static const unsigned char block[] = {0x08, 0x11, 0x01, 0x00, 0x28, 0x42, 0x24, 0x7E};
        unsigned char back[sizeof(block)];
        CHECK_EQ(write(l->fd, block, sizeof(block)), sizeof(block));
        CHECK_EQ(read_for(l->fd, back, sizeof(back), 2000), sizeof(back));
        CHECK_MEM(back, block, sizeof(block));
        link_close(l);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    stop_child(board);
    unlink(sym);
}

static void check_missing(const char *path)
{
    struct link *l = (struct link *)&l;  /* must be reset to NULL */
    struct mf_err err = {0};
    char expected[700];
    snprintf(expected, sizeof(expected),
             "No device at %s; nothing was sent; check the cable and the path "
             "(ls /dev/serial/by-id/) and try again.", path);
    CHECK_EQ(link_open(path, 250000, &l, &err), -1);
    CHECK(l == NULL);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK_STR(err.msg, expected);
}

static void test_missing_paths(void)
{
    char nothing[600], dangling[600], target[600];
    path_in_dir(nothing, sizeof(nothing), "no-such-board");
    path_in_dir(dangling, sizeof(dangling), "board-dangling");
    path_in_dir(target, sizeof(target), "gone-target");
    link_name(target, dangling);
    check_missing(nothing);
    check_missing(dangling);
    check_missing("/dev/serial/by-id/usb-Klipper_stm32f446xx_0-if00-not-here");
    unlink(dangling);
}

static void test_refusals(void)
{
    struct link *l = NULL;
    struct mf_err err = {0};
    char file[600];

    path_in_dir(file, sizeof(file), "firmware.bin");
    FILE *f = fopen(file, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_EQ(link_open(file, 250000, &l, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK(contains(err.msg, "regular file, not a serial port"));

    CHECK_EQ(link_open(dir, 250000, &l, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK(contains(err.msg, "directory, not a serial port"));

    struct pty p;
    char sym[600];
    open_linked_pty(&p, sym, sizeof(sym), "board-1200");
    CHECK_EQ(link_open(sym, 1200, &l, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    CHECK(contains(err.msg, "1200 baud"));
    CHECK(l == NULL);
    close_pty(&p);
    unlink(sym);
    unlink(file);
}

static void make_fifo(char *path, size_t cap, const char *name)
{
    path_in_dir(path, cap, name);
    unlink(path);
    CHECK(mkfifo(path, 0600) == 0);
}

static void test_fifo_is_plain_file(void)
{
    char fifo[600];
    make_fifo(fifo, sizeof(fifo), "klipper_host_fifo");

    struct link *l = NULL, *second = NULL;
    struct mf_err err = {0};
    CHECK_EQ(link_open(fifo, 250000, &l, &err), 0);
    if (!l) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK_EQ(l->kind, LINK_FILE);
    CHECK_EQ(l->baud, 0);
    CHECK_STR(l->real_path, fifo);
    static const unsigned char bytes[] = {0x7E, 0x0D, 0x0A, 0x03, 0x11, 0x13, 0xFF};
    unsigned char back[sizeof(bytes)];
    CHECK_EQ(write(l->fd, bytes, sizeof(bytes)), sizeof(bytes));
    CHECK_EQ(read_for(l->fd, back, sizeof(back), 2000), sizeof(back));
    CHECK_MEM(back, bytes, sizeof(bytes));

    /* The lock keeps a second opener out, even without /proc naming it. */
    CHECK_EQ(link_open(fifo, 250000, &second, &err), -1);
    CHECK(second == NULL);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK(contains(err.msg, "is locked by another program"));
    CHECK_EQ(err.fact, MF_FACT_PORT_BUSY);
    link_close(l);
    CHECK_EQ(link_open(fifo, 250000, &second, &err), 0);
    link_close(second);
    unlink(fifo);
}

static void test_permission_denied(void)
{
    char fifo[600];
    make_fifo(fifo, sizeof(fifo), "board-private");
    CHECK(chmod(fifo, 0) == 0);  /* root ignores this, so the child drops to "nobody" */

    int report[2];
    CHECK(pipe(report) == 0);
    pid_t child = fork();
    if (child == 0) {
        struct mf_err err = {0};
        struct link *l = NULL;
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(2);
        int rc = link_open(fifo, 250000, &l, &err);
        char line[sizeof(err.msg) + 16];
        int n = snprintf(line, sizeof(line), "%d %d %s", rc, (int)err.code, err.msg);
        CHECK(write(report[1], line, (size_t)n) == n);
        _exit(0);
    }
    close(report[1]);
    char line[1024] = {0};
    read_for(report[0], (unsigned char *)line, sizeof(line) - 1, 5000);
    close(report[0]);
    waitpid(child, NULL, 0);
    char expected_start[16];
    snprintf(expected_start, sizeof(expected_start), "-1 %d ", MF_E_DEVICE);
    CHECK(strncmp(line, expected_start, strlen(expected_start)) == 0);
    CHECK(contains(line, "Permission denied"));
    CHECK(contains(line, "dialout"));
    CHECK(contains(line, "nothing was sent"));
    unlink(fifo);
}

/* The child removes the symlink and puts it back, each step announced on
 * the pipe just before it happens, so a wait that returned early finds no
 * announcement yet. */
static void test_wait_gone_and_back(void)
{
    struct pty p;
    char sym[600];
    open_linked_pty(&p, sym, sizeof(sym), "board-reset");

    int steps[2];
    CHECK(pipe(steps) == 0);
    pid_t resetter = fork();
    if (resetter == 0) {
        usleep(150 * 1000);
        CHECK(write(steps[1], "u", 1) == 1);
        unlink(sym);
        usleep(150 * 1000);
        CHECK(write(steps[1], "c", 1) == 1);
        CHECK(symlink(p.name, sym) == 0);
        _exit(0);
    }
    close(steps[1]);

    struct mf_err err = {0};
    char step = 0;
    CHECK_EQ(link_wait_gone(sym, 10000, &err), 0);
    CHECK(readable_within(steps[0], 0));
    CHECK_EQ(read(steps[0], &step, 1), 1);
    CHECK_EQ(step, 'u');
    CHECK_EQ(link_wait_present(sym, 10000, &err), 0);
    CHECK(readable_within(steps[0], 0));
    CHECK_EQ(read(steps[0], &step, 1), 1);
    CHECK_EQ(step, 'c');
    struct stat st;
    CHECK(stat(sym, &st) == 0 && S_ISCHR(st.st_mode));
    int status = -1;
    waitpid(resetter, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(steps[0]);

    /* Timeouts. */
    char never[600], dangling[600], expected[700];
    path_in_dir(never, sizeof(never), "board-never");
    path_in_dir(dangling, sizeof(dangling), "board-dangling-wait");
    link_name(never, dangling);  /* a link that does not resolve is not present */
    CHECK_EQ(link_wait_present(never, 120, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    snprintf(expected, sizeof(expected), "%s did not come back within 0.12 s after the reset; ", never);
    CHECK(contains(err.msg, expected));
    CHECK_EQ(link_wait_present(dangling, 60, &err), -1);
    CHECK(contains(err.msg, "did not come back within 0.06 s"));
    CHECK_EQ(link_wait_gone(dangling, 60, &err), 0);
    mf_err_clear(&err);
    CHECK_EQ(link_wait_gone(sym, 100, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK(contains(err.msg, sym));
    CHECK(contains(err.msg, "was still there 0.1 s after the reset"));

    unlink(dangling);
    unlink(sym);
    close_pty(&p);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    make_test_dir();
    test_raw_both_ways();
    test_busy_names_holder();
    test_pty_owner_not_reported();
    test_open_virtual_board();
    test_missing_paths();
    test_refusals();
    test_fifo_is_plain_file();
    test_permission_denied();
    test_wait_gone_and_back();
    CHECK(rmdir(dir) == 0);  /* every test removed what it made */
    return check_report("test_link");
}
