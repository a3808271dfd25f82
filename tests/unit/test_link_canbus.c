/* The CAN side of the link layer against a fake bus on a seqpacket
 * socketpair speaking the virtual bus's format (a hello, then one
 * struct can_frame per packet): the hello, the admin protocol's frames and
 * the collection of query replies, a node's byte stream as a transport,
 * the errors for missing, non-CAN and down interfaces (on a fake sysfs
 * tree and the real one), rtnetlink parsing, and the USB-CAN bridge UUIDs
 * computed by Katapult's flashtool.py for a few serial numbers. */
#include <errno.h>
#include <linux/can.h>
#include <linux/can/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "can_frames.h"
#include "check.h"
#include "link/canbus.h"

static char dir[96];

static void test_bridge_uuids(void)
{
    /* From flashtool.py's convert_usbsn_to_uuid, run by hand. */
    static const struct { const char *serial, *uuid; } v[] = {
        { "2A0037000D5053424E363620", "0e1d4a2c2dca" },
        { "E6614C309F7A6A2A", "16cd4c02db0c" },
        { "0A", "e7ba8f0297c5" },
        { "0102030405060708", "38964cebf815" },
        { "290032000F51353536343937", "64ef3c0af8f8" },
        { "DEADBEEF0123456789", "e0c18eb3a567" },
        { "deadbeef0123456789", "e0c18eb3a567" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint8_t uuid[6];
        char hex[13];
        CHECK_EQ(canbus_uuid_from_usb_serial(v[i].serial, uuid), 0);
        canbus_uuid_format(uuid, hex);
        CHECK_STR(hex, v[i].uuid);
    }
    CHECK_EQ(canbus_fasthash64((const uint8_t *)"", 0, 0), 0);
    CHECK_EQ(canbus_fasthash64((const uint8_t *)"123456789", 9, 0xA16231A7), 0x67498cf40c3675e4ull);
    uint8_t uuid[6];
    CHECK_EQ(canbus_uuid_from_usb_serial("", uuid), -1);
    CHECK_EQ(canbus_uuid_from_usb_serial("ABC", uuid), -1);
    CHECK_EQ(canbus_uuid_from_usb_serial("12XY", uuid), -1);
    CHECK_EQ(canbus_uuid_parse("0e1d4a2c2dca", uuid), 0);
    CHECK_MEM(uuid, "\x0e\x1d\x4a\x2c\x2d\xca", 6);
    CHECK_EQ(canbus_uuid_parse("0e1d4a2c2dc", uuid), -1);
    CHECK_EQ(canbus_uuid_parse("0e1d4a2c2dcg", uuid), -1);
}

/* ---- the fake bus ---- */

/* The next frame the host sent, or id 0xffffffff if none is waiting. */
static struct can_frame peer_recv(int fd)
{
    struct can_frame f;
    memset(&f, 0, sizeof(f));
    if (!can_frame_recv(fd, 0, &f))
        f.can_id = 0xffffffff;
    return f;
}

static struct canbus *fake_bus(int *peer, const char *hello)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    CHECK_EQ(send(sv[1], hello, strlen(hello), 0), (ssize_t)strlen(hello));
    struct canbus *bus = NULL;
    struct mf_err err;
    if (canbus_open_sim_fd(sv[0], "sim:fake", &bus, &err) < 0)
        fprintf(stderr, "%s\n", err.msg);
    *peer = sv[1];
    return bus;
}

