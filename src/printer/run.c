#include "printer/run.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int printer_run(const char *const argv[], char *out, size_t cap)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDERR_FILENO);
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    size_t n = 0;
    ssize_t got;
    char sink[256];
    while (pid > 0) {
        bool room = out && n + 1 < cap;
        got = room ? read(fd[0], out + n, cap - 1 - n) : read(fd[0], sink, sizeof(sink));
        if (got <= 0)
            break;
        if (room)
            n += (size_t)got;
    }
    close(fd[0]);
    if (out && cap)
        out[n] = '\0';
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status) == 127 ? -1 : WEXITSTATUS(status);
}
