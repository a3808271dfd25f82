/* Is a SocketCAN interface there, CAN, up and on the bus, and at what
 * bitrate: sysfs for the first three, rtnetlink for the controller. */
#include "link/canbus.h"

#include <errno.h>
#include <linux/can/netlink.h>
#include <net/if_arp.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static int read_sysfs_line(const char *dir, const char *attr, char *buf, size_t cap)
{
    char path[1024];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, attr) >= sizeof(path))
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    bool ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

int canbus_check_interface(const char *sysfs_root, const char *iface, enum canbus_state state,
                           struct mf_err *err)
{
    if (!*iface || strlen(iface) >= IFNAMSIZ || strchr(iface, '/'))
        return mf_fail(err, MF_E_USAGE, "'%s' is not a network interface name.", iface);
    char dir[512], line[64];
    snprintf(dir, sizeof(dir), "%s/sys/class/net/%s", strcmp(sysfs_root, "/") ? sysfs_root : "", iface);
    if (access(dir, F_OK) < 0)
        return mf_fail(err, MF_E_DEVICE, "There is no network interface %s.", iface);
    if (read_sysfs_line(dir, "type", line, sizeof(line)) == 0 && strtol(line, NULL, 10) != ARPHRD_CAN)
        return mf_fail(err, MF_E_DEVICE, "Network interface %s is not a CAN interface.", iface);
    if (read_sysfs_line(dir, "flags", line, sizeof(line)) == 0 && !(strtoul(line, NULL, 16) & IFF_UP))
        return mf_fail(err, MF_E_DEVICE, "CAN interface %s is down.", iface);
    if (state == CANBUS_STATE_BUS_OFF)
        return mf_fail(err, MF_E_DEVICE, "CAN interface %s is bus-off: its controller stopped after too many "
                       "errors on the bus.", iface);
    if (state == CANBUS_STATE_STOPPED)
        return mf_fail(err, MF_E_DEVICE, "CAN interface %s is stopped.", iface);
    /* Up, yet without carrier: the driver sees no working bus. */
    if (read_sysfs_line(dir, "operstate", line, sizeof(line)) == 0 && !strcmp(line, "down"))
        return mf_fail(err, MF_E_DEVICE, "CAN interface %s is up but has no link (operstate down).", iface);
    return 0;
}

/* The attributes nested in rta, or NULL. */
static const struct rtattr *find_attr(const struct rtattr *rta, size_t len, unsigned short type)
{
    int left = (int)len;
    for (; RTA_OK(rta, left); rta = RTA_NEXT(rta, left))
        if ((rta->rta_type & NLA_TYPE_MASK) == type)
            return rta;
    return NULL;
}

int canbus_parse_newlink(const void *msg, size_t len, uint32_t *bitrate, enum canbus_state *state)
{
    *bitrate = 0;
    *state = CANBUS_STATE_UNKNOWN;
    /* NLMSG_OK/NLMSG_NEXT by hand: the macros compare signed with unsigned. */
    const uint8_t *p = msg;
    for (size_t left = len, step; left >= sizeof(struct nlmsghdr); p += step, left -= step) {
        const struct nlmsghdr *nh = (const struct nlmsghdr *)p;
        if (nh->nlmsg_len < sizeof(*nh) || nh->nlmsg_len > left)
            break;
        step = NLMSG_ALIGN(nh->nlmsg_len) < left ? NLMSG_ALIGN(nh->nlmsg_len) : left;
        if (nh->nlmsg_type != RTM_NEWLINK || nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
            continue;
        const struct ifinfomsg *ifi = NLMSG_DATA(nh);
        const struct rtattr *info = find_attr(IFLA_RTA(ifi), IFLA_PAYLOAD(nh), IFLA_LINKINFO);
        const struct rtattr *data = info ? find_attr(RTA_DATA(info), RTA_PAYLOAD(info), IFLA_INFO_DATA) : NULL;
        if (!data)
            return 0; /* not a CAN device: nothing to report */
        const struct rtattr *bt = find_attr(RTA_DATA(data), RTA_PAYLOAD(data), IFLA_CAN_BITTIMING);
        const struct rtattr *st = find_attr(RTA_DATA(data), RTA_PAYLOAD(data), IFLA_CAN_STATE);
        if (bt && RTA_PAYLOAD(bt) >= sizeof(struct can_bittiming))
            *bitrate = ((const struct can_bittiming *)RTA_DATA(bt))->bitrate;
        if (st && RTA_PAYLOAD(st) >= sizeof(uint32_t))
            *state = (enum canbus_state) * (const uint32_t *)RTA_DATA(st);
        return 0;
    }
    return -1;
}

int canbus_link_query(const char *iface, uint32_t *bitrate, enum canbus_state *state)
{
    *bitrate = 0;
    *state = CANBUS_STATE_UNKNOWN;
    unsigned index = if_nametoindex(iface);
    if (!index)
        return -1;
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = 1 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct {
        struct nlmsghdr nh;
        struct ifinfomsg ifi;
    } req = {
        .nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK, .nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
        .ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)index },
    };
    static _Alignas(struct nlmsghdr) char buf[16384];
    ssize_t n = -1;
    if (send(fd, &req, sizeof(req), 0) == (ssize_t)sizeof(req))
        n = recv(fd, buf, sizeof(buf), 0);
    close(fd);
    if (n <= 0)
        return -1;
    return canbus_parse_newlink(buf, (size_t)n, bitrate, state);
}
