/* The text format of board files, without meaning: `[kind name]` sections
 * holding `key: value` lines, `#` comments, and indented continuation lines.
 * Internal to the board layer. */
#ifndef MF_BOARD_CFGFILE_H
#define MF_BOARD_CFGFILE_H

#include <stddef.h>

#include "util/err.h"

struct cfg_entry {
    char *key;
    char *value;
    int line;
};

struct cfg_section {
    char *kind;   /* "board", "alias", ... as written */
    char *name;
    int line;
    struct cfg_entry *entries;
    size_t n, cap;
};

struct cfg_file {
    struct cfg_section *sections;
    size_t n, cap;
};

/* Split text into sections.  label names the text in errors ("FILE" or the
 * built-in table).  On failure out is left empty. */
int cfg_parse(const char *text, const char *label, struct cfg_file *out, struct mf_err *err);
void cfg_free(struct cfg_file *f);

/* Fail with "LABEL:LINE: <message>" (MF_E_INPUT). */
int cfg_fail(struct mf_err *err, const char *label, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Fail for lack of memory (MF_E_FAIL). */
int cfg_out_of_memory(struct mf_err *err);

/* Make room for one more element in a growing array: 0, or -1 when memory runs out. */
int cfg_grow(void *arrayp, size_t *cap, size_t n, size_t elem);

#endif
