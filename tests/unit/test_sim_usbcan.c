/* The virtual USB to CAN bridge, seen from two sides: the host's interface
 * it serves, and a listener on the CAN bus behind it.  Frames from the host
 * reach the bus and the other host sockets, never the sender; the bus's
 * frames reach the host; the bridge's own node answers the host only, and
 * frames on its node ids stay off the bus (and off the host when they come
 * from the bus); its bootloader request takes the host's interface away
 * while the nodes behind it still talk on the bus; its build says it is a
 * bridge. */
#include <linux/can.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "can_frames.h"
#include "check.h"
#include "klipper/dict.h"
#include "sim_proc.h"

#define WAIT_MS 3000
#define QUIET_MS 200

static const char *dir;
static const uint8_t UUID_NODE[6] = { 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };

static int join(const char *path, char *hello, size_t cap)
{
    int fd = can_bus_join(path, hello, cap);
    CHECK(fd >= 0);
    return fd;
}

static void send_frame(int fd, uint32_t id, const uint8_t *data, uint8_t len)
{
    CHECK(can_frame_send(fd, id, data, len));
}

/* Whether a frame with this id arrives within ms (others are skipped). */
static bool sees(int fd, uint32_t id, int ms, struct can_frame *out)
{
    struct can_frame f;
    while (can_frame_recv(fd, ms, &f))
        if ((f.can_id & CAN_SFF_MASK) == id) {
            if (out)
                *out = f;
            return true;
        }
    return false;
}

static void drain(int fd)
{
    struct can_frame f;
    while (can_frame_recv(fd, QUIET_MS, &f)) {
    }
}

/* The query for unassigned nodes from fd: which of the two uuids answered. */
static void query(int fd, const uint8_t *bridge, bool *node_answered, bool *bridge_answered)
{
    uint8_t q = 0x00;
    struct can_frame f;
    *node_answered = *bridge_answered = false;
    send_frame(fd, 0x3f0, &q, 1);
    while (can_frame_recv(fd, QUIET_MS, &f)) {
        if (f.can_id != 0x3f1 || f.len != 8 || f.data[0] != 0x20)
            continue;
        *node_answered |= !memcmp(f.data + 1, UUID_NODE, 6);
        *bridge_answered |= !memcmp(f.data + 1, bridge, 6);
    }
}

static void parse_uuid(const char *hex, uint8_t out[6])
{
    CHECK_EQ(strlen(hex), 12u);
    for (int i = 0; i < 6; i++) {
        char b[3] = { hex[2 * i], hex[2 * i + 1], 0 };
        out[i] = (uint8_t)strtoul(b, NULL, 16);
    }
}

