/* printer.cfg as Klipper reads it: sections, options, continuation lines,
 * comments, includes (relative, globbed, missing, looping), and the MCU
 * sections taken from it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "printer/config.h"
#include "printer/mcus.h"

static char dir[512];

static void put(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static struct pcfg *load(const char *name, struct mf_err *err)
{
    char path[1024];
    struct pcfg *c = NULL;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    pcfg_load(path, &c, err);
    return c;
}

static void test_syntax(void)
{
    struct mf_err err;
    struct pcfg *c;
    const char *text =
        "# a comment\n"
        "[mcu]\n"
        "serial: /dev/serial/by-id/usb-Klipper_stm32f446xx_1234-if00   # trailing comment\n"
        "BAUD = 115200 ; inline comment\n"
        "[printer]\n"
        "kinematics: corexy\n"
        "[gcode_macro X]\n"
        "gcode:\n"
        "    G28\n"
        "\n"
        "    G1 X10 ; move\n"
        "\n"
        "[mcu]\n"
        "restart_method: command\n"
        "[stepper_x]  \n"
        "step_pin: PA1;not a comment\n";
    CHECK_EQ(pcfg_load_text(text, "/tmp/x/printer.cfg", &c, &err), 0);
    if (!c)
        return;
    const struct pcfg_section *mcu = pcfg_section(c, "mcu");
    CHECK_STR(pcfg_get(mcu, "serial"), "/dev/serial/by-id/usb-Klipper_stm32f446xx_1234-if00");
    CHECK_STR(pcfg_get(mcu, "baud"), "115200");
    CHECK_STR(pcfg_get(mcu, "restart_method"), "command");
    CHECK_STR(pcfg_get(pcfg_section(c, "gcode_macro X"), "gcode"), "G28\n\nG1 X10");
    CHECK_STR(pcfg_get(pcfg_section(c, "stepper_x"), "step_pin"), "PA1;not a comment");
    CHECK(pcfg_section(c, "MCU") == NULL);
    CHECK_EQ(pcfg_option(mcu, "restart_method")->line, 14);
    pcfg_free(c);

    CHECK_EQ(pcfg_load_text("serial: /dev/x\n", "/tmp/p.cfg", &c, &err), -1);
    CHECK(strstr(err.msg, "/tmp/p.cfg line 1") != NULL);
    CHECK_EQ(pcfg_load_text("[mcu]\nserial /dev/x\n", "/tmp/p.cfg", &c, &err), -1);
    CHECK(strstr(err.msg, "/tmp/p.cfg line 2") && strstr(err.msg, "serial /dev/x"));
    CHECK_EQ(err.code, MF_E_INPUT);
}

static void test_includes(void)
{
    struct mf_err err;
    mkdir(dir, 0700);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/boards", dir);
    mkdir(sub, 0700);
    put("printer.cfg", "[include boards/*.cfg]\n[include macros.cfg]\n[include nothing/*.cfg]\n[mcu]\nbaud: 500000\n");
    put("macros.cfg", "[gcode_macro A]\ngcode: G28\n");
    put("boards/10-main.cfg", "[mcu]\nserial: /dev/ttyACM0\nbaud: 250000\n");
    put("boards/20-toolhead.cfg", "[mcu toolhead]\ncanbus_uuid: 0A1B2C3D4E5F\n[include ../shared.cfg]\n");
    put("shared.cfg", "[mcu   ebb]\ncanbus_uuid: 112233445566\ncanbus_interface: can1\n");
    struct pcfg *c = load("printer.cfg", &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "%s\n", err.msg);
        return;
    }
    CHECK_EQ(c->nfiles, 5);
    /* The later baud in printer.cfg overrides the included one. */
    CHECK_STR(pcfg_get(pcfg_section(c, "mcu"), "baud"), "500000");
    CHECK(strstr(pcfg_option(pcfg_section(c, "mcu"), "serial")->file, "boards/10-main.cfg") != NULL);
    struct printer_mcus m;
    CHECK_EQ(printer_mcus_from_config(c, &m, &err), 0);
    CHECK_EQ(m.n, 3);
    if (m.n == 3) {
        CHECK_STR(m.mcu[0].name, "mcu");
        CHECK_STR(m.mcu[0].serial, "/dev/ttyACM0");
        CHECK_EQ(m.mcu[0].baud, 500000);
        CHECK_STR(m.mcu[1].name, "toolhead");
        CHECK_STR(m.mcu[1].canbus_uuid, "0a1b2c3d4e5f");
        CHECK_STR(m.mcu[1].canbus_interface, "can0");
        CHECK_STR(m.mcu[2].name, "ebb");
        CHECK_STR(m.mcu[2].canbus_interface, "can1");
        CHECK(printer_mcus_find(&m, "toolhead") == &m.mcu[1]);
        CHECK(printer_mcus_find(&m, "nope") == NULL);
    }
    printer_mcus_free(&m);
    pcfg_free(c);

    put("missing.cfg", "[mcu]\nserial: /dev/x\n\n[include gone.cfg]\n");
    CHECK(load("missing.cfg", &err) == NULL);
    CHECK(strstr(err.msg, "missing.cfg line 4") && strstr(err.msg, "gone.cfg") && strstr(err.msg, "does not exist"));
    put("loop.cfg", "[include loop2.cfg]\n");
    put("loop2.cfg", "[include loop.cfg]\n");
    CHECK(load("loop.cfg", &err) == NULL);
    CHECK(strstr(err.msg, "includes itself") != NULL);

    put("both.cfg", "[mcu]\nserial: /dev/x\ncanbus_uuid: 0a1b2c3d4e5f\n");
    c = load("both.cfg", &err);
    CHECK_EQ(printer_mcus_from_config(c, &m, &err), -1);
    CHECK(strstr(err.msg, "both.cfg line 1") && strstr(err.msg, "exactly one"));
    pcfg_free(c);
    put("baduuid.cfg", "[mcu x]\ncanbus_uuid: 12345\n");
    c = load("baduuid.cfg", &err);
    CHECK_EQ(printer_mcus_from_config(c, &m, &err), -1);
    CHECK(strstr(err.msg, "baduuid.cfg line 2") && strstr(err.msg, "12 hex digits"));
    pcfg_free(c);
}

