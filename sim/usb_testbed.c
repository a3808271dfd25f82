/* usbdevfs requests to umockdev-emulated device nodes, answered by a model. */
#include "usb_testbed.h"

#ifdef MF_HAVE_UMOCKDEV

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <umockdev.h>

#define PRELOAD_LIB "libumockdev-preload.so.0"
#define MAX_PENDING 64

#define MAX_DEVICES 4

struct usb_testbed;

/* One device on the bus and its node's requests. */
struct usb_slot {
    struct usb_testbed *owner;
    UMockdevIoctlBase *handler;
    char port[32];         /* "" when free */
    char syspath[256];     /* of the plugged device */
    char intfpath[320];    /* of its first interface, when it has a tty; "" else */
    char ttypath[320];     /* of its tty; "" when none */
    char devnode[64];      /* "/dev/bus/usb/001/002" */
    struct usb_model *model;
    /* Completed URBs not yet reaped: their addresses in the client. */
    gulong pending[MAX_PENDING];
    int npending;
};

struct usb_testbed {
    UMockdevTestbed *tb;
    char *root;
    int devnum;            /* the last one given */
    bool trace;            /* MCUFLASH_SIM_USB_TRACE: each request to stderr */
    struct usb_slot slot[MAX_DEVICES];
};

bool usb_testbed_available(void)
{
    return true;
}

static int complete(UMockdevIoctlClient *client, long res, int err_no)
{
    umockdev_ioctl_client_complete(client, res, err_no);
    return TRUE;
}

static UMockdevIoctlData *resolve(UMockdevIoctlData *data, size_t offset, size_t len)
{
    return umockdev_ioctl_data_resolve(data, offset, len, NULL);
}

/* A control transfer: setup packet then the data stage (IN data is
 * written after the setup packet).  Returns bytes transferred or -errno. */
static long control(struct usb_slot *t, const uint8_t *setup, uint8_t *data)
{
    struct usb_setup s = { setup[0], setup[1], (uint16_t)(setup[2] | setup[3] << 8),
                           (uint16_t)(setup[4] | setup[5] << 8), (uint16_t)(setup[6] | setup[7] << 8) };
    size_t len = s.length;
    enum usb_result r = usb_model_control(t->model, &s, data, &len);
    if (t->owner->trace)
        fprintf(stderr, "usb: %02x %02x %04x %04x %04x -> %d len %zu\n", s.request_type, s.request, s.value,
                s.index, s.length, (int)r, len);
    switch (r) {
    case USB_OK:
        return (long)len;
    case USB_STALL:
        return -EPIPE;
    default:
        return -EPROTO;
    }
}

static gboolean submit_urb(struct usb_slot *t, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    UMockdevIoctlData *urbd = resolve(arg, 0, sizeof(struct usbdevfs_urb));
    if (!urbd)
        return complete(client, -1, EFAULT);
    struct usbdevfs_urb *urb = (struct usbdevfs_urb *)urbd->data;
    UMockdevIoctlData *buf = urb->buffer_length > 0
                                 ? resolve(urbd, offsetof(struct usbdevfs_urb, buffer), (size_t)urb->buffer_length)
                                 : NULL;
    long res = -EINVAL;
    if (urb->type == USBDEVFS_URB_TYPE_CONTROL && buf && urb->buffer_length >= 8) {
        res = control(t, buf->data, buf->data + 8);
    } else if (urb->type == USBDEVFS_URB_TYPE_BULK && t->model->bulk) {
        size_t len = (size_t)urb->buffer_length;
        uint8_t empty[1];
        enum usb_result r = t->model->bulk(t->model, urb->endpoint, buf ? buf->data : empty, &len);
        res = r == USB_OK ? (long)len : r == USB_STALL ? -EPIPE : -EPROTO;
    }
    if (res == -EINVAL)
        return complete(client, -1, EINVAL);
    if (t->npending == MAX_PENDING)
        return complete(client, -1, ENOMEM);
    urb->status = res < 0 ? (int)res : 0;
    urb->actual_length = res < 0 ? 0 : (int)res;
    t->pending[t->npending++] = urbd->client_addr;
    return complete(client, 0, 0);
}

static gboolean reap_urb(struct usb_slot *t, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    if (t->npending == 0)
        return complete(client, -1, t->model->gone ? ENODEV : EAGAIN);
    UMockdevIoctlData *out = resolve(arg, 0, sizeof(void *));
    if (!out)
        return complete(client, -1, EFAULT);
    memcpy(out->data, &t->pending[0], sizeof(void *));
    memmove(t->pending, t->pending + 1, (size_t)--t->npending * sizeof(t->pending[0]));
    return complete(client, 0, 0);
}

