#include "printer/config.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* Includes nested deeper than this are a loop Klipper would also refuse. */
#define MAX_DEPTH 32
/* printer.cfg files are small; a huge one is not a printer.cfg. */
#define MAX_FILE (16u << 20)

struct reader {
    struct pcfg *c;
    struct pcfg_section *cur;   /* the section options go to */
    struct pcfg_option *last;   /* the option a continuation line extends */
    int last_indent;
    const char *visited[MAX_DEPTH];
    int depth;
    struct mf_err *err;
};

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static void trim(const char **s, size_t *n)
{
    while (*n && isspace((unsigned char)**s))
        (*s)++, (*n)--;
    while (*n && isspace((unsigned char)(*s)[*n - 1]))
        (*n)--;
}

static int oom(struct reader *r)
{
    return mf_fail(r->err, MF_E_FAIL, "Out of memory.");
}

static const char *intern_file(struct reader *r, const char *file)
{
    for (size_t i = 0; i < r->c->nfiles; i++)
        if (!strcmp(r->c->files[i], file))
            return r->c->files[i];
    char **nf = realloc(r->c->files, (r->c->nfiles + 1) * sizeof(*nf));
    if (!nf)
        return NULL;
    r->c->files = nf;
    if (!(nf[r->c->nfiles] = strdup(file)))
        return NULL;
    return nf[r->c->nfiles++];
}

static struct pcfg_section *find_section(struct pcfg *c, const char *name, size_t n)
{
    for (size_t i = 0; i < c->nsections; i++)
        if (strlen(c->sections[i].name) == n && !memcmp(c->sections[i].name, name, n))
            return &c->sections[i];
    return NULL;
}

static int open_section(struct reader *r, const char *name, size_t n, const char *file, int line)
{
    struct pcfg_section *s = find_section(r->c, name, n);
    if (!s) {
        struct pcfg_section *ns = realloc(r->c->sections, (r->c->nsections + 1) * sizeof(*ns));
        if (!ns)
            return oom(r);
        r->c->sections = ns;
        s = &ns[r->c->nsections];
        memset(s, 0, sizeof(*s));
        if (!(s->name = dup_range(name, n)) || !(s->file = strdup(file)))
            return oom(r);
        s->line = line;
        r->c->nsections++;
    }
    r->cur = s;
    r->last = NULL;
    return 0;
}

static int set_option(struct reader *r, const char *key, size_t kn, const char *val, size_t vn, const char *file,
                      int line, int indent)
{
    struct pcfg_section *s = r->cur;
    struct pcfg_option *o = NULL;
    for (size_t i = 0; i < s->noptions; i++)
        if (strlen(s->options[i].key) == kn && !strncasecmp(s->options[i].key, key, kn))
            o = &s->options[i];
    if (!o) {
        struct pcfg_option *no = realloc(s->options, (s->noptions + 1) * sizeof(*no));
        if (!no)
            return oom(r);
        s->options = no;
        o = &no[s->noptions++];
        memset(o, 0, sizeof(*o));
        if (!(o->key = dup_range(key, kn)))
            return oom(r);
        for (char *p = o->key; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    }
    free(o->value);
    free(o->file);
    o->value = dup_range(val, vn);
    o->file = strdup(file);
    if (!o->value || !o->file)
        return oom(r);
    o->line = line;
    r->last = o;
    r->last_indent = indent;
    return 0;
}

static int append_value(struct reader *r, const char *val, size_t vn)
{
    struct pcfg_option *o = r->last;
    size_t old = strlen(o->value);
    char *nv = realloc(o->value, old + 1 + vn + 1);
    if (!nv)
        return oom(r);
    if (old || vn) {
        nv[old] = '\n';
        memcpy(nv + old + 1, val, vn);
        nv[old + 1 + vn] = 0;
        /* A value never starts with the newline of an empty first line. */
        if (!old)
            memmove(nv, nv + 1, vn + 1);
    }
    o->value = nv;
    return 0;
}

/* configparser drops text from ';' when white space (or nothing) is
 * before it; Klipper dropped everything from '#' already. */
static size_t strip_comments(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '#')
            return i;
        if (s[i] == ';' && (i == 0 || isspace((unsigned char)s[i - 1])))
            return i;
    }
    return n;
}

