/* Suggesting the names closest to a misspelt one.
 *
 * Closeness is the edit distance from the typed name to the best-matching
 * part of a known name, so "skr-1.3" is one edit from "btt-skr-v1.3" and a
 * typed part of a name ("octopus") is no edit at all.  Ties go to the name
 * that is closer as a whole.  Names are compared without case; if nothing is
 * close, they are compared again on letters and digits alone ("skr14").
 */
#include "board/board.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME 128

struct candidate {
    const char *name;
    size_t part, whole;  /* distance to the best part, and to the whole name */
};

/* Lower-case copy, optionally of letters and digits only; truncated at MAX_NAME - 1. */
static size_t fold(const char *s, bool alnum_only, char out[MAX_NAME])
{
    size_t n = 0;
    for (; *s && n < MAX_NAME - 1; s++)
        if (!alnum_only || isalnum((unsigned char)*s))
            out[n++] = (char)tolower((unsigned char)*s);
    out[n] = '\0';
    return n;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

/* Levenshtein distance from q to t.  With free_ends, skipping characters at
 * either end of t costs nothing, giving the distance to t's closest part. */
static size_t distance(const char *q, size_t m, const char *t, size_t n, bool free_ends)
{
    size_t prev[MAX_NAME], cur[MAX_NAME];
    for (size_t j = 0; j <= n; j++)
        prev[j] = free_ends ? 0 : j;
    for (size_t i = 1; i <= m; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= n; j++)
            cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (q[i - 1] != t[j - 1]));
        memcpy(prev, cur, (n + 1) * sizeof(size_t));
    }
    if (!free_ends)
        return prev[n];
    size_t best = prev[0];
    for (size_t j = 1; j <= n; j++)
        if (prev[j] < best)
            best = prev[j];
    return best;
}

static int by_closeness(const void *pa, const void *pb)
{
    const struct candidate *a = pa, *b = pb;
    if (a->part != b->part)
        return a->part < b->part ? -1 : 1;
    if (a->whole != b->whole)
        return a->whole < b->whole ? -1 : 1;
    return strcmp(a->name, b->name);
}

static const char *name_at(const struct board_db *db, size_t i)
{
    size_t nb = board_db_count(db);
    return i < nb ? board_db_board(db, i)->name : board_db_alias(db, i - nb)->name;
}

/* Candidates within reach of the typed name, sorted best first. */
static size_t collect(const struct board_db *db, const char *typed, bool alnum_only,
                      struct candidate *out)
{
    char q[MAX_NAME], t[MAX_NAME];
    size_t m = fold(typed, alnum_only, q), found = 0;
    size_t reach = (m + 1) / 4;  /* one edit in four; short names must match exactly */
    if (!m)
        return 0;
    size_t total = board_db_count(db) + board_db_alias_count(db);
    for (size_t i = 0; i < total; i++) {
        const char *name = name_at(db, i);
        size_t n = fold(name, alnum_only, t);
        size_t part = distance(q, m, t, n, true);
        if (part <= reach)
            out[found++] = (struct candidate){ name, part, distance(q, m, t, n, false) };
    }
    qsort(out, found, sizeof(*out), by_closeness);
    return found;
}

size_t board_db_suggest(const struct board_db *db, const char *name, const char **out,
                        size_t max)
{
    size_t total = board_db_count(db) + board_db_alias_count(db);
    struct candidate *c = malloc((total + 1) * sizeof(*c));
    if (!c)
        return 0;
    size_t found = collect(db, name, false, c);
    if (!found)
        found = collect(db, name, true, c);
    size_t n = 0;
    for (; n < found && n < max && c[n].part <= c[0].part + 1; n++)
        out[n] = c[n].name;
    free(c);
    return n;
}