static gboolean sync_control(struct usb_slot *t, UMockdevIoctlClient *client, UMockdevIoctlData *arg)
{
    UMockdevIoctlData *ctrl = resolve(arg, 0, sizeof(struct usbdevfs_ctrltransfer));
    if (!ctrl)
        return complete(client, -1, EFAULT);
    struct usbdevfs_ctrltransfer *c = (struct usbdevfs_ctrltransfer *)ctrl->data;
    uint8_t setup[8] = { c->bRequestType, c->bRequest, (uint8_t)c->wValue, (uint8_t)(c->wValue >> 8),
                         (uint8_t)c->wIndex, (uint8_t)(c->wIndex >> 8), (uint8_t)c->wLength,
                         (uint8_t)(c->wLength >> 8) };
    UMockdevIoctlData *buf = c->wLength ? resolve(ctrl, offsetof(struct usbdevfs_ctrltransfer, data), c->wLength)
                                        : NULL;
    uint8_t none[1];
    long res = control(t, setup, buf ? buf->data : none);
    return res < 0 ? complete(client, -1, (int)-res) : complete(client, res, 0);
}

static gboolean on_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
    struct usb_slot *t = user;
    unsigned long request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    if (!t->model)
        return complete(client, -1, ENODEV);
    if (request == USBDEVFS_REAPURBNDELAY || request == USBDEVFS_REAPURB)
        return reap_urb(t, client, arg);
    if (t->model->gone)
        return complete(client, -1, ENODEV);
    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        uint32_t caps = USBDEVFS_CAP_NO_PACKET_SIZE_LIM;
        UMockdevIoctlData *out = resolve(arg, 0, sizeof(caps));
        if (!out)
            return complete(client, -1, EFAULT);
        memcpy(out->data, &caps, sizeof(caps));
        return complete(client, 0, 0);
    }
    case USBDEVFS_SETINTERFACE: {
        UMockdevIoctlData *in = resolve(arg, 0, sizeof(struct usbdevfs_setinterface));
        if (!in)
            return complete(client, -1, EFAULT);
        struct usbdevfs_setinterface *si = (struct usbdevfs_setinterface *)in->data;
        if (t->owner->trace)
            fprintf(stderr, "usb: set interface %u alt %u\n", si->interface, si->altsetting);
        if (t->model->set_alt)
            t->model->set_alt(t->model, (int)si->interface, (int)si->altsetting);
        return complete(client, 0, 0);
    }
    case USBDEVFS_GETDRIVER: /* no kernel driver is bound to the interface */
        return complete(client, -1, ENODATA);
    case USBDEVFS_DISCONNECT_CLAIM:
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_RELEASEINTERFACE:
    case USBDEVFS_SETCONFIGURATION:
    case USBDEVFS_RESET:
    case USBDEVFS_CLEAR_HALT:
        return complete(client, 0, 0);
    case USBDEVFS_SUBMITURB:
        return submit_urb(t, client, arg);
    case USBDEVFS_DISCARDURB:
        return complete(client, -1, EINVAL); /* every URB completes at once */
    case USBDEVFS_CONTROL:
        return sync_control(t, client, arg);
    default:
        return complete(client, -1, ENOTTY);
    }
}

struct usb_testbed *usb_testbed_new(struct mf_err *err)
{
    struct usb_testbed *t = calloc(1, sizeof(*t));
    if (!t) {
        mf_fail(err, MF_E_FAIL, "Out of memory.");
        return NULL;
    }
    t->tb = umockdev_testbed_new();
    t->root = umockdev_testbed_get_root_dir(t->tb);
    for (int i = 0; i < MAX_DEVICES; i++) {
        t->slot[i].owner = t;
        t->slot[i].handler = umockdev_ioctl_base_new();
        g_signal_connect(t->slot[i].handler, "handle-ioctl", G_CALLBACK(on_ioctl), &t->slot[i]);
    }
    t->devnum = 1; /* the root hub's */
    t->trace = getenv("MCUFLASH_SIM_USB_TRACE") != NULL;
    return t;
}

static void unplug_slot(struct usb_slot *d)
{
    UMockdevTestbed *tb = d->owner->tb;
    if (!d->port[0])
        return;
    umockdev_testbed_detach_ioctl(tb, d->devnode, NULL);
    /* Children first: each leaves its bus or class link behind otherwise,
     * and the next plug could not add it again. */
    if (d->ttypath[0])
        umockdev_testbed_remove_device(tb, d->ttypath);
    if (d->intfpath[0])
        umockdev_testbed_remove_device(tb, d->intfpath);
    umockdev_testbed_remove_device(tb, d->syspath);
    char path[512];
    snprintf(path, sizeof(path), "%s%s", d->owner->root, d->devnode);
    remove(path);
    d->port[0] = d->ttypath[0] = d->intfpath[0] = '\0';
    d->model = NULL;
    d->npending = 0;
}

