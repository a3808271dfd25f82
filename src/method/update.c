/* The printer-wide update (method/update.h). */
#include "method/update.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "link/canbus.h"
#include "method/connect.h"
#include "method/fwprep.h"
#include "method/mcutarget.h"
#include "printer/moonraker.h"
#include "util/interrupt.h"

const char *mf_update_result_name(enum mf_update_result r)
{
    switch (r) {
    case MF_UPDATE_PLANNED: return "planned";
    case MF_UPDATE_FLASHED: return "flashed";
    case MF_UPDATE_FAILED: return "failed";
    case MF_UPDATE_SKIPPED: return "skipped";
    }
    return "unknown";
}

static void note(const struct mf_update_opts *o, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(const struct mf_update_opts *o, const char *event, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    mf_progress_note(o->progress, event, text);
}

/* A path from mcuflash.cfg: "~/" is the home folder, and a relative path
 * is taken from the folder the file is in (as Klipper takes includes). */
static void settings_path(const char *value, const char *settings_file, char *out, size_t cap)
{
    const char *home = getenv("HOME") ? getenv("HOME") : "";
    const char *slash = strrchr(settings_file, '/');
    if (!strncmp(value, "~/", 2))
        snprintf(out, cap, "%s/%s", home, value + 2);
    else if (value[0] == '/' || !slash)
        snprintf(out, cap, "%s", value);
    else
        snprintf(out, cap, "%.*s/%s", (int)(slash - settings_file), settings_file, value);
}

/* NAME=FILE arguments: the FILE given for name, or NULL.  A NAME that is
 * no MCU of printer.cfg, or an argument without '=', is refused. */
static int pick_arg(const char *opt, const char *const *args, size_t n, const struct printer_mcus *m,
                    const char *name, const char **out, struct mf_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(args[i], '=');
        if (!eq || eq == args[i] || !eq[1])
            return mf_fail(err, MF_E_USAGE, "%s needs NAME=FILE (an MCU of printer.cfg and its image), not '%s'; "
                           "nothing was touched.", opt, args[i]);
        size_t len = (size_t)(eq - args[i]);
        bool known = false;
        for (size_t k = 0; k < m->n; k++)
            known |= strlen(m->mcu[k].name) == len && !strncmp(m->mcu[k].name, args[i], len);
        if (!known) {
            char names[512];
            printer_mcus_names(m, names, sizeof(names));
            return mf_fail(err, MF_E_USAGE, "%s %s: '%.*s' is no MCU of printer.cfg (its MCUs: %s); nothing was "
                           "touched.", opt, args[i], (int)len, args[i], names);
        }
        if (strlen(name) == len && !strncmp(name, args[i], len))
            *out = eq + 1;
    }
    return 0;
}

