#include "board/defs.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What a key's setter needs to fill in the board and to blame a line. */
struct field_ctx {
    struct board *b;
    const char *label;
    const char *section;
    int line;
    struct mf_err *err;
};

static int set_string(struct field_ctx *c, char **dst, const char *value)
{
    *dst = strdup(value);
    return *dst ? 0 : cfg_out_of_memory(c->err);
}

/* Names of MCUs, buses and pins are single words. */
static int set_word(struct field_ctx *c, const char *key, char **dst, const char *value)
{
    if (strpbrk(value, " \t,"))
        return cfg_fail(c->err, c->label, c->line, "%s in [board %s] must be one word, not '%s'; "
                        "nothing was done; fix the line.", key, c->section, value);
    return set_string(c, dst, value);
}

static int set_mcu(struct field_ctx *c, const char *v) { return set_word(c, "mcu", &c->b->mcu, v); }
static int set_bus(struct field_ctx *c, const char *v) { return set_word(c, "spi_bus", &c->b->spi_bus, v); }
static int set_cs(struct field_ctx *c, const char *v) { return set_word(c, "cs_pin", &c->b->cs_pin, v); }
static int set_sdio(struct field_ctx *c, const char *v) { return set_word(c, "sdio_bus", &c->b->sdio_bus, v); }
static int set_fw(struct field_ctx *c, const char *v) { return set_string(c, &c->b->firmware_path, v); }
static int set_cur(struct field_ctx *c, const char *v) { return set_string(c, &c->b->current_firmware_path, v); }
static int set_desc(struct field_ctx *c, const char *v) { return set_string(c, &c->b->description, v); }

/* "PC8, PD2, PC12": any number here; the count is checked with spi_bus. */
static int set_pins(struct field_ctx *c, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return cfg_out_of_memory(c->err);
    size_t n = 0;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && !rc; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        char *end = tok + strlen(tok);
        while (end > tok && isspace((unsigned char)end[-1]))
            *--end = '\0';
        if (!*tok || strpbrk(tok, " \t") || n == 3)
            rc = cfg_fail(c->err, c->label, c->line, "spi_pins in [board %s] must be three pins "
                          "separated by commas (miso, mosi, sclk), not '%s'; nothing was done; "
                          "fix the line.", c->section, value);
        else if (!(c->b->spi_pins[n++] = strdup(tok)))
            rc = cfg_out_of_memory(c->err);
    }
    free(copy);
    return rc;
}

static int parse_bool(struct field_ctx *c, const char *key, bool *dst, const char *v)
{
    static const char *const yes[] = { "true", "yes", "on", "1" }, *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++)
        if (!strcasecmp(v, yes[i]) || !strcasecmp(v, no[i])) {
            *dst = !strcasecmp(v, yes[i]);
            return 0;
        }
    return cfg_fail(c->err, c->label, c->line, "%s in [board %s] must be true or false, not '%s'; "
                    "nothing was done; fix the line.", key, c->section, v);
}

static int set_skip(struct field_ctx *c, const char *v) { return parse_bool(c, "skip_verify", &c->b->skip_verify, v); }
static int set_unique(struct field_ctx *c, const char *v) { return parse_bool(c, "unique_name", &c->b->unique_name, v); }

static int set_access(struct field_ctx *c, const char *v)
{
    for (int a = BOARD_CARD_SPI; a <= BOARD_CARD_SDIO; a++)
        if (!strcasecmp(v, board_card_access_name(a))) {
            c->b->card_access = a;
            return 0;
        }
    return cfg_fail(c->err, c->label, c->line, "card_access in [board %s] must be spi or sdio, not "
                    "'%s'; nothing was done; fix the line.", c->section, v);
}

static int set_conversion(struct field_ctx *c, const char *v)
{
    for (int k = BOARD_CONV_NONE; k <= BOARD_CONV_CHITU; k++)
        if (!strcasecmp(v, board_conversion_name(k))) {
            c->b->conversion = k;
            return 0;
        }
    return cfg_fail(c->err, c->label, c->line, "[board %s] asks for conversion '%s', which is not "
                    "known; nothing was done; use none, mks-robin or chitu.", c->section, v);
}