static struct usb_slot *slot_at(struct usb_testbed *t, const char *port)
{
    for (int i = 0; i < MAX_DEVICES; i++)
        if (t->slot[i].port[0] && !strcmp(t->slot[i].port, port))
            return &t->slot[i];
    return NULL;
}

void usb_testbed_unplug(struct usb_testbed *t, const char *port)
{
    struct usb_slot *d = slot_at(t, port);
    if (d)
        unplug_slot(d);
}

/* mkdir -p of the directories leading to path. */
static void make_parents(const char *path)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", path);
    for (char *p = dir + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(dir, 0755);
            *p = '/';
        }
}

/* The first interface and the tty below it, named by path: umockdev takes
 * a parent only when the calling process runs under its preload. */
static void add_tty(struct usb_slot *t, const char *name, const char *tty)
{
    char intf[128], node[128];
    snprintf(intf, sizeof(intf), "%s/%s:1.0", name, strrchr(name, '/') + 1);
    gchar *ip = umockdev_testbed_add_device(t->owner->tb, "usb", intf, NULL, "bInterfaceClass", "02",
                                            "bInterfaceNumber", "00", NULL, "DEVTYPE", "usb_interface", NULL);
    snprintf(t->intfpath, sizeof(t->intfpath), "%s", ip ? ip : "");
    g_free(ip);
    const char *base = strrchr(tty, '/') ? strrchr(tty, '/') + 1 : tty;
    snprintf(intf + strlen(intf), sizeof(intf) - strlen(intf), "/tty/%s", base);
    snprintf(node, sizeof(node), "/dev/%s", tty);
    gchar *tp = umockdev_testbed_add_device(t->owner->tb, "tty", intf, NULL, NULL, "DEVNAME", node, NULL);
    snprintf(t->ttypath, sizeof(t->ttypath), "%s", tp ? tp : "");
    g_free(tp);
}

int usb_testbed_plug(struct usb_testbed *tb, const char *port, struct usb_model *m, const char *tty,
                     struct mf_err *err)
{
    usb_testbed_unplug(tb, port);
    unsigned bus = (unsigned)atoi(port);
    if (bus == 0 || !strchr(port, '-') || strchr(port, '.') || strlen(port) >= sizeof(tb->slot[0].port))
        return mf_fail(err, MF_E_USAGE, "USB port \"%s\" is not a root-hub port like 1-1.", port);
    struct usb_slot *t = NULL;
    for (int i = 0; i < MAX_DEVICES && !t; i++)
        if (!tb->slot[i].port[0])
            t = &tb->slot[i];
    if (!t)
        return mf_fail(err, MF_E_USAGE, "At most %d USB devices can be emulated at once.", MAX_DEVICES);
    int number = ++tb->devnum;
    char name[64], busnum[16], devnum[16], vid[8], pid[8];
    snprintf(name, sizeof(name), "usb%u/%s", bus, port);
    snprintf(busnum, sizeof(busnum), "%u", bus);
    snprintf(devnum, sizeof(devnum), "%d", number);
    snprintf(vid, sizeof(vid), "%04x", m->vid);
    snprintf(pid, sizeof(pid), "%04x", m->pid);
    snprintf(t->devnode, sizeof(t->devnode), "/dev/bus/usb/%03u/%03d", bus, number);
    gchar *syspath = umockdev_testbed_add_device(
        tb->tb, "usb", name, NULL,
        "idVendor", vid, "idProduct", pid, "busnum", busnum, "devnum", devnum, "speed", "12",
        "bConfigurationValue", "1", "bNumConfigurations", "1",
        "manufacturer", m->strings[1] ? m->strings[1] : "", "product", m->strings[2] ? m->strings[2] : "",
        "serial", m->serial ? m->serial : "", NULL,
        "DEVNAME", t->devnode, "DEVTYPE", "usb_device", "BUSNUM", busnum, "DEVNUM", devnum,
        "ID_VENDOR_ID", vid, "ID_MODEL_ID", pid, NULL);
    if (!syspath)
        return mf_fail(err, MF_E_FAIL, "The USB device at port %s could not be added to the testbed.", port);
    snprintf(t->syspath, sizeof(t->syspath), "%s", syspath);
    g_free(syspath);
    snprintf(t->port, sizeof(t->port), "%s", port);
    umockdev_testbed_set_attribute_binary(tb->tb, t->syspath, "descriptors", m->descriptors,
                                          (int)m->descriptors_len);
    if (tty)
        add_tty(t, name, tty);
    /* libusb opens the node before its first request: it must exist. */
    char node[512];
    snprintf(node, sizeof(node), "%s%s", tb->root, t->devnode);
    make_parents(node);
    FILE *f = fopen(node, "w");
    if (f)
        fclose(f);
    GError *gerr = NULL;
    if (!umockdev_testbed_attach_ioctl(tb->tb, t->devnode, t->handler, &gerr)) {
        mf_fail(err, MF_E_FAIL, "The USB device node %s could not be emulated: %s.", t->devnode,
                gerr ? gerr->message : "unknown error");
        g_clear_error(&gerr);
        unplug_slot(t);
        return -1;
    }
    t->model = m;
    t->npending = 0;
    return 0;
}

