#include "board/search.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

size_t board_db_by_mcu(const struct board_db *db, const char *mcu, const struct board **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < board_db_count(db); i++) {
        const struct board *b = board_db_board(db, i);
        if (b->mcu && !strcasecmp(b->mcu, mcu)) {
            if (n < cap)
                out[n] = b;
            n++;
        }
    }
    return n;
}

#define SEPARATORS "-_. "

/* Lower case, without the separators people write differently; edge[i]
 * (when asked) marks where a word of the name starts or ends in out. */
static void squash(const char *in, char *out, size_t cap, bool *edge)
{
    size_t n = 0;
    if (edge)
        memset(edge, 0, cap);
    for (bool word = false; *in && n + 1 < cap; in++) {
        bool sep = strchr(SEPARATORS, *in) != NULL;
        if (edge && sep != !word)
            edge[n] = true;
        word = !sep;
        if (!sep)
            out[n++] = (char)tolower((unsigned char)*in);
    }
    if (edge)
        edge[n] = true;
    out[n] = '\0';
}

/* The family name is whole words of the name, one after another: "skr2",
 * "skr-2" and "octopus" fit btt-skr-2-f407 or btt-octopus-f446-v1, a
 * letter or a piece of a word ("z", "oct") fits nothing. */
static bool fits_words(const char *name, const char *family)
{
    char s[128];
    bool edge[128];
    squash(name, s, sizeof(s), edge);
    size_t len = strlen(family);
    for (const char *at = strstr(s, family); at; at = strstr(at + 1, family))
        if (edge[at - s] && edge[at - s + len])
            return true;
    return false;
}

static bool in_family(const struct board *b, const char *family)
{
    if (fits_words(b->name, family))
        return true;
    for (size_t i = 0; i < b->naliases; i++)
        if (fits_words(b->aliases[i], family))
            return true;
    return false;
}

static void list_names(const struct board *const *b, size_t n, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s (%s)", i ? ", " : "", b[i]->name,
                                b[i]->mcu ? b[i]->mcu : "MCU not stated");
}

size_t board_db_family(const struct board_db *db, const char *name, const char *mcu, const struct board **out,
                       size_t cap)
{
    char family[128];
    size_t n = 0;
    squash(name, family, sizeof(family), NULL);
    for (size_t i = 0; family[0] && i < board_db_count(db); i++) {
        const struct board *b = board_db_board(db, i);
        if (!in_family(b, family) || (mcu && (!b->mcu || strcasecmp(b->mcu, mcu))))
            continue;
        if (n < cap)
            out[n] = b;
        n++;
    }
    return n;
}

#define MAX_FAMILY 32

const struct board *board_db_find_for_mcu(const struct board_db *db, const char *name, const char *mcu,
                                          struct mf_err *err)
{
    struct mf_err ignore;
    const struct board *exact = board_db_find(db, name, &ignore);
    if (exact)
        return exact;
    char names[1024];
    const struct board *all[MAX_FAMILY], *fit[MAX_FAMILY];
    size_t nall = board_db_family(db, name, NULL, all, MAX_FAMILY);
    size_t nfit = mcu ? board_db_family(db, name, mcu, fit, MAX_FAMILY) : nall;
    if (!mcu)
        memcpy(fit, all, sizeof(all));
    if (nall > MAX_FAMILY)
        nall = MAX_FAMILY;
    if (nfit > MAX_FAMILY)
        nfit = MAX_FAMILY;
    if (nfit == 1)
        return fit[0];
    if (!nall) {
        board_db_find(db, name, err); /* its message suggests close names */
        return NULL;
    }
    if (nfit > 1) {
        list_names(fit, nfit, names, sizeof(names));
        mf_fail(err, MF_E_USAGE, "'%s' fits several board definitions%s%s: %s; nothing was done; give one of those "
                "names.", name, mcu ? " for " : "", mcu ? mcu : "", names);
    } else {
        list_names(all, nall, names, sizeof(names));
        mf_fail(err, MF_E_MISMATCH, "No board definition called like '%s' has the MCU the board reports (%s); the "
                "definitions of that name are %s; nothing was done; check the board, or add a definition for it "
                "('mcuflash help boards').", name, mcu, names);
    }
    return NULL;
}