/* restart_method: Klipper's four choices, kept for a serial MCU, ignored
 * for a CAN node (Klipper resets those by command), anything else refused
 * with its file and line. */
static void test_restart_method(void)
{
    struct mf_err err;
    struct printer_mcus m;
    put("restart.cfg", "[mcu]\nserial: /dev/ttyUSB0\nrestart_method: cheetah\n\n[mcu usb]\nserial: /dev/ttyACM0\n\n"
                       "[mcu can]\ncanbus_uuid: 0a1b2c3d4e5f\nrestart_method: arduino\n");
    struct pcfg *c = load("restart.cfg", &err);
    CHECK(c != NULL);
    CHECK_EQ(c ? printer_mcus_from_config(c, &m, &err) : -1, 0);
    if (c && m.n == 3) {
        CHECK_STR(m.mcu[0].restart_method, "cheetah");
        CHECK_STR(m.mcu[1].restart_method, "");
        CHECK_STR(m.mcu[2].restart_method, "");
        printer_mcus_free(&m);
    }
    pcfg_free(c);
    const char *ok[] = { "arduino", "command", "rpi_usb" };
    for (size_t i = 0; i < 3; i++) {
        char text[128];
        snprintf(text, sizeof(text), "[mcu]\nserial: /dev/ttyUSB0\nrestart_method: %s\n", ok[i]);
        put("restart.cfg", text);
        c = load("restart.cfg", &err);
        CHECK_EQ(c ? printer_mcus_from_config(c, &m, &err) : -1, 0);
        if (c)
            CHECK_STR(m.mcu[0].restart_method, ok[i]);
        printer_mcus_free(&m);
        pcfg_free(c);
    }
    put("restart.cfg", "[mcu]\nserial: /dev/ttyUSB0\n\nrestart_method: Arduino\n");
    c = load("restart.cfg", &err);
    CHECK_EQ(c ? printer_mcus_from_config(c, &m, &err) : 0, -1);
    CHECK(strstr(err.msg, "restart.cfg line 4") && strstr(err.msg, "'Arduino'") && strstr(err.msg, "rpi_usb"));
    pcfg_free(c);
}

int main(void)
{
    const char *tmp = getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp";
    mkdir(tmp, 0700);
    snprintf(dir, sizeof(dir), "%s/printer_config.%d", tmp, (int)getpid());
    test_syntax();
    test_includes();
    test_restart_method();
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_report("test_printer_config");
}
