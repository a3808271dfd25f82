/* Virtual boards and buses as child processes of a test. */
#include "sim_proc.h"

#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define START_MS 5000

const char *sim_binary(void)
{
    static char path[4096];
    const char *env = getenv("MCUFLASH_SIM");
    if (env && *env)
        return env;
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
    if (n <= 0)
        return "mcuflash-sim";
    path[n] = '\0';
    char *dir = dirname(path);
    memmove(path, dir, strlen(dir) + 1);
    strcat(path, "/../mcuflash-sim");
    return path;
}

const char *sim_tmpdir(const char *test)
{
    static char dir[1024];
    const char *base = getenv("MF_TMP");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(dir, sizeof(dir), "%s/%s.XXXXXX", base, test);
    if (!mkdtemp(dir))
        snprintf(dir, sizeof(dir), "/tmp");
    return dir;
}

bool sim_wait_path(const char *path, bool present, int ms)
{
    for (int i = 0; i < ms / 10; i++) {
        struct stat st;
        if ((lstat(path, &st) == 0) == present)
            return true;
        usleep(10000);
    }
    return false;
}

static pid_t spawn(const char *const argv[], bool quiet)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (quiet) {
            int null = open("/dev/null", O_WRONLY);
            dup2(null, 1);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

int sim_run(const char *const args[])
{
    const char *argv[64] = { sim_binary() };
    int n = 1;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    int st;
    pid_t pid = spawn(argv, true);
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool sim_start_board(struct sim_proc *p, const char *dir, const char *name, bool wait_device,
                     const char *const args[])
{
    memset(p, 0, sizeof(*p));
    snprintf(p->path, sizeof(p->path), "%s/%s", dir, name);
    snprintf(p->ctl, sizeof(p->ctl), "%s/%s.ctl", dir, name);
    unlink(p->path);
    const char *argv[64] = { sim_binary(), "--path", p->path, "--control", p->ctl };
    int n = 5;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    p->pid = spawn(argv, false);
    return sim_wait_path(p->ctl, true, START_MS) && (!wait_device || sim_wait_path(p->path, true, START_MS));
}

bool sim_start_bus(struct sim_proc *p, const char *dir, const char *name, const char *const args[])
{
    memset(p, 0, sizeof(*p));
    snprintf(p->path, sizeof(p->path), "%s/%s", dir, name);
    const char *argv[32] = { sim_binary(), "canbus", "--path", p->path };
    int n = 4;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    p->pid = spawn(argv, false);
    return sim_wait_path(p->path, true, START_MS);
}

int sim_open_raw(const struct sim_proc *p)
{
    int fd = open(p->path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios t;
    if (fd >= 0 && tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t); /* TCSANOW: keep what is queued */
    }
    return fd;
}

bool sim_stop(struct sim_proc *p)
{
    if (p->pid <= 0)
        return false;
    kill(p->pid, SIGTERM);
    int st = 0;
    waitpid(p->pid, &st, 0);
    p->pid = 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

void sim_ctl(const struct sim_proc *p, const char *command, char *reply, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "'%s' ctl '%s' %s", sim_binary(), p->ctl, command);
    FILE *f = popen(cmd, "r");
    reply[0] = '\0';
    if (f) {
        if (!fgets(reply, (int)cap, f))
            reply[0] = '\0';
        pclose(f);
    }
    reply[strcspn(reply, "\n")] = '\0';
}

json_t *sim_status(const struct sim_proc *p)
{
    static char reply[65536];
    sim_ctl(p, "status", reply, sizeof(reply));
    return json_loads(reply, 0, NULL);
}

const char *sim_status_str(const struct sim_proc *p, const char *key, char *buf, size_t cap)
{
    json_t *st = sim_status(p);
    const char *v = json_string_value(json_object_get(st, key));
    snprintf(buf, cap, "%s", v ? v : "");
    json_decref(st);
    return buf;
}

bool sim_wait_status(const struct sim_proc *p, const char *key, const char *want, int ms)
{
    char got[256];
    for (int i = 0; i < ms / 20; i++) {
        if (!strcmp(sim_status_str(p, key, got, sizeof(got)), want))
            return true;
        usleep(20000);
    }
    return false;
}

char *sim_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 22);
    *len = buf ? fread(buf, 1, (1 << 22) - 1, f) : 0;
    if (buf)
        buf[*len] = '\0';
    fclose(f);
    return buf;
}

int sim_open_port(const char *path)
{
    int fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    struct termios t;
    if (fd >= 0 && tcgetattr(fd, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(fd, TCSANOW, &t);
    }
    return fd;
}
