#include "firmware/readfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail_open(const char *path, const struct fw_file_kind *kind, int e, struct mf_err *err)
{
    if (e == ENOENT || e == ENOTDIR)
        return mf_fail(err, MF_E_INPUT, "%s %s does not exist; nothing was changed; %s", kind->noun,
                       path, kind->missing_hint);
    return mf_fail(err, MF_E_INPUT, "%s %s cannot be read (%s); nothing was changed; check its "
                   "permissions or give another path.", kind->noun, path, strerror(e));
}

/* Read until end of file, growing the buffer, but never past max_bytes + 1
 * so that a device or pipe without end cannot exhaust memory. */
static int read_all(int fd, size_t max_bytes, uint8_t **data, size_t *size)
{
    size_t cap = 64 * 1024, len = 0;
    uint8_t *buf = malloc(cap + 1);
    if (!buf)
        return ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap > max_bytes)
                break;
            cap = cap * 2 > max_bytes + 1 ? max_bytes + 1 : cap * 2;
            uint8_t *bigger = realloc(buf, cap + 1);
            if (!bigger) {
                free(buf);
                return ENOMEM;
            }
            buf = bigger;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            free(buf);
            return e;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = 0;
    *data = buf;
    *size = len;
    return 0;
}

int fw_read_file(const char *path, const struct fw_file_kind *kind, uint8_t **data, size_t *size,
                 struct mf_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail_open(path, kind, errno, err);
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return mf_fail(err, MF_E_INPUT, "%s %s is a directory, not a file; nothing was changed; %s",
                       kind->noun, path, kind->fix_hint);
    }
    int e = read_all(fd, kind->max_bytes, data, size);
    close(fd);
    if (e)
        return fail_open(path, kind, e, err);
    if (*size > kind->max_bytes) {
        free(*data);
        *data = NULL;
        return mf_fail(err, MF_E_INPUT, "%s %s is larger than %zu MiB, %s; nothing was "
                       "changed; %s", kind->noun, path, kind->max_bytes >> 20, kind->too_big_reason,
                       kind->fix_hint);
    }
    if (*size == 0) {
        free(*data);
        *data = NULL;
        return mf_fail(err, MF_E_INPUT, "%s %s is empty; nothing was changed; %s", kind->noun, path,
                       kind->fix_hint);
    }
    return 0;
}
