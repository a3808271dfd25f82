/* The board database: definitions merged from the built-in table and files,
 * later ones replacing earlier ones of the same name. */
#include "board/board.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "board/cfgfile.h"
#include "board/defs.h"

extern const char mf_builtin_boards_cfg[];

#define BUILTIN_LABEL "built-in boards.cfg"
#define MAX_FILE_SIZE (1024 * 1024)

struct board_db {
    struct board **boards;
    size_t nboards, board_cap;
    struct board_alias **aliases;
    size_t naliases, alias_cap;
};

struct board_db *board_db_new(void)
{
    return calloc(1, sizeof(struct board_db));
}

void board_db_free(struct board_db *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->nboards; i++)
        board_free(db->boards[i]);
    for (size_t i = 0; i < db->naliases; i++)
        board_alias_free(db->aliases[i]);
    free(db->boards);
    free(db->aliases);
    free(db);
}

static ssize_t board_index(const struct board_db *db, const char *name)
{
    for (size_t i = 0; i < db->nboards; i++)
        if (!strcasecmp(db->boards[i]->name, name))
            return (ssize_t)i;
    return -1;
}

static ssize_t alias_index(const struct board_db *db, const char *name)
{
    for (size_t i = 0; i < db->naliases; i++)
        if (!strcasecmp(db->aliases[i]->name, name))
            return (ssize_t)i;
    return -1;
}

/* A new definition replaces whatever the name meant before, board or alias. */
static void forget_name(struct board_db *db, const char *name)
{
    ssize_t i = board_index(db, name);
    if (i >= 0) {
        board_free(db->boards[i]);
        db->boards[i] = db->boards[--db->nboards];
    }
    i = alias_index(db, name);
    if (i >= 0) {
        board_alias_free(db->aliases[i]);
        db->aliases[i] = db->aliases[--db->naliases];
    }
}

static int add_board(struct board_db *db, struct board *b, struct mf_err *err)
{
    forget_name(db, b->name);
    if (cfg_grow(&db->boards, &db->board_cap, db->nboards, sizeof(*db->boards))) {
        board_free(b);
        return cfg_out_of_memory(err);
    }
    db->boards[db->nboards++] = b;
    return 0;
}

static int add_alias(struct board_db *db, struct board_alias *a, struct mf_err *err)
{
    forget_name(db, a->name);
    if (cfg_grow(&db->aliases, &db->alias_cap, db->naliases, sizeof(*db->aliases))) {
        board_alias_free(a);
        return cfg_out_of_memory(err);
    }
    db->aliases[db->naliases++] = a;
    return 0;
}

/* One file may define a name only once, as a board or as an alias. */
static int check_unique(const struct cfg_file *f, size_t i, const char *label, struct mf_err *err)
{
    const struct cfg_section *sec = &f->sections[i];
    for (size_t j = 0; j < i; j++)
        if (!strcasecmp(f->sections[j].name, sec->name))
            return cfg_fail(err, label, sec->line, "'%s' is defined a second time in this file "
                            "(first at line %d); nothing was done; remove or rename one of them.",
                            sec->name, f->sections[j].line);
    return 0;
}

static int add_section(struct board_db *db, const struct cfg_section *sec, const char *file,
                       const char *label, struct mf_err *err)
{
    if (!strcasecmp(sec->kind, "board")) {
        struct board *b;
        if (board_from_section(sec, file, label, &b, err))
            return -1;
        return add_board(db, b, err);
    }
    if (!strcasecmp(sec->kind, "alias")) {
        struct board_alias *a;
        if (alias_from_section(sec, file, label, &a, err))
            return -1;
        return add_alias(db, a, err);
    }
    return cfg_fail(err, label, sec->line, "unknown section kind '%s'; nothing was done; use "
                    "[board NAME] or [alias NAME].", sec->kind);
}

int board_db_add_text(struct board_db *db, const char *text, const char *file,
                      struct mf_err *err)
{
    const char *label = file ? file : BUILTIN_LABEL;
    struct cfg_file f;
    if (cfg_parse(text, label, &f, err))
        return -1;
    int rc = 0;
    for (size_t i = 0; !rc && i < f.n; i++)
        rc = check_unique(&f, i, label, err);
    for (size_t i = 0; !rc && i < f.n; i++)
        rc = add_section(db, &f.sections[i], file, label, err);
    cfg_free(&f);
    return rc;
}

static int read_text(FILE *fp, const char *path, char **out, struct mf_err *err)
{
    char *buf = malloc(MAX_FILE_SIZE + 1);
    if (!buf)
        return cfg_out_of_memory(err);
    size_t n = fread(buf, 1, MAX_FILE_SIZE + 1, fp);
    if (ferror(fp) || n > MAX_FILE_SIZE) {
        free(buf);
        if (n > MAX_FILE_SIZE)
            return mf_fail(err, MF_E_INPUT, "The board file %s is larger than 1 MiB, so it is "
                           "not a board file; nothing was done; check the path.", path);
        return mf_fail(err, MF_E_INPUT, "Cannot read the board file %s: %s; nothing was done; "
                       "check the file.", path, strerror(errno));
    }
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        free(buf);
        return mf_fail(err, MF_E_INPUT, "The board file %s holds binary data, so it is not a "
                       "board file; nothing was done; check the path.", path);
    }
    *out = buf;
    return 0;
}