static bool yes(const char *v)
{
    return v && (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1"));
}

static int load_settings(const struct mf_update_opts *o, struct mf_update *u, struct pcfg **out, struct mf_err *err)
{
    *out = NULL;
    if (o->settings_path)
        snprintf(u->settings, sizeof(u->settings), "%s", o->settings_path);
    else {
        const char *slash = strrchr(u->config, '/');
        snprintf(u->settings, sizeof(u->settings), "%.*s%s", slash ? (int)(slash - u->config + 1) : 0, u->config,
                 MF_UPDATE_SETTINGS_FILE);
        if (access(u->settings, F_OK) < 0) {
            u->settings[0] = '\0';
            return 0;
        }
    }
    if (pcfg_load(u->settings, out, err) < 0)
        return -1;
    const struct pcfg_section *s = pcfg_section(*out, "mcuflash");
    const char *service = s ? pcfg_get(s, "klipper_service") : NULL;
    if (service && *service)
        snprintf(u->service, sizeof(u->service), "%s", service);
    const char *moonraker = s ? pcfg_get(s, "moonraker") : NULL;
    if (moonraker && *moonraker)
        snprintf(u->moonraker, sizeof(u->moonraker), "%s", moonraker);
    return 0;
}

static bool selected(const struct mf_update_opts *o, const char *name)
{
    if (!o->nnames)
        return true;
    for (size_t i = 0; i < o->nnames; i++)
        if (!strcmp(o->names[i], name))
            return true;
    return false;
}

/* The item's image, dict, board, route and bridge setting. */
static int settle_item(const struct mf_update_opts *o, struct mf_update *u, const struct printer_mcus *m,
                       const struct pcfg *settings, struct mf_update_item *it, struct mf_err *err)
{
    const char *image, *dict;
    if (pick_arg("image", o->images, o->nimages, m, it->mcu.name, &image, err) < 0 ||
        pick_arg("klipper.dict", o->dicts, o->ndicts, m, it->mcu.name, &dict, err) < 0)
        return -1;
    char section[80];
    snprintf(section, sizeof(section), "%s%s", strcmp(it->mcu.name, "mcu") ? "mcu " : "", it->mcu.name);
    const struct pcfg_section *s = settings ? pcfg_section(settings, section) : NULL;
    if (image)
        snprintf(it->image, sizeof(it->image), "%s", image);
    else if (s && pcfg_get(s, "firmware") && *pcfg_get(s, "firmware"))
        settings_path(pcfg_get(s, "firmware"), u->settings, it->image, sizeof(it->image));
    if (dict)
        snprintf(it->dict, sizeof(it->dict), "%s", dict);
    else if (s && pcfg_get(s, "dict") && *pcfg_get(s, "dict"))
        settings_path(pcfg_get(s, "dict"), u->settings, it->dict, sizeof(it->dict));
    const char *board = s ? pcfg_get(s, "board") : NULL, *route = s ? pcfg_get(s, "route") : NULL;
    if (board && *board && !(it->board = board_db_find(u->db, board, err)))
        return mf_wrap(err, "%s line %d: ", u->settings, pcfg_option(s, "board")->line);
    if (route)
        snprintf(it->route, sizeof(it->route), "%s", route);
    it->bridge = s && yes(pcfg_get(s, "bridge"));
    return 0;
}

/* How mf_flash_run flashes the item. */
static void item_flash_opts(const struct mf_update_item *it, const struct mf_progress *progress,
                            struct mf_flash_opts *fo)
{
    mf_flash_opts_init(fo);
    fo->target = it->target;
    fo->board = it->board;
    fo->route = it->route[0] ? it->route : NULL;
    fo->firmware_path = it->image;
    fo->firmware_given = true;
    fo->dict_path = it->dict[0] ? it->dict : NULL;
    fo->progress = progress;
}

static int read_image(struct mf_update_item *it, struct mf_err *err)
{
    struct mf_firmware fw;
    if (mf_firmware_read(it->image, NULL, 0, &fw, err) < 0) {
        mf_firmware_free(&fw);
        return mf_wrap(err, "The image for %s cannot be used, so nothing was touched: ", it->mcu.name);
    }
    int rc = 0;
    if (fw.dict.status == FW_DICT_FOUND) {
        snprintf(it->image_mcu, sizeof(it->image_mcu), "%s", fw.dict.mcu ? fw.dict.mcu : "");
        snprintf(it->image_version, sizeof(it->image_version), "%s", fw.dict.version ? fw.dict.version : "");
    } else {
        rc = mf_fail(err, MF_E_INPUT, "The image for %s, %s, does not look like a Klipper build (no Klipper data "
                     "dictionary inside); nothing was touched; give the out/klipper.bin that 'make' built "
                     "('mcuflash fwinfo %s' shows what it holds).", it->mcu.name, it->image, it->image);
    }
    mf_firmware_free(&fw);
    return rc;
}

static void append_name(char *buf, size_t cap, const char *name)
{
    size_t n = strlen(buf);
    if (n && n + 2 < cap)
        memcpy(buf + n, ", ", 3), n += 2;
    size_t len = strlen(name);
    if (n + len >= cap)
        len = cap - n - 1;
    memcpy(buf + n, name, len);
    buf[n + len] = '\0';
}

int mf_update_prepare(const struct mf_update_opts *o, struct mf_update *u, struct mf_err *err)
{
    struct pcfg *cfg = NULL, *settings = NULL;
    struct printer_mcus m = { 0 };
    memset(u, 0, sizeof(*u));
    snprintf(u->service, sizeof(u->service), "klipper");
    snprintf(u->moonraker, sizeof(u->moonraker), "%s", MOONRAKER_DEFAULT_URL);
    int rc = -1;
    if (printer_load(o->config_path, u->config, sizeof(u->config), &cfg, &m, err) < 0 ||
        load_settings(o, u, &settings, err) < 0 ||
        board_db_load(o->board_files, o->nboard_files, &u->db, err) < 0)
        goto out;
    char names[512], missing[512] = "";
    printer_mcus_names(&m, names, sizeof(names));
    for (size_t i = 0; i < o->nnames; i++)
        if (!printer_mcus_find(&m, o->names[i])) {
            mf_fail(err, MF_E_USAGE, "'%s' is no MCU of %s (its MCUs: %s); nothing was touched.", o->names[i],
                    u->config, names);
            goto out;
        }
    u->items = calloc(m.n, sizeof(*u->items));
    if (!u->items) {
        mf_fail(err, MF_E_FAIL, "Out of memory.");
        goto out;
    }
    for (size_t i = 0; i < m.n; i++) {
        if (!selected(o, m.mcu[i].name))
            continue;
        struct mf_update_item *it = &u->items[u->n++];
        it->mcu = m.mcu[i];
        if (settle_item(o, u, &m, settings, it, err) < 0)
            goto out;
        if (!it->image[0])
            append_name(missing, sizeof(missing), it->mcu.name);
    }
    if (missing[0]) {
        mf_fail(err, MF_E_INPUT, "No image for %s: nothing was touched; name it with 'firmware: FILE' in the [mcu "
                "NAME] section of %s.", missing, u->settings[0] ? u->settings : "mcuflash.cfg beside printer.cfg");
        mf_fact(err, MF_FACT_NO_IMAGE);
        goto out;
    }
    for (size_t i = 0; i < u->n; i++)
        if (read_image(&u->items[i], err) < 0)
            goto out;
    for (size_t i = 0; i < u->n; i++)
        mf_target_from_mcu(&u->items[i].mcu, &u->items[i].target);
    /* Each image as its route will check it, before any board or the
     * service is touched. */
    for (size_t i = 0; i < u->n; i++) {
        struct mf_flash_opts fo;
        item_flash_opts(&u->items[i], NULL, &fo);
        if (mf_flash_preflight(&fo, err) < 0) {
            mf_wrap(err, "The image for %s cannot be used, so nothing was touched: ", u->items[i].mcu.name);
            goto out;
        }
    }
    mf_update_order(u);
    rc = 0;
out:
    pcfg_free(cfg);
    pcfg_free(settings);
    printer_mcus_free(&m);
    return rc;
}

/* A bridge waiting in its bootloader has taken its CAN interface with it:
 * it comes first.  Then CAN nodes, the USB to CAN bridges after the nodes
 * behind them, then the boards on serial links; printer.cfg's order within
 * each. */
static bool bridge_down(const struct mf_update_item *it)
{
    return it->bridge && it->identified && it->before.state == MF_BOARD_KATAPULT;
}

static int rank(const struct mf_update_item *it)
{
    return bridge_down(it) ? 0 : !it->target.can_uuid ? 3 : it->bridge ? 2 : 1;
}

/* The bridge a CAN node is reached through: the one on its interface. */
static void find_bridges(struct mf_update *u)
{
    for (size_t i = 0; i < u->n; i++) {
        struct mf_update_item *it = &u->items[i];
        it->behind = NULL;
        for (size_t k = 0; k < u->n && it->target.can_uuid && !it->bridge; k++)
            if (u->items[k].bridge && !strcmp(u->items[k].mcu.canbus_interface, it->mcu.canbus_interface))
                it->behind = u->items[k].mcu.name;
    }
}

static const struct mf_update_item *item_named(const struct mf_update *u, const char *name)
{
    for (size_t i = 0; name && i < u->n; i++)
        if (!strcmp(u->items[i].mcu.name, name))
            return &u->items[i];
    return NULL;
}

void mf_update_order(struct mf_update *u)
{
    for (size_t i = 0; i < u->n; i++)
        mf_target_from_mcu(&u->items[i].mcu, &u->items[i].target);
    /* Insertion sort: stable, and printers have a handful of MCUs. */
    for (size_t i = 1; i < u->n; i++) {
        struct mf_update_item it = u->items[i];
        size_t j = i;
        for (; j > 0 && rank(&u->items[j - 1]) > rank(&it); j--)
            u->items[j] = u->items[j - 1];
        u->items[j] = it;
    }
    for (size_t i = 0; i < u->n; i++)
        mf_target_from_mcu(&u->items[i].mcu, &u->items[i].target);
    find_bridges(u);
}

int mf_update_identify(struct mf_update *u, bool take_can_nodes, struct mf_err *err)
{
    char wrong[2048] = "";
    for (size_t i = 0; i < u->n; i++) {
        struct mf_update_item *it = &u->items[i];
        mf_identify(&it->target, take_can_nodes, &it->before);
        it->identified = true;
        it->bridge |= it->before.bridge;
        if (it->before.mcu[0] && it->image_mcu[0] && strcasecmp(it->before.mcu, it->image_mcu)) {
            char one[sizeof(it->image) + 256];
            snprintf(one, sizeof(one), "%s (the board is %s, %s is for %s)", it->mcu.name, it->before.mcu,
                     it->image, it->image_mcu);
            append_name(wrong, sizeof(wrong), one);
        }
    }
    mf_update_order(u);
    if (wrong[0])
        return mf_fail(err, MF_E_MISMATCH, "Wrong image for %s; nothing was flashed; build each image for its "
                       "board's MCU and give it again.", wrong);
    return 0;
}

/* A CAN node asked what it runs keeps the node id it was given, and a
 * node with an id does not answer the query for unassigned nodes that a
 * flash starts with.  So it is asked, by its UUID, to start Katapult, and
 * the flash goes on from there. */
#define KATAPULT_WAIT_TRIES 10
#define CAN_QUERY_WINDOW_MS 500

static int can_node_to_katapult(const struct mf_target *t, struct mf_err *err)
{
    uint8_t uuid[CANBUS_UUID_LEN];
    struct canbus *bus;
    enum canbus_app app = CANBUS_APP_UNKNOWN;
    if (canbus_uuid_parse(t->can_uuid, uuid) < 0)
        return mf_fail(err, MF_E_USAGE, "'%s' is not a CAN UUID (12 hex digits); nothing was changed.", t->can_uuid);
    if (canbus_open(t->can_iface, &bus, err) < 0)
        return -1;
    int rc = canbus_request_bootloader(bus, uuid, err);
    for (int i = 0; rc == 0 && i < KATAPULT_WAIT_TRIES && app != CANBUS_APP_KATAPULT; i++) {
        /* Asked again now and then: a request lost on the bus would leave
         * Klipper running, and Katapult ignores the request. */
        if (i > 0 && i % 2 == 0)
            rc = canbus_request_bootloader(bus, uuid, err);
        if (rc == 0 && canbus_find_node(bus, uuid, CAN_QUERY_WINDOW_MS, &app, err) < 0)
            app = CANBUS_APP_UNKNOWN;
    }
    canbus_close(bus);
    if (rc == 0 && app != CANBUS_APP_KATAPULT)
        rc = mf_fail(err, MF_E_DEVICE, "CAN node %s on %s was asked to start Katapult but Katapult did not answer; "
                     "nothing was written; check that Katapult is installed on it.", t->can_uuid, t->can_iface);
    return rc;
}

/* A node behind a bridge that failed cannot be reached: it is not tried. */
static bool skip_behind_failed_bridge(const struct mf_update_opts *o, const struct mf_update *u,
                                      struct mf_update_item *it)
{
    const struct mf_update_item *b = item_named(u, it->behind);
    if (!b || b->result != MF_UPDATE_FAILED)
        return false;
    it->result = MF_UPDATE_SKIPPED;
    it->code = b->code ? b->code : MF_E_FAIL;
    snprintf(it->error, sizeof(it->error), "Not tried: it is reached through the USB to CAN bridge %.60s, "
             "which failed, so %.300s is gone; nothing was written to it; flash %.60s first, then run the update "
             "again.",
             b->mcu.name, it->mcu.canbus_interface, b->mcu.name);
    note(o, "skip", "Not updating %s: the USB to CAN bridge %s it is reached through failed.", it->mcu.name,
         b->mcu.name);
    return true;
}

/* Ctrl-C or SIGTERM came: the MCUs not begun are left as they are. */
static bool skip_after_stop(const struct mf_update_opts *o, struct mf_update_item *it)
{
    if (!mf_interrupted())
        return false;
    it->result = MF_UPDATE_SKIPPED;
    it->code = MF_E_INTERRUPTED;
    snprintf(it->error, sizeof(it->error), "Not tried: the update was stopped on request before %.60s; it runs "
             "what it ran before.", it->mcu.name);
    note(o, "skip", "Not updating %s: the update was stopped on request.", it->mcu.name);
    return true;
}

size_t mf_update_flash(const struct mf_update_opts *o, struct mf_update *u)
{
    size_t failed = 0;
    for (size_t i = 0; i < u->n; i++) {
        struct mf_update_item *it = &u->items[i];
        if (skip_after_stop(o, it) || skip_behind_failed_bridge(o, u, it)) {
            failed++;
            continue;
        }
        char where[600];
        mf_target_name(&it->target, where, sizeof(where));
        note(o, "update", "Updating %s (%s) with %s%s%s.", it->mcu.name, where, it->image,
             it->image_version[0] ? ", " : "", it->image_version);
        struct mf_flash_opts fo;
        struct mf_flash_result r;
        struct mf_err err = { 0 };
        item_flash_opts(it, o->progress, &fo);
        fo.command = o->command;
        memset(&r, 0, sizeof(r));
        bool entered = true;
        if (it->target.can_uuid && !it->before.bridge && it->identified && it->before.state == MF_BOARD_KLIPPER) {
            note(o, "enter", "Asking %s, by its UUID, to start Katapult.", it->mcu.name);
            entered = can_node_to_katapult(&it->target, &err) == 0;
            fo.bootloader_entered = entered;
        }
        if (entered && mf_flash_run(&fo, &r, &err) == 0) {
            it->result = MF_UPDATE_FLASHED;
        } else {
            it->result = MF_UPDATE_FAILED;
            snprintf(it->error, sizeof(it->error), "%s", err.msg);
            it->code = err.code ? err.code : MF_E_FAIL;
            failed++;
        }
        snprintf(it->after, sizeof(it->after), "%s", r.running_after);
    }
    return failed;
}

const char *mf_update_route(const struct mf_update_item *it)
{
    struct mf_flash_opts fo;
    item_flash_opts(it, NULL, &fo);
    return mf_flash_route_name(&fo);
}

void mf_update_free(struct mf_update *u)
{
    free(u->items);
    board_db_free(u->db);
    memset(u, 0, sizeof(*u));
}
