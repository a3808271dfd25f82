/* The command line that flashes a target again, or verifies it later, in
 * the user's own terms: the advice of a flash quotes it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "method/connect.h"

static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    *n += (size_t)vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
}

/* A definition from a file named on the command line is found again only
 * with that file; the system's and the user's are always read. */
static bool from_given_file(const struct board *b)
{
    char user[4096];
    if (!b || !b->origin.file || !strcmp(b->origin.file, BOARD_DB_SYSTEM_FILE))
        return false;
    return board_db_user_file(user, sizeof(user)) < 0 || strcmp(b->origin.file, user) != 0;
}

void cli_flash_command(const struct mf_flash_opts *o, const char *route, bool check, char *buf, size_t cap)
{
    /* `mcuflash sdcard` repeats itself while the route is the card's. */
    bool sdcard = !strcmp(o->front_end, "sdcard") && (!route || !strcmp(route, "sdcard")) && o->board &&
                  o->target.device;
    size_t n = 0;
    buf[0] = '\0';
    append(buf, cap, &n, "mcuflash %s%s", sdcard ? "sdcard" : "flash", check ? " -c" : "");
    if (from_given_file(o->board))
        append(buf, cap, &n, " --board-file %s", o->board->origin.file);
    if (!sdcard && route)
        append(buf, cap, &n, " --route %s", route);
    if (!sdcard && o->board)
        append(buf, cap, &n, " --board %s", o->board->name);
    if (o->target.device && o->target.baud != MF_DEFAULT_BAUD)
        append(buf, cap, &n, " -b %u", (unsigned)o->target.baud);
    if (o->firmware_given)
        append(buf, cap, &n, " -f %s", o->firmware_path);
    if (o->dict_path)
        append(buf, cap, &n, " -d %s", o->dict_path);
    if (o->target.can_uuid) {
        append(buf, cap, &n, " --canbus-uuid %s", o->target.can_uuid);
        if (strcmp(o->target.can_iface, "can0"))
            append(buf, cap, &n, " --canbus-interface %s", o->target.can_iface);
    } else {
        append(buf, cap, &n, " %s", o->target.device);
    }
    if (sdcard)
        append(buf, cap, &n, " %s", o->board->name);
}
