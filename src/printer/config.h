/* Klipper's printer.cfg, read as Klipper reads it (klippy/configfile.py):
 * `[section]` headers, `key: value` or `key = value` options (keys are
 * case-insensitive), values continued on indented lines, everything from a
 * '#' to the end of a line and from a ';' after white space dropped, and
 * `[include PATTERN]` read in place: PATTERN is relative to the including
 * file, may be a glob (matches read in sorted order; none is fine), and a
 * plain name that does not exist is an error.  A later section or option
 * of the same name merges into / replaces an earlier one.
 */
#ifndef MF_PRINTER_CONFIG_H
#define MF_PRINTER_CONFIG_H

#include <stddef.h>

#include "util/err.h"

struct pcfg_option {
    char *key;     /* lower case */
    char *value;   /* continuation lines joined with '\n', trimmed */
    char *file;    /* where it was (last) set */
    int line;
};

struct pcfg_section {
    char *name;    /* as written between the brackets, trimmed */
    char *file;    /* where it first appeared */
    int line;
    struct pcfg_option *options;
    size_t noptions;
};

struct pcfg {
    char *path;    /* the top file */
    struct pcfg_section *sections;
    size_t nsections;
    char **files;  /* every file read, includes too, in reading order */
    size_t nfiles;
};

/* Read path and its includes.  On failure err names the file and line
 * (MF_E_INPUT), and *out is NULL. */
int pcfg_load(const char *path, struct pcfg **out, struct mf_err *err);
/* The same from text (name is used in messages and to resolve includes). */
int pcfg_load_text(const char *text, const char *name, struct pcfg **out, struct mf_err *err);
void pcfg_free(struct pcfg *c);

/* A section by its exact name (Klipper's names are case-sensitive), or NULL. */
const struct pcfg_section *pcfg_section(const struct pcfg *c, const char *name);
/* An option's value, or NULL (key compared case-insensitively). */
const char *pcfg_get(const struct pcfg_section *s, const char *key);
const struct pcfg_option *pcfg_option(const struct pcfg_section *s, const char *key);

#endif
