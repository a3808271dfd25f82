/* What the printer layer asks of the host: finding printer.cfg where
 * Klipper keeps it, the Klipper checkout's version (git describe), and
 * the Klipper service through systemctl, here a script put first on PATH
 * that records its calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "printer/hostklipper.h"
#include "printer/mcus.h"
#include "printer/run.h"
#include "printer/service.h"

static char dir[512];

static void put(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        CHECK(!"cannot write a test file");
        return;
    }
    fputs(text, f);
    fclose(f);
}

static int sh(const char *fmt, const char *arg)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), fmt, arg, arg, arg);
    return system(cmd);
}

static void test_load(void)
{
    char used[1024], names[256], home[600];
    struct pcfg *cfg;
    struct printer_mcus m;
    struct mf_err err = { 0 };
    snprintf(home, sizeof(home), "%s/home", dir);
    sh("mkdir -p '%s/printer_data/config'", home);
    setenv("HOME", home, 1);
    /* Neither default place: one sentence naming both; the option that
     * names another place is the command line's advice. */
    CHECK_EQ(printer_load(NULL, used, sizeof(used), &cfg, &m, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK_EQ(err.fact, MF_FACT_NO_CONFIG);
    CHECK(strstr(err.msg, "printer_data/config") && !strstr(err.msg, "--config"));
    /* ~/printer.cfg, then ~/printer_data/config/printer.cfg before it. */
    put("home/printer.cfg", "[mcu]\nserial: /dev/a\n");
    CHECK_EQ(printer_load(NULL, used, sizeof(used), &cfg, &m, &err), 0);
    CHECK(strstr(used, "/home/printer.cfg") != NULL);
    pcfg_free(cfg);
    printer_mcus_free(&m);
    put("home/printer_data/config/printer.cfg",
        "[include parts/*.cfg]\n[mcu]\nserial: /dev/b\n[mcu ebb]\ncanbus_uuid: 0A1B2C3D4E5F\n");
    sh("mkdir -p '%s/printer_data/config/parts'", home);
    put("home/printer_data/config/parts/x.cfg", "[mcu x]\nserial: /dev/x\nbaud: 115200\n");
    CHECK_EQ(printer_load(NULL, used, sizeof(used), &cfg, &m, &err), 0);
    CHECK(strstr(used, "/printer_data/config/printer.cfg") != NULL);
    printer_mcus_names(&m, names, sizeof(names));
    CHECK_STR(names, "mcu, x, ebb");
    CHECK_STR(printer_mcus_find(&m, "ebb")->canbus_uuid, "0a1b2c3d4e5f");
    CHECK_EQ(printer_mcus_find(&m, "x")->baud, 115200);
    pcfg_free(cfg);
    printer_mcus_free(&m);
    /* A path given wins; its syntax errors name file and line. */
    put("bad.cfg", "[mcu]\nserial: /dev/c\n[broken\n");
    char bad[600];
    snprintf(bad, sizeof(bad), "%s/bad.cfg", dir);
    CHECK_EQ(printer_load(bad, used, sizeof(used), &cfg, &m, &err), -1);
    CHECK(cfg == NULL && m.n == 0);
    CHECK(strstr(err.msg, "bad.cfg") && strstr(err.msg, "3"));
}

static void test_run(void)
{
    char out[64];
    const char *echo[] = { "sh", "-c", "echo hello; echo oops >&2; exit 3", NULL };
    CHECK_EQ(printer_run(echo, out, sizeof(out)), 3);
    CHECK_STR(out, "hello\n");
    const char *missing[] = { "mcuflash-no-such-program", NULL };
    CHECK_EQ(printer_run(missing, out, sizeof(out)), -1);
    /* Output longer than the buffer is cut, and the program still ends. */
    const char *lots[] = { "sh", "-c", "yes | head -c 100000", NULL };
    CHECK_EQ(printer_run(lots, out, 8), 0);
    CHECK_STR(out, "y\ny\ny\ny");
}

static void test_host_klipper(void)
{
    char ver[128], repo[600];
    snprintf(repo, sizeof(repo), "%s/klipper", dir);
    CHECK_EQ(printer_host_klipper_version(repo, ver, sizeof(ver)), -1);
    CHECK(strstr(ver, "no Klipper checkout at") && strstr(ver, repo));
    CHECK_EQ(sh("git init -q '%s' && git -C '%s' -c user.name=t -c user.email=t@t commit -q --allow-empty -m k && "
                "git -C '%s' tag v0.12.0", repo), 0);
    CHECK_EQ(printer_host_klipper_version(repo, ver, sizeof(ver)), 0);
    CHECK(!strncmp(ver, "v0.12.0-0-g", 11) && !strchr(ver, '\n'));
    /* ~/klipper by default. */
    char home[600];
    snprintf(home, sizeof(home), "%s", dir);
    setenv("HOME", home, 1);
    char again[128];
    CHECK_EQ(printer_host_klipper_version(NULL, again, sizeof(again)), 0);
    CHECK_STR(again, ver);
}

static void test_service(void)
{
    char bin[600], path[4096], log[700], calls[256] = "";
    snprintf(bin, sizeof(bin), "%s/bin", dir);
    snprintf(log, sizeof(log), "%s/calls", dir);
    sh("mkdir -p '%s'", bin);
    char script[4096];
    snprintf(script, sizeof(script),
             "#!/bin/sh\necho \"$*\" >>'%s'\n"
             "case \"$1 $2\" in\n"
             "  'is-active --quiet') [ -e '%s/up' ] ;;\n"
             "  'stop klipper') rm -f '%s/up' ;;\n"
             "  'start klipper') touch '%s/up' ;;\n"
             "  *) exit 5 ;;\n"
             "esac\n", log, dir, dir, dir);
    put("bin/systemctl", script);
    sh("chmod +x '%s/systemctl'", bin);
    char old_path[2048];
    snprintf(old_path, sizeof(old_path), "%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    const char *old = old_path;
    snprintf(path, sizeof(path), "%s:%s", bin, old ? old : "/usr/bin:/bin");
    setenv("PATH", path, 1); /* ours first... */
    sh("touch '%s/up'", dir);
    struct mf_err err = { 0 };
    CHECK_EQ(service_state("klipper"), SERVICE_ACTIVE);
    CHECK_EQ(service_stop("klipper", &err), 0);
    CHECK_EQ(service_state("klipper"), SERVICE_INACTIVE);
    CHECK_EQ(service_start("klipper", &err), 0);
    CHECK_EQ(service_state("klipper"), SERVICE_ACTIVE);
    /* A unit systemctl cannot stop: the failure names the command. */
    CHECK_EQ(service_stop("klipper-two", &err), -1);
    CHECK_EQ(err.code, MF_E_FAIL);
    CHECK(strstr(err.msg, "'systemctl stop klipper-two' failed (exit status 5)") != NULL);
    FILE *f = fopen(log, "r");
    if (f) {
        size_t n = fread(calls, 1, sizeof(calls) - 1, f);
        calls[n] = '\0';
        fclose(f);
    }
    CHECK_STR(calls, "is-active --quiet klipper\nstop klipper\nis-active --quiet klipper\nstart klipper\n"
                     "is-active --quiet klipper\nstop klipper-two\n");
    /* ...and now none at all (printer_run looks systemctl up on PATH). */
    setenv("PATH", dir, 1);
    CHECK_EQ(service_state("klipper"), SERVICE_NO_SYSTEMD);
    CHECK_EQ(service_start("klipper", &err), -1);
    CHECK(strstr(err.msg, "systemctl could not be run") != NULL);
    setenv("PATH", old ? old : "/usr/bin:/bin", 1);
}

int main(void)
{
    const char *tmp = getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp";
    mkdir(tmp, 0700);
    snprintf(dir, sizeof(dir), "%s/printer_host.%d", tmp, (int)getpid());
    mkdir(dir, 0700);
    test_load();
    test_run();
    test_host_klipper();
    test_service();
    if (sh("rm -rf '%s'", dir) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_printer_host");
}