static int read_text(struct reader *r, const char *text, size_t len, const char *file);

static bool has_glob_magic(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* fopen for reading a file of text: a folder opens too, and then reads as
 * an empty file; refused here with errno EISDIR. */
static FILE *open_text(const char *path)
{
    FILE *f = fopen(path, "r");
    struct stat st;
    if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        errno = EISDIR;
        return NULL;
    }
    return f;
}

static int include(struct reader *r, const char *spec, size_t sn, const char *file, int line)
{
    char pattern[PATH_MAX];
    const char *slash = strrchr(file, '/');
    int dirlen = slash ? (int)(slash - file) : 0;
    if (sn && spec[0] == '/')
        snprintf(pattern, sizeof(pattern), "%.*s", (int)sn, spec);
    else if (slash)
        snprintf(pattern, sizeof(pattern), "%.*s/%.*s", dirlen, file, (int)sn, spec);
    else
        snprintf(pattern, sizeof(pattern), "%.*s", (int)sn, spec);
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        if (has_glob_magic(pattern))
            return 0; /* a pattern may match nothing */
        return mf_fail(r->err, MF_E_INPUT, "%s line %d includes %s, which does not exist; nothing was done; fix the "
                       "[include] line.", file, line, pattern);
    }
    if (grc != 0) {
        globfree(&g);
        return mf_fail(r->err, MF_E_INPUT, "%s line %d: the include pattern %s could not be read.", file, line,
                       pattern);
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
        const char *inc = g.gl_pathv[i];
        FILE *f = open_text(inc);
        if (!f) {
            rc = mf_fail(r->err, MF_E_INPUT, "%s line %d includes %s, which cannot be read (%s).", file, line, inc,
                         strerror(errno));
            break;
        }
        char *buf = malloc(MAX_FILE);
        size_t n = buf ? fread(buf, 1, MAX_FILE, f) : 0;
        fclose(f);
        if (!buf) {
            rc = oom(r);
            break;
        }
        const char *name = intern_file(r, inc);
        rc = name ? read_text(r, buf, n, name) : oom(r);
        free(buf);
    }
    globfree(&g);
    return rc;
}

static int read_text(struct reader *r, const char *text, size_t len, const char *file)
{
    char canon[PATH_MAX];
    const char *key = realpath(file, canon) ? canon : file;
    for (int i = 0; i < r->depth; i++)
        if (!strcmp(r->visited[i], key))
            return mf_fail(r->err, MF_E_INPUT, "%s includes itself (through [include] sections); nothing was done; "
                           "remove the loop.", file);
    if (r->depth == MAX_DEPTH)
        return mf_fail(r->err, MF_E_INPUT, "%s: includes nest more than %d deep; nothing was done.", file, MAX_DEPTH);
    char *held = strdup(key);
    if (!held)
        return oom(r);
    r->visited[r->depth++] = held;
    int rc = 0, line = 0;
    /* Options continue across includes only within one file. */
    r->last = NULL;
    for (const char *p = text, *end = text + len; rc == 0 && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *s = p;
        p += n + 1;
        line++;
        if (n && s[n - 1] == '\r')
            n--;
        n = strip_comments(s, n);
        size_t indent = 0;
        while (indent < n && (s[indent] == ' ' || s[indent] == '\t'))
            indent++;
        const char *v = s;
        size_t vn = n;
        trim(&v, &vn);
        if (!vn) {
            if (r->last)
                rc = append_value(r, "", 0);
            continue;
        }
        if (r->last && (int)indent > r->last_indent) {
            rc = append_value(r, v, vn);
            continue;
        }
        if (v[0] == '[' && memchr(v, ']', vn)) {
            const char *close = v + vn - 1;
            while (*close != ']')
                close--;
            const char *h = v + 1;
            size_t hn = (size_t)(close - h);
            trim(&h, &hn);
            if (!hn) {
                rc = mf_fail(r->err, MF_E_INPUT, "%s line %d: an empty section header []; nothing was done; fix "
                             "that line.", file, line);
                break;
            }
            /* Klipper reads an include only where '[' starts the line. */
            if (indent == 0 && hn > 8 && !strncmp(h, "include ", 8)) {
                const char *spec = h + 8;
                size_t sn = hn - 8;
                trim(&spec, &sn);
                rc = include(r, spec, sn, file, line);
                r->cur = NULL;
                r->last = NULL;
            } else {
                rc = open_section(r, h, hn, file, line);
            }
            continue;
        }
        const char *delim = NULL;
        for (size_t i = 0; i < vn && !delim; i++)
            if (v[i] == ':' || v[i] == '=')
                delim = v + i;
        if (!delim || delim == v) {
            rc = mf_fail(r->err, MF_E_INPUT, "%s line %d: '%.*s' is neither a [section] nor a 'name: value' line; "
                         "nothing was done; fix that line (Klipper would refuse it too).", file, line,
                         (int)(vn > 60 ? 60 : vn), v);
            break;
        }
        if (!r->cur) {
            rc = mf_fail(r->err, MF_E_INPUT, "%s line %d: an option before any [section]; nothing was done; fix that "
                         "line.", file, line);
            break;
        }
        const char *k = v, *val = delim + 1;
        size_t kn = (size_t)(delim - v), valn = vn - kn - 1;
        trim(&k, &kn);
        trim(&val, &valn);
        rc = set_option(r, k, kn, val, valn, file, line, (int)indent);
    }
    free(held);
    r->depth--;
    return rc;
}