static void test_hello(void)
{
    int peer;
    struct canbus *bus = fake_bus(&peer, "mcuflash-sim canbus bitrate=500000");
    CHECK(bus != NULL);
    CHECK_EQ(canbus_bitrate(bus), 500000);
    CHECK_STR(canbus_name(bus), "sim:fake");
    canbus_close(bus);
    close(peer);
    /* A frame where the hello should be is not a virtual bus. */
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    CHECK(can_frame_send(sv[1], 0x3f1, "\x20", 1));
    struct mf_err err;
    CHECK_EQ(canbus_open_sim_fd(sv[0], "sim:odd", &bus, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    close(sv[1]);
}

static void test_admin(void)
{
    int peer;
    struct canbus *bus = fake_bus(&peer, "mcuflash-sim canbus bitrate=1000000");
    static const uint8_t a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff };
    uint8_t r[8] = { 0x20 };
    /* Replies already on the wire: a Klipper node (twice), a Katapult
     * node, data for some node, and a short reply. */
    memcpy(r + 1, a, 6);
    r[7] = 0x01;
    CHECK(can_frame_send(peer, 0x3f1, r, 8));
    CHECK(can_frame_send(peer, 0x3f1, r, 8));
    CHECK(can_frame_send(peer, 0x123, "\x20\x01\x02", 3));
    memcpy(r + 1, b, 6);
    r[7] = 0x11;
    CHECK(can_frame_send(peer, 0x3f1, r, 8));
    CHECK(can_frame_send(peer, 0x3f1, "\x20\x09", 2));
    struct canbus_node_info nodes[4];
    struct mf_err err;
    CHECK_EQ(canbus_query_unassigned(bus, 30, nodes, 4, &err), 2);
    CHECK_MEM(nodes[0].uuid, a, 6);
    CHECK_EQ(nodes[0].app, CANBUS_APP_KLIPPER);
    CHECK_MEM(nodes[1].uuid, b, 6);
    CHECK_EQ(nodes[1].app, CANBUS_APP_KATAPULT);
    struct can_frame f = peer_recv(peer);
    CHECK_EQ(f.can_id, 0x3f0);
    CHECK_EQ(f.len, 1);
    CHECK_EQ(f.data[0], 0x00);

    /* The commands, byte for byte. */
    CHECK_EQ(canbus_set_nodeid(bus, CANBUS_APP_KLIPPER, a, 4, &err), 0);
    CHECK_EQ(canbus_set_nodeid(bus, CANBUS_APP_KATAPULT, b, 129, &err), 0);
    CHECK_EQ(canbus_katapult_clear_nodeids(bus, &err), 0);
    CHECK_EQ(canbus_request_bootloader(bus, a, &err), 0);
    f = peer_recv(peer);
    CHECK_EQ(f.can_id, 0x3f0);
    CHECK_EQ(f.len, 8);
    CHECK_MEM(f.data, "\x01\x01\x02\x03\x04\x05\x06\x04", 8);
    f = peer_recv(peer);
    CHECK_EQ(f.len, 8);
    CHECK_MEM(f.data, "\x11\xaa\xbb\xcc\xdd\xee\xff\x81", 8);
    f = peer_recv(peer);
    CHECK_EQ(f.len, 1);
    CHECK_EQ(f.data[0], 0x12);
    f = peer_recv(peer);
    CHECK_EQ(f.len, 7);
    CHECK_MEM(f.data, "\x02\x01\x02\x03\x04\x05\x06", 7);
    CHECK_EQ(peer_recv(peer).can_id, 0xffffffff);

    /* A node that does not answer. */
    CHECK_EQ(canbus_find_node(bus, a, 20, NULL, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK(strstr(err.msg, "010203040506") != NULL);
    memcpy(r + 1, a, 6);
    r[7] = 0x11;
    CHECK(can_frame_send(peer, 0x3f1, r, 8));
    enum canbus_app app = CANBUS_APP_UNKNOWN;
    CHECK_EQ(canbus_find_node(bus, a, 20, &app, &err), 0);
    CHECK_EQ(app, CANBUS_APP_KATAPULT);
    canbus_close(bus);
    close(peer);
}

static void test_node(void)
{
    int peer;
    struct canbus *bus = fake_bus(&peer, "mcuflash-sim canbus bitrate=1000000");
    struct transport *t = NULL, *other = NULL;
    struct mf_err err;
    CHECK_EQ(canbus_node_open(bus, 129, &t, &err), 0);
    CHECK_EQ(canbus_node_open(bus, 130, &other, &err), 0);
    CHECK_STR(t->name, "sim:fake node 129");
    uint8_t out[20];
    for (int i = 0; i < 20; i++)
        out[i] = (uint8_t)(0x40 + i);
    CHECK_EQ(transport_write(t, out, sizeof(out)), 20);
    static const uint8_t lens[] = { 8, 8, 4 };
    for (int i = 0; i < 3; i++) {
        struct can_frame f = peer_recv(peer);
        CHECK_EQ(f.can_id, 0x202);
        CHECK_EQ(f.len, lens[i]);
        CHECK_MEM(f.data, out + 8 * i, lens[i]);
    }
    /* Input for this node, another node, the admin id, interleaved. */
    CHECK_EQ(transport_wait(t, TRANSPORT_READABLE, 10), 0);
    CHECK(can_frame_send(peer, 0x203, "hello, ", 7));
    CHECK(can_frame_send(peer, 0x205, "other", 5));
    CHECK(can_frame_send(peer, 0x202, "echo", 4));
    CHECK(can_frame_send(peer, 0x3f1, "\x20", 1));
    CHECK(can_frame_send(peer, 0x203, "world", 5));
    CHECK(transport_wait(t, TRANSPORT_READABLE, 1000) & TRANSPORT_READABLE);
    char in[64];
    size_t got = 0;
    for (int i = 0; i < 50 && got < 12; i++) {
        transport_wait(t, TRANSPORT_READABLE, 20);
        ssize_t n = transport_read(t, in + got, sizeof(in) - got);
        CHECK(n >= 0);
        got += n > 0 ? (size_t)n : 0;
    }
    CHECK_EQ(got, 12);
    CHECK_MEM(in, "hello, world", 12);
    CHECK_EQ(transport_read(other, in, sizeof(in)), 5);
    CHECK_MEM(in, "other", 5);
    CHECK_EQ(transport_read(t, in, sizeof(in)), 0);
    /* Stale input is dropped on request. */
    CHECK(can_frame_send(peer, 0x203, "stale", 5));
    transport_wait(t, TRANSPORT_READABLE, 100);
    transport_discard_input(t);
    CHECK_EQ(transport_read(t, in, sizeof(in)), 0);
    /* The bus going away is reported by the read. */
    transport_close(other);
    close(peer);
    CHECK(transport_wait(t, TRANSPORT_READABLE, 1000) & TRANSPORT_READABLE);
    CHECK_EQ(transport_read(t, in, sizeof(in)), -1);
    CHECK_EQ(transport_write(t, out, 4), -1);
    transport_close(t);
    canbus_close(bus);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_open_errors(void)
{
    struct canbus *bus;
    struct mf_err err;
    char path[400], cmd[600];
    snprintf(path, sizeof(path), "sim:%s/nobus", dir);
    CHECK_EQ(canbus_open(path, &bus, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK(strstr(err.msg, "There is no virtual CAN bus") != NULL);
    /* A socket file nobody listens on any more. */
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale", dir);
    unlink(sa.sun_path);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    CHECK_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    close(fd);
    snprintf(path, sizeof(path), "sim:%s", sa.sun_path);
    CHECK_EQ(canbus_open(path, &bus, &err), -1);
    CHECK(strstr(err.msg, "Nothing serves") != NULL);
    /* A folder is no bus, nor a stale one. */
    snprintf(path, sizeof(path), "sim:%s", dir);
    CHECK_EQ(canbus_open(path, &bus, &err), -1);
    CHECK(strstr(err.msg, "is a folder, not a virtual CAN bus; nothing was sent.") != NULL);
    /* The real system: no such interface; lo is not CAN.  The CLI adds
     * what to do to the fact. */
    CHECK_EQ(canbus_open("nosuchcan9", &bus, &err), -1);
    CHECK_EQ(err.code, MF_E_DEVICE);
    CHECK_EQ(err.fact, MF_FACT_CAN_IFACE);
    CHECK(strstr(err.msg, "no network interface nosuchcan9") != NULL);
    CHECK_EQ(canbus_open("lo", &bus, &err), -1);
    CHECK(strstr(err.msg, "not a CAN interface") != NULL);
    CHECK_EQ(canbus_open("../etc", &bus, &err), -1);
    CHECK_EQ(err.code, MF_E_USAGE);
    /* A fake sysfs: a CAN interface down, then up. */
    char root[128], net[160];
    snprintf(root, sizeof(root), "%s/sysfs", dir);
    snprintf(net, sizeof(net), "%s/sys/class/net/can0", root);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", root, net);
    CHECK_EQ(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/type", net);
    write_file(path, "280\n");
    snprintf(path, sizeof(path), "%s/flags", net);
    write_file(path, "0x80\n");
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_UNKNOWN, &err), -1);
    CHECK_STR(err.msg, "CAN interface can0 is down.");
    write_file(path, "0x40081\n");
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_UNKNOWN, &err), 0);
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_PASSIVE, &err), 0);
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_BUS_OFF, &err), -1);
    CHECK(strstr(err.msg, "can0 is bus-off") != NULL);
    snprintf(path, sizeof(path), "%s/operstate", net);
    write_file(path, "down\n");
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_ACTIVE, &err), -1);
    CHECK(strstr(err.msg, "has no link") != NULL);
    write_file(path, "up\n");
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_ACTIVE, &err), 0);
    CHECK_EQ(canbus_check_interface(root, "can1", CANBUS_STATE_UNKNOWN, &err), -1);
    CHECK(strstr(err.msg, "no network interface can1") != NULL);
    snprintf(path, sizeof(path), "%s/type", net);
    write_file(path, "1\n");
    CHECK_EQ(canbus_check_interface(root, "can0", CANBUS_STATE_UNKNOWN, &err), -1);
    CHECK(strstr(err.msg, "not a CAN interface") != NULL);
}

