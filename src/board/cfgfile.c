#include "board/cfgfile.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cfg_fail(struct mf_err *err, const char *label, int line, const char *fmt, ...)
{
    char what[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return mf_fail(err, MF_E_INPUT, "%s:%d: %s", label, line, what);
}

int cfg_grow(void *arrayp, size_t *cap, size_t n, size_t elem)
{
    void **array = arrayp;
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 8;
    void *p = realloc(*array, ncap * elem);
    if (!p)
        return -1;
    *array = p;
    *cap = ncap;
    return 0;
}

int cfg_out_of_memory(struct mf_err *err)
{
    return mf_fail(err, MF_E_FAIL, "Out of memory while reading board definitions; nothing was "
                   "done; close other programs and try again.");
}

/* Trim whitespace on both ends, in place. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* A '#' at the start or after whitespace begins a comment. */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
}

static bool is_name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

static bool is_valid_name(const char *s, bool (*ok)(char))
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!ok(*s))
            return false;
    return true;
}

static bool is_key_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_';
}

struct parser {
    struct cfg_file *file;
    const char *label;
    int line;
    struct cfg_entry *last;  /* entry an indented line continues */
    struct mf_err *err;
};

static int parse_header(struct parser *p, char *s)
{
    size_t n = strlen(s);
    if (s[n - 1] != ']')
        return cfg_fail(p->err, p->label, p->line, "the section header '%s' lacks its closing ']'; "
                        "nothing was done; write it as [board NAME] or [alias NAME].", s);
    s[n - 1] = '\0';
    char *inner = trim(s + 1);
    char *space = inner + strcspn(inner, " \t");
    char *name = trim(space);
    if (*space)
        *space = '\0';
    if (!*inner || !*name || strpbrk(name, " \t"))
        return cfg_fail(p->err, p->label, p->line, "the section header [%s%s%s] needs a kind and "
                        "one name; nothing was done; write it as [board NAME] or [alias NAME].",
                        inner, *name ? " " : "", name);
    if (!is_valid_name(name, is_name_char))
        return cfg_fail(p->err, p->label, p->line, "the name '%s' may only hold letters, digits, "
                        "'-', '_' and '.'; nothing was done; rename the section.", name);
    if (cfg_grow(&p->file->sections, &p->file->cap, p->file->n, sizeof(struct cfg_section)))
        return cfg_out_of_memory(p->err);
    struct cfg_section *sec = &p->file->sections[p->file->n];
    memset(sec, 0, sizeof(*sec));
    sec->line = p->line;
    sec->kind = strdup(inner);
    sec->name = strdup(name);
    p->file->n++;
    p->last = NULL;
    if (!sec->kind || !sec->name)
        return cfg_out_of_memory(p->err);
    return 0;
}

static int parse_key(struct parser *p, char *s)
{
    if (!p->file->n)
        return cfg_fail(p->err, p->label, p->line, "'%s' comes before any section; nothing was "
                        "done; put it under a [board NAME] or [alias NAME] header.", s);
    size_t k = strcspn(s, ":=");
    if (!s[k])
        return cfg_fail(p->err, p->label, p->line, "'%s' is not a 'key: value' line; nothing "
                        "was done; add the ':' or remove the line.", s);
    s[k] = '\0';
    char *key = trim(s), *value = trim(s + k + 1);
    if (!is_valid_name(key, is_key_char))
        return cfg_fail(p->err, p->label, p->line, "'%s' is not a key (keys are lower-case words "
                        "like cs_pin); nothing was done; fix the line.", key);
    struct cfg_section *sec = &p->file->sections[p->file->n - 1];
    if (cfg_grow(&sec->entries, &sec->cap, sec->n, sizeof(struct cfg_entry)))
        return cfg_out_of_memory(p->err);
    struct cfg_entry *e = &sec->entries[sec->n++];
    e->line = p->line;
    e->key = strdup(key);
    e->value = strdup(value);
    p->last = e;
    if (!e->key || !e->value)
        return cfg_out_of_memory(p->err);
    return 0;
}

/* An indented line adds to the value above it, joined by a space. */
static int parse_continuation(struct parser *p, char *s)
{
    if (!p->last)
        return cfg_fail(p->err, p->label, p->line, "the indented line '%s' does not continue a "
                        "value; nothing was done; remove the indentation.", s);
    size_t old = strlen(p->last->value);
    char *v = realloc(p->last->value, old + strlen(s) + 2);
    if (!v)
        return cfg_out_of_memory(p->err);
    if (old)
        v[old++] = ' ';
    strcpy(v + old, s);
    p->last->value = v;
    return 0;
}

static int parse_line(struct parser *p, char *raw)
{
    bool indented = isspace((unsigned char)raw[0]);
    cut_comment(raw);
    char *s = trim(raw);
    if (!*s || *s == ';')  /* blank, or a comment in the older ';' style */
        return 0;
    if (indented && *s != '[')
        return parse_continuation(p, s);
    if (*s == '[')
        return parse_header(p, s);
    return parse_key(p, s);
}

int cfg_parse(const char *text, const char *label, struct cfg_file *out, struct mf_err *err)
{
    memset(out, 0, sizeof(*out));
    struct parser p = { .file = out, .label = label, .err = err };
    const char *at = text;
    int rc = 0;
    while (!rc && *at) {
        size_t len = strcspn(at, "\n");
        char *line = strndup(at, len);
        if (!line)
            rc = cfg_out_of_memory(err);
        else {
            p.line++;
            rc = parse_line(&p, line);
            free(line);
        }
        at += len + (at[len] == '\n');
    }
    if (rc)
        cfg_free(out);
    return rc;
}

void cfg_free(struct cfg_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        struct cfg_section *sec = &f->sections[i];
        for (size_t j = 0; j < sec->n; j++) {
            free(sec->entries[j].key);
            free(sec->entries[j].value);
        }
        free(sec->entries);
        free(sec->kind);
        free(sec->name);
    }
    free(f->sections);
    memset(f, 0, sizeof(*f));
}