/* configparser trims the empty lines a value ended with. */
static void tidy_values(struct pcfg *c)
{
    for (size_t i = 0; i < c->nsections; i++)
        for (size_t k = 0; k < c->sections[i].noptions; k++) {
            char *v = c->sections[i].options[k].value;
            size_t n = strlen(v);
            while (n && v[n - 1] == '\n')
                v[--n] = 0;
        }
}

int pcfg_load_text(const char *text, const char *name, struct pcfg **out, struct mf_err *err)
{
    *out = NULL;
    struct pcfg *c = calloc(1, sizeof(*c));
    struct reader r = { .c = c, .err = err };
    if (!c || !(c->path = strdup(name)))
        return free(c), mf_fail(err, MF_E_FAIL, "Out of memory.");
    const char *file = intern_file(&r, name);
    int rc = file ? read_text(&r, text, strlen(text), file) : oom(&r);
    if (rc < 0) {
        pcfg_free(c);
        return -1;
    }
    tidy_values(c);
    *out = c;
    return 0;
}

int pcfg_load(const char *path, struct pcfg **out, struct mf_err *err)
{
    *out = NULL;
    FILE *f = open_text(path);
    if (!f) {
        mf_fail(err, MF_E_INPUT, "Cannot read the printer configuration %s (%s); nothing was done.", path,
                strerror(errno));
        return mf_fact(err, MF_FACT_NO_CONFIG);
    }
    char *buf = malloc(MAX_FILE + 1);
    size_t n = buf ? fread(buf, 1, MAX_FILE, f) : 0;
    fclose(f);
    if (!buf)
        return mf_fail(err, MF_E_FAIL, "Out of memory.");
    buf[n] = 0;
    int rc = pcfg_load_text(buf, path, out, err);
    free(buf);
    return rc;
}

void pcfg_free(struct pcfg *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsections; i++) {
        struct pcfg_section *s = &c->sections[i];
        for (size_t k = 0; k < s->noptions; k++) {
            free(s->options[k].key);
            free(s->options[k].value);
            free(s->options[k].file);
        }
        free(s->options);
        free(s->name);
        free(s->file);
    }
    free(c->sections);
    for (size_t i = 0; i < c->nfiles; i++)
        free(c->files[i]);
    free(c->files);
    free(c->path);
    free(c);
}

const struct pcfg_section *pcfg_section(const struct pcfg *c, const char *name)
{
    return find_section((struct pcfg *)c, name, strlen(name));
}

const struct pcfg_option *pcfg_option(const struct pcfg_section *s, const char *key)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->noptions; i++)
        if (!strcasecmp(s->options[i].key, key))
            return &s->options[i];
    return NULL;
}

const char *pcfg_get(const struct pcfg_section *s, const char *key)
{
    const struct pcfg_option *o = pcfg_option(s, key);
    return o ? o->value : NULL;
}
