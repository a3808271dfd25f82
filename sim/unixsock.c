/* Listening Unix-domain sockets (unixsock.h). */
#include "unixsock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int unix_listen(const char *path, int type, int backlog)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    _Static_assert(UNIXSOCK_PATH_MAX + sizeof(".new") == sizeof(addr.sun_path), "UNIXSOCK_PATH_MAX");
    if (strlen(path) > UNIXSOCK_PATH_MAX)
        return UNIXSOCK_TOO_LONG;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.new", path);
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
        return UNIXSOCK_NOT_SOCKET;
    /* bind() creates the file before listen() lets anyone in: do both under
     * a temporary name, then rename it over the path (and any stale socket). */
    unlink(addr.sun_path);
    int fd = socket(AF_UNIX, type, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0 ||
        rename(addr.sun_path, path) < 0) {
        int e = errno;
        unlink(addr.sun_path);
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
