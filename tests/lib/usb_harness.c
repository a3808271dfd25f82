#include "usb_harness.h"

#include "check.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmp[256], flash_path[300], log_path[300], self[PATH_MAX];


static bool init(const char *argv0, const char *name)
{
    if (!getenv("MCUFLASH_SIM") || !realpath(argv0, self)) {
        fprintf(stderr, "MCUFLASH_SIM must name mcuflash-sim\n");
        return false;
    }
    const char *t = getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp";
    mkdir(t, 0755);
    snprintf(tmp, sizeof(tmp), "%s/%s.%d", t, name, (int)getpid());
    snprintf(flash_path, sizeof(flash_path), "%s.flash", tmp);
    snprintf(log_path, sizeof(log_path), "%s.log", tmp);
    return true;
}

int usb_harness_run(const char *mcu, const char *extra, const char *what)
{
    char cmd[8192];
    remove(flash_path);
    snprintf(cmd, sizeof(cmd), "'%s' usb --mcu %s %s --flash-out '%s' -- '%s' --child %s 2>'%s'",
             getenv("MCUFLASH_SIM"), mcu, extra, flash_path, self, what, log_path);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0)
        fprintf(stderr, "%s: exit %d\n", what, WIFEXITED(rc) ? WEXITSTATUS(rc) : -1);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    static char buf[4 << 20];
    *len = fread(buf, 1, sizeof(buf) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

bool usb_harness_log_has(const char *text)
{
    size_t n;
    const char *l = slurp(log_path, &n);
    bool has = l && strstr(l, text);
    if (!has)
        fprintf(stderr, "log lacks \"%s\":\n%s", text, l ? l : "(no log)\n");
    return has;
}

const uint8_t *usb_harness_flash(size_t *len)
{
    *len = 0;
    return (const uint8_t *)slurp(flash_path, len);
}

int usb_harness_main(int argc, char **argv, const char *name, int (*child)(const char *what), void (*tests)(void))
{
    if (argc == 3 && !strcmp(argv[1], "--child"))
        return child(argv[2]);
    if (!init(argv[0], name))
        return 1;
    tests();
    remove(flash_path);
    remove(log_path);
    return check_report(name);
}

void usb_harness_image(uint8_t *p, size_t n)
{
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++)
        x = x * 1103515245u + 12345u, p[i] = (uint8_t)(x >> 16);
}
