/* Bootloader entry and USB port identity: the 1200-baud touch on a pty
 * (the speed the other side sees), the UART request string byte for byte,
 * and a fake sysfs tree with a Klipper USB board, a USB serial converter
 * and a UART, where the board leaves its port and Katapult comes back on
 * it, or nothing happens. */
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "check.h"
#include "link/bootentry.h"
#include "link/usbport.h"

static char dir[128], root[160];

static void sh(const char *fmt, const char *a)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), fmt, a, a, a, a, a, a, a, a);
    CHECK_EQ(system(cmd), 0);
}

static void test_touch(void)
{
    int master, slave;
    char name[64];
    CHECK_EQ(openpty(&master, &slave, name, NULL, NULL), 0);
    struct termios t;
    tcgetattr(slave, &t);
    cfsetispeed(&t, B115200);
    cfsetospeed(&t, B115200);
    tcsetattr(slave, TCSANOW, &t);
    struct mf_err err;
    if (bootentry_usb_touch(name, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    CHECK_EQ(tcgetattr(master, &t), 0);
    CHECK_EQ(cfgetospeed(&t), B1200);
    close(slave);
    close(master);

    char path[200];
    snprintf(path, sizeof(path), "%s/regular", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK_EQ(bootentry_usb_touch(path, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    snprintf(path, sizeof(path), "%s/missing", dir);
    CHECK_EQ(bootentry_usb_touch(path, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
}

static void test_serial_request(void)
{
    int master, slave;
    CHECK_EQ(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct termios t;
    tcgetattr(slave, &t);
    cfmakeraw(&t);
    tcsetattr(slave, TCSANOW, &t);
    fcntl(slave, F_SETFL, O_NONBLOCK);
    struct transport *tr = NULL;
    struct mf_err err;
    CHECK_EQ(transport_over_fd(slave, "pty", &tr, &err), 0);
    CHECK_EQ(bootentry_serial_request(tr, &err), 0);
    char buf[64];
    ssize_t n = read(master, buf, sizeof(buf));
    CHECK_EQ(n, 33);
    CHECK_MEM(buf, "~ \x1c Request Serial Bootloader!! ~", 33);
    transport_close(tr);
    close(slave);
    close(master);
}

/* A USB device at PORT with a tty (ACM, or a converter's ttyUSB) in the fake tree. */
static void add_usb(const char *port, const char *vidpid, const char *mfr, const char *product, const char *tty,
                    bool converter)
{
    char cmd[4096], devdir[300], ttydir[500];
    snprintf(devdir, sizeof(devdir), "%s/sys/devices/pci0000:00/usb1/1-1/%s", root, port);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && echo %.4s > '%s/idVendor' && echo %s > '%s/idProduct' && "
             "echo '%s' > '%s/manufacturer' && echo '%s' > '%s/product' && echo 0123ABCD > '%s/serial' && "
             "mkdir -p '%s/sys/bus/usb/devices' && ln -sfn '%s' '%s/sys/bus/usb/devices/%s'",
             devdir, vidpid, devdir, vidpid + 5, devdir, mfr, devdir, product, devdir, devdir, root, devdir, root,
             port);
    CHECK_EQ(system(cmd), 0);
    if (!tty)
        return;
    if (converter)
        snprintf(ttydir, sizeof(ttydir), "%s/%s:1.0/%s/tty/%s", devdir, port, tty, tty);
    else
        snprintf(ttydir, sizeof(ttydir), "%s/%s:1.0/tty/%s", devdir, port, tty);
    /* The kernel's uevent: the node's name (relative to /dev) is not its first line. */
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s/sys/class/tty' && printf 'MAJOR=166\\nMINOR=0\\nDEVNAME=%s\\n' "
             "> '%s/uevent' && ln -sfn '%s' '%s/sys/class/tty/%s'", ttydir, root, tty, ttydir, ttydir, root, tty);
    CHECK_EQ(system(cmd), 0);
}

static void remove_usb(const char *port, const char *tty)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/sys/devices/pci0000:00/usb1/1-1/%s' '%s/sys/bus/usb/devices/%s' "
             "'%s/sys/class/tty/%s'", root, port, root, port, root, tty);
    CHECK_EQ(system(cmd), 0);
}

static bool is_vidpid(const struct usb_port_info *info, void *ctx)
{
    const uint16_t *want = ctx;
    return info->vid == want[0] && info->pid == want[1];
}

/* Finding a device by what it is: a USB to CAN bridge has no tty. */
static void test_find(void)
{
    add_usb("1-1.5", "1d50:606f", "Klipper", "stm32g0b1xx", NULL, false);
    struct usb_port_info info;
    uint16_t bridge[2] = { 0x1d50, 0x606f }, klipper[2] = { 0x1d50, 0x614e }, none[2] = { 0x2e8a, 0x0003 };
    CHECK_EQ(usbport_find(root, is_vidpid, bridge, &info), 1);
    CHECK_STR(info.port, "1-1.5");
    CHECK_STR(info.serial, "0123ABCD");
    CHECK_STR(info.tty, "");
    CHECK_EQ(usbport_find(root, is_vidpid, klipper, &info), 1);
    CHECK_STR(info.tty, "/dev/ttyACM0");
    CHECK_EQ(usbport_find(root, is_vidpid, none, &info), 0);
    remove_usb("1-1.5", "none");
}

static void test_identify(void)
{
    sh("rm -rf '%s' && mkdir -p '%s/sys/devices/platform/serial8250/tty/ttyS0' '%s/sys/class/tty' && "
       "ln -s '%s/sys/devices/platform/serial8250/tty/ttyS0' '%s/sys/class/tty/ttyS0'", root);
    add_usb("1-1.3", "1d50:614e", "Klipper", "stm32f446xx", "ttyACM0", false);
    add_usb("1-1.4", "0403:6001", "FTDI", "FT232R USB UART", "ttyUSB0", true);
    struct usb_port_info info;
    CHECK_EQ(usbport_identify(root, "/dev/ttyACM0", &info), 0);
    CHECK(info.usb);
    CHECK_STR(info.port, "1-1.3");
    CHECK_EQ(info.vid, 0x1d50);
    CHECK_EQ(info.pid, 0x614e);
    CHECK_STR(info.manufacturer, "Klipper");
    CHECK_STR(info.product, "stm32f446xx");
    CHECK_STR(info.serial, "0123ABCD");
    CHECK_STR(info.tty, "/dev/ttyACM0");
    CHECK_STR(info.path, "/dev/ttyACM0");
    CHECK_EQ(usbport_identify(root, "/dev/ttyUSB0", &info), 0);
    CHECK(info.usb);
    CHECK_STR(info.port, "1-1.4");
    CHECK_EQ(info.vid, 0x0403);
    CHECK_STR(info.tty, "/dev/ttyUSB0");
    CHECK_EQ(usbport_identify(root, "/dev/ttyS0", &info), 0);
    CHECK(!info.usb);
    CHECK_STR(info.path, "/dev/ttyS0");
    CHECK_EQ(usbport_identify(root, "/dev/pts/7", &info), 0);
    CHECK(!info.usb);
    CHECK_EQ(usbport_read(root, "1-1.3", &info), 1);
    CHECK_EQ(usbport_read(root, "2-1", &info), 0);
}

static void test_wait_usb(void)
{
    struct usb_port_info before, after;
    struct mf_err err;
    CHECK_EQ(usbport_identify(root, "/dev/ttyACM0", &before), 0);
    /* Nothing happens: the same device stays. */
    CHECK_EQ(usbport_wait_return(root, &before, true, 300, &after, &err), -1);
    CHECK(strstr(err.msg, "still there unchanged") != NULL);
    /* The board leaves; Katapult comes back on the same port with a new tty. */
    pid_t pid = fork();
    if (pid == 0) {
        usleep(150000);
        remove_usb("1-1.3", "ttyACM0");
        usleep(150000);
        add_usb("1-1.3", "1d50:6177", "katapult", "stm32f446xx", NULL, false);
        usleep(150000);
        add_usb("1-1.3", "1d50:6177", "katapult", "stm32f446xx", "ttyACM1", false);
        _exit(check_failures ? 1 : 0);
    }
    CHECK_EQ(usbport_wait_return(root, &before, true, 5000, &after, &err), 0);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ(after.vid, 0x1d50);
    CHECK_EQ(after.pid, 0x6177);
    CHECK_STR(after.manufacturer, "katapult");
    CHECK_STR(after.tty, "/dev/ttyACM1");
    CHECK_STR(after.path, "/dev/ttyACM1");
    /* A device without a tty (a DFU bootloader) is reported after a moment. */
    CHECK_EQ(usbport_identify(root, "/dev/ttyACM1", &before), 0);
    remove_usb("1-1.3", "ttyACM1");
    add_usb("1-1.3", "0483:df11", "STMicroelectronics", "DFU in FS Mode", NULL, false);
    CHECK_EQ(usbport_wait_return(root, &before, true, 5000, &after, &err), 0);
    CHECK_EQ(after.pid, 0xdf11);
    CHECK_STR(after.tty, "");
    /* The board restarts between two looks: the same device is back, at a
     * new address on the bus. */
    sh("echo 7 > '%s/sys/devices/pci0000:00/usb1/1-1/1-1.3/devnum'", root);
    CHECK_EQ(usbport_read(root, "1-1.3", &before), 1);
    CHECK_EQ(before.devnum, 7);
    CHECK_EQ(usbport_wait_return(root, &before, true, 300, &after, &err), -1);
    CHECK(strstr(err.msg, "still there unchanged") != NULL);
    pid = fork();
    if (pid == 0) {
        usleep(150000);
        sh("echo 8 > '%s/sys/devices/pci0000:00/usb1/1-1/1-1.3/devnum'", root);
        _exit(0);
    }
    CHECK_EQ(usbport_wait_return(root, &before, true, 5000, &after, &err), 0);
    waitpid(pid, &status, 0);
    CHECK_EQ(after.devnum, 8);
    CHECK_EQ(after.pid, 0xdf11);
    /* Gone for good. */
    CHECK_EQ(usbport_identify(root, "/dev/ttyUSB0", &before), 0);
    remove_usb("1-1.4", "ttyUSB0");
    CHECK_EQ(usbport_wait_return(root, &before, true, 200, &after, &err), -1);
    CHECK(strstr(err.msg, "No device came back on USB port 1-1.4") != NULL);
}

static void test_wait_path(void)
{
    /* A board on a path (as the virtual board's symlink): gone and back. */
    char link[200];
    snprintf(link, sizeof(link), "%s/board", dir);
    unlink(link);
    CHECK_EQ(symlink("/dev/null", link), 0);
    struct usb_port_info before, after;
    struct mf_err err;
    CHECK_EQ(usbport_identify(root, link, &before), 0);
    CHECK(!before.usb);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(100000);
        unlink(link);
        usleep(100000);
        _exit(symlink("/dev/null", link) == 0 ? 0 : 1);
    }
    CHECK_EQ(usbport_wait_return(root, &before, true, 5000, &after, &err), 0);
    waitpid(pid, NULL, 0);
    CHECK_STR(after.path, link);
    /* A UART keeps its path: simply there. */
    CHECK_EQ(usbport_wait_return(root, &before, false, 1000, &after, &err), 0);
    /* Never goes away. */
    CHECK_EQ(usbport_wait_return(root, &before, true, 200, &after, &err), -1);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/link_entry", getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp");
    snprintf(root, sizeof(root), "%s/sysfs", dir);
    sh("mkdir -p '%s'", dir);
    test_touch();
    test_serial_request();
    test_identify();
    test_find();
    test_wait_usb();
    test_wait_path();
    return check_report("test_link_entry");
}