/* Append an attribute (nested ones are closed by end_nest). */
static struct rtattr *put_attr(char *buf, size_t *len, unsigned short type, const void *data, size_t dlen)
{
    struct rtattr *rta = (struct rtattr *)(buf + *len);
    rta->rta_type = type;
    rta->rta_len = (unsigned short)RTA_LENGTH(dlen);
    if (dlen)
        memcpy(RTA_DATA(rta), data, dlen);
    *len += RTA_ALIGN(rta->rta_len);
    return rta;
}

static void end_nest(char *buf, size_t len, struct rtattr *nest)
{
    nest->rta_len = (unsigned short)(buf + len - (char *)nest);
}

static size_t newlink(char *buf, bool can, uint32_t bitrate, uint32_t state)
{
    memset(buf, 0, 1024);
    struct nlmsghdr *nh = (struct nlmsghdr *)buf;
    nh->nlmsg_type = RTM_NEWLINK;
    size_t len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    put_attr(buf, &len, IFLA_IFNAME, "can0", 5);
    if (can) {
        struct rtattr *info = put_attr(buf, &len, IFLA_LINKINFO | NLA_F_NESTED, NULL, 0);
        put_attr(buf, &len, IFLA_INFO_KIND, "can", 4);
        struct rtattr *data = put_attr(buf, &len, IFLA_INFO_DATA | NLA_F_NESTED, NULL, 0);
        uint32_t clock = 80000000;
        put_attr(buf, &len, IFLA_CAN_CLOCK, &clock, 4);
        struct can_bittiming bt = { .bitrate = bitrate, .sample_point = 875 };
        put_attr(buf, &len, IFLA_CAN_BITTIMING, &bt, sizeof(bt));
        put_attr(buf, &len, IFLA_CAN_STATE, &state, 4);
        end_nest(buf, len, data);
        end_nest(buf, len, info);
    }
    nh->nlmsg_len = (uint32_t)len;
    return len;
}