struct field {
    const char *key;
    int (*set)(struct field_ctx *c, const char *value);
};

static const struct field fields[] = {
    { "mcu", set_mcu },
    { "spi_bus", set_bus },
    { "spi_pins", set_pins },
    { "cs_pin", set_cs },
    { "sdio_bus", set_sdio },
    { "card_access", set_access },
    { "firmware_path", set_fw },
    { "current_firmware_path", set_cur },
    { "skip_verify", set_skip },
    { "conversion", set_conversion },
    { "unique_name", set_unique },
    { "description", set_desc },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char known_keys[] = "mcu, spi_bus, spi_pins, cs_pin, sdio_bus, card_access, "
                                 "firmware_path, current_firmware_path, skip_verify, conversion, "
                                 "unique_name, description";

static int set_field(struct field_ctx *c, const struct cfg_entry *e, bool seen[NFIELDS])
{
    c->line = e->line;
    for (size_t i = 0; i < NFIELDS; i++) {
        if (strcmp(e->key, fields[i].key))
            continue;
        if (seen[i])
            return cfg_fail(c->err, c->label, e->line, "[board %s] gives %s twice; nothing was "
                            "done; remove one of the lines.", c->section, e->key);
        seen[i] = true;
        if (!*e->value)
            return cfg_fail(c->err, c->label, e->line, "%s in [board %s] has no value; nothing "
                            "was done; give one or remove the line.", e->key, c->section);
        return fields[i].set(c, e->value);
    }
    return cfg_fail(c->err, c->label, e->line, "unknown key '%s' in [board %s]; nothing was done; "
                    "use one of %s.", e->key, c->section, known_keys);
}

static size_t count_pins(const struct board *b)
{
    size_t n = 0;
    while (n < 3 && b->spi_pins[n])
        n++;
    return n;
}

/* Rules that involve more than one key. */
static int check_board(struct field_ctx *c, int line)
{
    struct board *b = c->b;
    const char *s = c->section;
    if (!b->mcu)
        return cfg_fail(c->err, c->label, line, "[board %s] has no mcu; nothing was done; add the "
                        "MCU type the firmware reports, e.g. 'mcu: stm32f407xx'.", s);
    if (!b->spi_bus && !b->sdio_bus)
        return cfg_fail(c->err, c->label, line, "[board %s] says neither how the card is wired "
                        "(spi_bus and cs_pin) nor sdio_bus; nothing was done; add them.", s);
    if (!b->spi_bus != !b->cs_pin)
        return cfg_fail(c->err, c->label, line, "[board %s] gives %s without %s; nothing was "
                        "done; give both, or neither on an SDIO-only board.", s,
                        b->spi_bus ? "spi_bus" : "cs_pin", b->spi_bus ? "cs_pin" : "spi_bus");
    size_t pins = count_pins(b);
    if (board_is_swspi(b) && pins != 3)
        return cfg_fail(c->err, c->label, line, "[board %s] uses spi_bus: swspi but gives %zu "
                        "spi_pins; nothing was done; list the three software-SPI pins, miso, mosi "
                        "and sclk, e.g. 'spi_pins: PC8, PD2, PC12'.", s, pins);
    if (!board_is_swspi(b) && pins)
        return cfg_fail(c->err, c->label, line, "[board %s] gives spi_pins, which only a board "
                        "with spi_bus: swspi uses; nothing was done; remove spi_pins or set "
                        "spi_bus: swspi.", s);
    return 0;
}

static int set_defaults(struct field_ctx *c)
{
    struct board *b = c->b;
    if (!b->firmware_path && set_string(c, &b->firmware_path, BOARD_DEFAULT_FIRMWARE_PATH))
        return -1;
    if (!b->current_firmware_path
        && set_string(c, &b->current_firmware_path, BOARD_DEFAULT_CURRENT_PATH))
        return -1;
    if (!b->description && set_string(c, &b->description, ""))
        return -1;
    return 0;
}

static int set_origin(struct board_origin *o, const char *file, int line, struct mf_err *err)
{
    o->line = line;
    o->file = NULL;
    if (file && !(o->file = strdup(file)))
        return cfg_out_of_memory(err);
    return 0;
}

int board_from_section(const struct cfg_section *sec, const char *file, const char *label,
                       struct board **out, struct mf_err *err)
{
    *out = NULL;
    struct board *b = calloc(1, sizeof(*b));
    if (!b)
        return cfg_out_of_memory(err);
    struct field_ctx c = { .b = b, .label = label, .section = sec->name, .err = err };
    bool seen[NFIELDS] = { false };
    int rc = set_string(&c, &b->name, sec->name);
    for (size_t i = 0; !rc && i < sec->n; i++)
        rc = set_field(&c, &sec->entries[i], seen);
    if (!rc)
        rc = check_board(&c, sec->line);
    if (!rc)
        rc = set_defaults(&c);
    if (!rc)
        rc = set_origin(&b->origin, file, sec->line, err);
    if (rc) {
        board_free(b);
        return -1;
    }
    *out = b;
    return 0;
}

int alias_from_section(const struct cfg_section *sec, const char *file, const char *label,
                       struct board_alias **out, struct mf_err *err)
{
    *out = NULL;
    const char *target = NULL;
    for (size_t i = 0; i < sec->n; i++) {
        const struct cfg_entry *e = &sec->entries[i];
        if (strcmp(e->key, "board"))
            return cfg_fail(err, label, e->line, "unknown key '%s' in [alias %s]; nothing was "
                            "done; an alias has only 'board: NAME'.", e->key, sec->name);
        if (target)
            return cfg_fail(err, label, e->line, "[alias %s] gives board twice; nothing was done; "
                            "remove one of the lines.", sec->name);
        target = e->value;
    }
    if (!target || !*target)
        return cfg_fail(err, label, sec->line, "[alias %s] does not say which board it names; "
                        "nothing was done; add 'board: NAME'.", sec->name);
    struct board_alias *a = calloc(1, sizeof(*a));
    if (!a || !(a->name = strdup(sec->name)) || !(a->board = strdup(target))
        || set_origin(&a->origin, file, sec->line, err)) {
        board_alias_free(a);
        return cfg_out_of_memory(err);
    }
    *out = a;
    return 0;
}

void board_free(struct board *b)
{
    if (!b)
        return;
    free(b->name);
    free(b->description);
    free(b->mcu);
    free(b->spi_bus);
    for (size_t i = 0; i < 3; i++)
        free(b->spi_pins[i]);
    free(b->cs_pin);
    free(b->sdio_bus);
    free(b->firmware_path);
    free(b->current_firmware_path);
    free(b->aliases);
    free(b->origin.file);
    free(b);
}

void board_alias_free(struct board_alias *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->board);
    free(a->origin.file);
    free(a);
}

bool board_is_swspi(const struct board *b)
{
    return b->spi_bus && !strcmp(b->spi_bus, BOARD_SWSPI);
}

const char *board_card_access_name(enum board_card_access a)
{
    return a == BOARD_CARD_SDIO ? "sdio" : "spi";
}

const char *board_conversion_name(enum board_conversion c)
{
    switch (c) {
    case BOARD_CONV_MKS_ROBIN: return "mks-robin";
    case BOARD_CONV_CHITU: return "chitu";
    case BOARD_CONV_NONE: break;
    }
    return "none";
}

const char *board_origin_text(const struct board_origin *o, char *buf, size_t cap)
{
    if (!o->file)
        snprintf(buf, cap, "built-in");
    else
        snprintf(buf, cap, "%s:%d", o->file, o->line);
    return buf;
}