const struct usb_model *usb_testbed_model(struct usb_testbed *t, const char *port)
{
    struct usb_slot *d = slot_at(t, port);
    return d ? d->model : NULL;
}

const char *usb_testbed_root(const struct usb_testbed *t)
{
    return t->root;
}

int usb_testbed_child_env(const struct usb_testbed *t, struct mf_err *err)
{
    const char *old = getenv("LD_PRELOAD");
    char preload[1024];
    if (old && strstr(old, PRELOAD_LIB))
        snprintf(preload, sizeof(preload), "%s", old);
    else
        snprintf(preload, sizeof(preload), "%s%s%s", PRELOAD_LIB, old && *old ? ":" : "", old ? old : "");
    /* A program built with AddressSanitizer refuses to run when another
     * library is preloaded before its runtime, unless told it is fine. */
    const char *asan = getenv("ASAN_OPTIONS");
    char asan_opts[1024];
    snprintf(asan_opts, sizeof(asan_opts), "%s%sverify_asan_link_order=0", asan ? asan : "", asan && *asan ? ":" : "");
    if (setenv("LD_PRELOAD", preload, 1) || setenv("UMOCKDEV_DIR", t->root, 1) ||
        setenv("ASAN_OPTIONS", asan_opts, 1))
        return mf_fail(err, MF_E_FAIL, "The environment for USB emulation could not be set.");
    return 0;
}

void usb_testbed_iterate(struct usb_testbed *t, int timeout_ms)
{
    GMainContext *ctx = g_main_context_default();
    gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    do {
        while (g_main_context_iteration(ctx, FALSE))
            ;
        /* A device that left the bus disappears once its last answer is out. */
        for (int i = 0; i < MAX_DEVICES; i++)
            if (t->slot[i].model && t->slot[i].model->gone && t->slot[i].npending == 0)
                unplug_slot(&t->slot[i]);
        if (g_get_monotonic_time() >= end)
            break;
        g_usleep(1000);
    } while (1);
}

void usb_testbed_free(struct usb_testbed *t)
{
    if (!t)
        return;
    for (int i = 0; i < MAX_DEVICES; i++) {
        unplug_slot(&t->slot[i]);
        g_object_unref(t->slot[i].handler);
    }
    g_object_unref(t->tb);
    g_free(t->root);
    free(t);
}

#else /* built without umockdev: nothing can be emulated */

bool usb_testbed_available(void)
{
    return false;
}

struct usb_testbed *usb_testbed_new(struct mf_err *err)
{
    mf_fail(err, MF_E_FAIL, "USB devices cannot be emulated: built without umockdev.");
    return NULL;
}

void usb_testbed_free(struct usb_testbed *tb) {}
int usb_testbed_plug(struct usb_testbed *tb, const char *port, struct usb_model *m, const char *tty,
                     struct mf_err *err)
{
    return mf_fail(err, MF_E_FAIL, "USB devices cannot be emulated: built without umockdev.");
}
void usb_testbed_unplug(struct usb_testbed *tb, const char *port) {}
const struct usb_model *usb_testbed_model(struct usb_testbed *tb, const char *port)
{
    return NULL;
}
const char *usb_testbed_root(const struct usb_testbed *tb)
{
    return NULL;
}
int usb_testbed_child_env(const struct usb_testbed *tb, struct mf_err *err)
{
    return mf_fail(err, MF_E_FAIL, "USB devices cannot be emulated: built without umockdev.");
}
void usb_testbed_iterate(struct usb_testbed *tb, int timeout_ms) {}

#endif