int board_db_add_file(struct board_db *db, const char *path, bool must_exist,
                      struct mf_err *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT && !must_exist)
            return 0;
        if (errno == ENOENT)
            return mf_fail(err, MF_E_INPUT, "The board file %s does not exist; nothing was "
                           "done; check the path.", path);
        return mf_fail(err, MF_E_INPUT, "Cannot open the board file %s: %s; nothing was done; "
                       "check its permissions.", path, strerror(errno));
    }
    char *text = NULL;
    int rc = read_text(fp, path, &text, err);
    fclose(fp);
    if (!rc)
        rc = board_db_add_text(db, text, path, err);
    free(text);
    return rc;
}

static int by_board_name(const void *a, const void *b)
{
    return strcasecmp((*(struct board *const *)a)->name, (*(struct board *const *)b)->name);
}

static int by_alias_name(const void *a, const void *b)
{
    return strcasecmp((*(struct board_alias *const *)a)->name,
                      (*(struct board_alias *const *)b)->name);
}

static int alias_target_fail(const struct board_db *db, const struct board_alias *a,
                             struct mf_err *err)
{
    const char *label = a->origin.file ? a->origin.file : BUILTIN_LABEL;
    ssize_t via = alias_index(db, a->board);
    if (via >= 0)
        return cfg_fail(err, label, a->origin.line, "[alias %s] points to '%s', which is itself "
                        "an alias; nothing was done; point it at the board '%s' instead.",
                        a->name, a->board, db->aliases[via]->board);
    return cfg_fail(err, label, a->origin.line, "[alias %s] points to board '%s', which is not "
                    "defined; nothing was done; define that board or fix the name (run "
                    "'mcuflash boards' for the list).", a->name, a->board);
}

/* Point every alias at its board, and give every board the list of its aliases. */
static int resolve_aliases(struct board_db *db, struct mf_err *err)
{
    for (size_t i = 0; i < db->nboards; i++) {
        free(db->boards[i]->aliases);
        db->boards[i]->aliases = NULL;
        db->boards[i]->naliases = 0;
    }
    for (size_t i = 0; i < db->naliases; i++) {
        const struct board_alias *a = db->aliases[i];
        ssize_t t = board_index(db, a->board);
        if (t < 0)
            return alias_target_fail(db, a, err);
        struct board *b = db->boards[t];
        const char **list = realloc(b->aliases, (b->naliases + 1) * sizeof(*list));
        if (!list)
            return cfg_out_of_memory(err);
        list[b->naliases++] = a->name;
        b->aliases = list;
    }
    return 0;
}

int board_db_finish(struct board_db *db, struct mf_err *err)
{
    if (db->nboards)
        qsort(db->boards, db->nboards, sizeof(*db->boards), by_board_name);
    if (db->naliases)
        qsort(db->aliases, db->naliases, sizeof(*db->aliases), by_alias_name);
    return resolve_aliases(db, err);
}

int board_db_user_file(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, cap, "%s/mcuflash/boards.cfg", xdg);
    else if (home && *home)
        n = snprintf(buf, cap, "%s/.config/mcuflash/boards.cfg", home);
    else
        return -1;
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int load_all(struct board_db *db, const char *const *extra_files, size_t n,
                    struct mf_err *err)
{
    char user[4096];
    if (board_db_add_text(db, mf_builtin_boards_cfg, NULL, err)
        || board_db_add_file(db, BOARD_DB_SYSTEM_FILE, false, err))
        return -1;
    if (!board_db_user_file(user, sizeof(user)) && board_db_add_file(db, user, false, err))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (board_db_add_file(db, extra_files[i], true, err))
            return -1;
    return board_db_finish(db, err);
}

int board_db_load(const char *const *extra_files, size_t n, struct board_db **out,
                  struct mf_err *err)
{
    *out = NULL;
    struct board_db *db = board_db_new();
    if (!db)
        return cfg_out_of_memory(err);
    if (load_all(db, extra_files, n, err)) {
        board_db_free(db);
        return -1;
    }
    *out = db;
    return 0;
}

const struct board_alias *board_db_find_alias(const struct board_db *db, const char *name)
{
    ssize_t i = alias_index(db, name);
    return i < 0 ? NULL : db->aliases[i];
}

static int unknown_name(const struct board_db *db, const char *name, struct mf_err *err)
{
    const char *near[3];
    size_t n = board_db_suggest(db, name, near, 3);
    if (!n)
        return mf_fail(err, MF_E_USAGE, "No board named '%s'; nothing was done; run 'mcuflash "
                       "boards' for the list.", name);
    char list[256] = "";
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%s", sep, near[i]);
    }
    return mf_fail(err, MF_E_USAGE, "No board named '%s'; nothing was done; did you mean %s? "
                   "Run 'mcuflash boards' for the list.", name, list);
}

const struct board *board_db_find(const struct board_db *db, const char *name,
                                  struct mf_err *err)
{
    ssize_t i = board_index(db, name);
    if (i >= 0)
        return db->boards[i];
    const struct board_alias *a = board_db_find_alias(db, name);
    if (a && (i = board_index(db, a->board)) >= 0)
        return db->boards[i];
    unknown_name(db, name, err);
    return NULL;
}

size_t board_db_count(const struct board_db *db)
{
    return db->nboards;
}

const struct board *board_db_board(const struct board_db *db, size_t i)
{
    return i < db->nboards ? db->boards[i] : NULL;
}

size_t board_db_alias_count(const struct board_db *db)
{
    return db->naliases;
}

const struct board_alias *board_db_alias(const struct board_db *db, size_t i)
{
    return i < db->naliases ? db->aliases[i] : NULL;
}