static void test_routing(void)
{
    struct sim_proc wire, node, bridge;
    char iface[1300], uuid_hex[16], link[1300], hello[64];
    const char *bus_args[] = { "--bitrate", "500000", NULL };
    if (!sim_start_bus(&wire, dir, "wire", bus_args))
        return;
    snprintf(link, sizeof(link), "can:%s", wire.path);
    const char *node_args[] = { "--link", link, "--canbus-uuid", "0a0b0c0d0e0f", "--mcu", "stm32g0b1xx",
                                "--bootloader", "katapult", NULL };
    CHECK(sim_start_board(&node, dir, "node", false, node_args));
    snprintf(link, sizeof(link), "usb-can:%s", wire.path);
    snprintf(iface, sizeof(iface), "%s/can0", dir);
    const char *bridge_args[] = { "--link", link, "--host-interface", iface, "--chip-id", "0123456789ABCDEF",
                                  "--mcu", "stm32f446xx", "--bootloader", "katapult", NULL };
    CHECK(sim_start_board(&bridge, dir, "bridge", false, bridge_args));
    CHECK(sim_wait_path(iface, true, WAIT_MS));
    CHECK(!sim_wait_path(bridge.path, true, QUIET_MS)); /* its Klipper has no serial port */
    uint8_t buuid[6];
    parse_uuid(sim_status_str(&bridge, "uuid", uuid_hex, sizeof(uuid_hex)), buuid);
    char link_name[32];
    CHECK_STR(sim_status_str(&bridge, "link", link_name, sizeof(link_name)), "usb-can");

    /* The host's interface greets as the bus does, at the bus's bit rate. */
    int host = join(iface, hello, sizeof(hello));
    CHECK_STR(hello, "mcuflash-sim canbus bitrate=500000");
    int host2 = join(iface, hello, sizeof(hello));
    int spy = join(wire.path, hello, sizeof(hello));

    /* Both nodes answer the host; the bus carries the query and the other
     * node's answer, but not the bridge's own. */
    bool node_ok, bridge_ok;
    query(host, buuid, &node_ok, &bridge_ok);
    CHECK(node_ok && bridge_ok);
    bool spy_saw_query = false, spy_saw_node = false, spy_saw_bridge = false;
    struct can_frame f;
    while (can_frame_recv(spy, QUIET_MS, &f)) {
        spy_saw_query |= f.can_id == 0x3f0;
        spy_saw_node |= f.can_id == 0x3f1 && !memcmp(f.data + 1, UUID_NODE, 6);
        spy_saw_bridge |= f.can_id == 0x3f1 && !memcmp(f.data + 1, buuid, 6);
    }
    CHECK(spy_saw_query && spy_saw_node && !spy_saw_bridge);
    drain(host2);

    /* A frame from one host socket: on the bus and at the other host
     * socket, never back at the sender. */
    uint8_t x = 0x42;
    send_frame(host, 0x123, &x, 1);
    CHECK(sees(spy, 0x123, WAIT_MS, &f) && f.data[0] == 0x42);
    CHECK(sees(host2, 0x123, WAIT_MS, NULL));
    CHECK(!sees(host, 0x123, QUIET_MS, NULL));
    /* The bus's frames reach the host. */
    send_frame(spy, 0x321, &x, 1);
    CHECK(sees(host, 0x321, WAIT_MS, NULL));

    /* The bridge takes node id 5: its data ids 0x10a/0x10b stay between it
     * and the host. */
    uint8_t set[8] = { 0x01 };
    memcpy(set + 1, buuid, 6);
    set[7] = 5;
    send_frame(host, 0x3f0, set, 8);
    json_int_t nodeid = -1;
    for (int i = 0; i < WAIT_MS / 20 && nodeid != 5; i++) {
        json_t *st = sim_status(&bridge);
        json_t *v = json_object_get(st, "nodeid");
        nodeid = json_is_integer(v) ? json_integer_value(v) : -1;
        json_decref(st);
        if (nodeid != 5)
            usleep(20000);
    }
    CHECK_EQ(nodeid, 5);
    drain(spy);
    send_frame(host, 0x10a, &x, 1);
    CHECK(!sees(spy, 0x10a, QUIET_MS, NULL));
    drain(host); /* the bridge's Klipper may answer those bytes */
    uint8_t odd[8] = { 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e, 0x7e };
    send_frame(spy, 0x10b, odd, 8);
    bool forwarded = false;
    while (sees(host, 0x10b, QUIET_MS, &f))
        forwarded |= f.len == 8 && !memcmp(f.data, odd, 8);
    CHECK(!forwarded);

    /* Asked for its bootloader, it enters Katapult: the host's interface is
     * gone, Katapult's serial port is there, the bus still works. */
    uint8_t req[7] = { 0x02 };
    memcpy(req + 1, buuid, 6);
    send_frame(host, 0x3f0, req, 7);
    CHECK(sim_wait_status(&bridge, "mode", "katapult", WAIT_MS));
    CHECK(sim_wait_path(iface, false, WAIT_MS));
    CHECK(sim_wait_path(bridge.path, true, WAIT_MS));
    json_t *st = sim_status(&bridge);
    CHECK(st && json_is_false(json_object_get(st, "host_interface_up")));
    json_decref(st);
    char buf[8];
    CHECK(recv(host, buf, sizeof(buf), MSG_DONTWAIT) == 0); /* the host's socket was closed */
    drain(spy);
    query(spy, buuid, &node_ok, &bridge_ok);
    CHECK(node_ok && !bridge_ok);
    close(host);
    close(host2);
    close(spy);

    /* A reset starts its Klipper again, and the interface comes back. */
    char reply[256];
    sim_ctl(&bridge, "reset", reply, sizeof(reply));
    CHECK(sim_wait_status(&bridge, "mode", "klipper", WAIT_MS));
    CHECK(sim_wait_path(iface, true, WAIT_MS));
    CHECK(sim_stop(&bridge));
    CHECK(!sim_wait_path(iface, true, QUIET_MS));
    CHECK(sim_stop(&node));
    CHECK(sim_stop(&wire));
}

/* A bridge build's dictionary: CAN and USB at once, and CANBUS_BRIDGE. */
static void test_build(void)
{
    char out[1300], dict[1300];
    snprintf(out, sizeof(out), "%s/bridge.bin", dir);
    snprintf(dict, sizeof(dict), "%s/bridge.dict", dir);
    const char *args[] = { "make-firmware", "--mcu", "stm32g0b1xx", "--link", "usb-can", "--canbus-frequency",
                           "500000", "-o", out, "--dict-out", dict, NULL };
    CHECK_EQ(sim_run(args), 0);
    size_t len = 0;
    char *text = sim_read_file(dict, &len);
    struct kl_dict *d = NULL;
    struct mf_err err;
    CHECK(text && kl_dict_parse(text, len, &d, &err) == 0);
    int64_t v = 0;
    CHECK(d && kl_dict_const_int(d, "CANBUS_BRIDGE", &v) && v == 1);
    CHECK(d && kl_dict_const_int(d, "CANBUS_FREQUENCY", &v) && v == 500000);
    CHECK(d && kl_dict_const(d, "RESERVE_PINS_USB") && kl_dict_const(d, "RESERVE_PINS_CAN"));
    CHECK(d && !kl_dict_const(d, "SERIAL_BAUD"));
    kl_dict_free(d);
    free(text);
    /* A bridge takes its UUID from its chip id, not from --canbus-uuid. */
    const char *bad[] = { "--path", out, "--mcu", "stm32g0b1xx", "--link", "usb-can:/nonexistent", "--host-interface",
                          dict, "--canbus-uuid", "0a0b0c0d0e0f", NULL };
    CHECK_EQ(sim_run(bad), 2);
}

int main(void)
{
    dir = sim_tmpdir("test_sim_usbcan");
    test_routing();
    test_build();
    return check_report("test_sim_usbcan");
}