static void test_netlink(void)
{
    static _Alignas(struct nlmsghdr) char buf[1024];
    uint32_t bitrate;
    enum canbus_state state;
    size_t len = newlink(buf, true, 500000, CAN_STATE_BUS_OFF);
    CHECK_EQ(canbus_parse_newlink(buf, len, &bitrate, &state), 0);
    CHECK_EQ(bitrate, 500000);
    CHECK_EQ(state, CANBUS_STATE_BUS_OFF);
    len = newlink(buf, true, 1000000, CAN_STATE_ERROR_ACTIVE);
    CHECK_EQ(canbus_parse_newlink(buf, len, &bitrate, &state), 0);
    CHECK_EQ(bitrate, 1000000);
    CHECK_EQ(state, CANBUS_STATE_ACTIVE);
    len = newlink(buf, false, 0, 0);
    CHECK_EQ(canbus_parse_newlink(buf, len, &bitrate, &state), 0);
    CHECK_EQ(bitrate, 0);
    CHECK_EQ(state, CANBUS_STATE_UNKNOWN);
    CHECK_EQ(canbus_parse_newlink(buf, 10, &bitrate, &state), -1);
    /* The kernel's own answer about lo: no CAN data in it. */
    CHECK_EQ(canbus_link_query("lo", &bitrate, &state), 0);
    CHECK_EQ(bitrate, 0);
    CHECK_EQ(canbus_link_query("nosuchcan9", &bitrate, &state), -1);
}

int main(void)
{
    snprintf(dir, sizeof(dir), "%s/link_canbus", getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp");
    mkdir(getenv("MF_TMP") ? getenv("MF_TMP") : "/tmp", 0755);
    mkdir(dir, 0755);
    test_bridge_uuids();
    test_hello();
    test_admin();
    test_node();
    test_open_errors();
    test_netlink();
    return check_report("test_link_canbus");
}
