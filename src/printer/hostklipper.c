#include "printer/hostklipper.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer/run.h"

int printer_host_klipper_version(const char *dir, char *buf, size_t cap)
{
    char home_dir[4096];
    if (!dir) {
        snprintf(home_dir, sizeof(home_dir), "%s/klipper", getenv("HOME") ? getenv("HOME") : "");
        dir = home_dir;
    }
    const char *argv[] = { "git", "-C", dir, "describe", "--always", "--tags", "--long", "--dirty", NULL };
    if (printer_run(argv, buf, cap) != 0 || !buf[0]) {
        snprintf(buf, cap, "no Klipper checkout at %s", dir);
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}
