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

/* Family names as written in board files, indexed by enum board_bootloader. */
static int set_bootloader(struct field_ctx *c, const char *v)
{
    for (int f = BOARD_BL_RENAME; f <= BOARD_BL_CHITU; f++)
        if (!strcasecmp(v, board_bootloader_name(f))) {
            c->b->bootloader = f;
            return 0;
        }
    return cfg_fail(c->err, c->label, c->line, "[board %s] names bootloader '%s', which is not "
                    "known; nothing was done; use rename, lpc176x, fysetc, keeps-name, unique-name "
                    "or chitu.", c->section, v);
}

static int set_katapult(struct field_ctx *c, const char *v)
{
    for (int k = BOARD_KATAPULT_USB; k <= BOARD_KATAPULT_CAN; k++)
        if (!strcasecmp(v, board_katapult_name(k))) {
            c->b->katapult = k;
            return 0;
        }
    return cfg_fail(c->err, c->label, c->line, "katapult in [board %s] must be usb, uart or can, "
                    "not '%s'; nothing was done; fix the line, or remove it if Katapult is not "
                    "installed.", c->section, v);
}

/* A number with exactly digits hex digits, no prefix. */
static bool parse_hex_digits(const char *s, size_t digits, uint32_t *out)
{
    uint32_t v = 0;
    for (size_t i = 0; i < digits; i++) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        v = v * 16 + (uint32_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' : tolower((unsigned char)s[i]) - 'a' + 10);
    }
    *out = v;
    return true;
}

static int set_dfu(struct field_ctx *c, const char *v)
{
    uint32_t vid = 0, pid = 0;
    if (strlen(v) != 9 || v[4] != ':' || !parse_hex_digits(v, 4, &vid) || !parse_hex_digits(v + 5, 4, &pid))
        return cfg_fail(c->err, c->label, c->line, "dfu in [board %s] must be the USB ids VID:PID in "
                        "hex, e.g. 0483:df11, not '%s'; nothing was done; fix the line.", c->section, v);
    c->b->has_dfu = true;
    c->b->dfu_vid = (uint16_t)vid;
    c->b->dfu_pid = (uint16_t)pid;
    return 0;
}

/* One address: 0x-prefixed hex, on a 256-byte boundary as a Cortex-M
 * vector table must be. */
static int parse_app_address(struct field_ctx *c, const char *tok, uint32_t *out)
{
    const char *hex = tok + 2;
    size_t n = strlen(hex);
    uint32_t v = 0;
    if (strncasecmp(tok, "0x", 2) || n == 0 || n > 8 || !parse_hex_digits(hex, n, &v))
        return cfg_fail(c->err, c->label, c->line, "application_address in [board %s] must be hex "
                        "addresses such as 0x08008000, separated by commas, not '%s'; nothing was "
                        "done; fix the line.", c->section, tok);
    if (v & 0xff)
        return cfg_fail(c->err, c->label, c->line, "application_address %s in [board %s] is not on "
                        "a 256-byte boundary, so no bootloader starts an application there; nothing "
                        "was done; give the offset Klipper's 'make menuconfig' offers for the board.",
                        tok, c->section);
    *out = v;
    return 0;
}

/* "0x08008000, 0x08010000": one address per variant of the board. */
static int set_app_addresses(struct field_ctx *c, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return cfg_out_of_memory(c->err);
    struct board *b = c->b;
    int rc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ", \t", &save); tok && !rc; tok = strtok_r(NULL, ", \t", &save)) {
        uint32_t addr = 0;
        if ((rc = parse_app_address(c, tok, &addr)) < 0)
            break;
        if (board_has_app_address(b, addr))
            rc = cfg_fail(c->err, c->label, c->line, "application_address in [board %s] gives %s "
                          "twice; nothing was done; fix the line.", c->section, tok);
        else if (b->napp_addresses == BOARD_MAX_APP_ADDRESSES)
            rc = cfg_fail(c->err, c->label, c->line, "application_address in [board %s] gives more "
                          "than %d addresses; nothing was done; split the variants into boards of "
                          "their own.", c->section, BOARD_MAX_APP_ADDRESSES);
        else
            b->app_addresses[b->napp_addresses++] = addr;
    }
    free(copy);
    return rc;
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
    { "bootloader", set_bootloader },
    { "application_address", set_app_addresses },
    { "katapult", set_katapult },
    { "dfu", set_dfu },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static const char known_keys[] = "mcu, spi_bus, spi_pins, cs_pin, sdio_bus, card_access, "
                                 "firmware_path, current_firmware_path, skip_verify, conversion, "
                                 "unique_name, description, bootloader, application_address, "
                                 "katapult, dfu";

static size_t field_index(const char *key)
{
    size_t i = 0;
    while (i < NFIELDS - 1 && strcmp(fields[i].key, key))
        i++;
    return i;
}

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
    /* RP2040 and RP2350 boards are flashed through the boot ROM's USB
     * bootloader (BOOTSEL) and mostly have no card; the others need one. */
    bool bootsel = !strcasecmp(b->mcu, "rp2040") || !strcasecmp(b->mcu, "rp2350");
    if (!b->spi_bus && !b->sdio_bus && !bootsel)
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

/* Files written before the bootloader key existed: the family their other
 * keys describe. */
static enum board_bootloader implied_bootloader(const struct board *b)
{
    if (b->unique_name)
        return BOARD_BL_UNIQUE_NAME;
    if (b->conversion == BOARD_CONV_CHITU)
        return BOARD_BL_CHITU;
    if (!strncasecmp(b->mcu, "lpc176", 6))
        return BOARD_BL_LPC176X;
    if (!strcasecmp(b->current_firmware_path, b->firmware_path))
        return BOARD_BL_KEEPS_NAME;
    if (!strcasecmp(b->current_firmware_path, "OLD.BIN"))
        return BOARD_BL_FYSETC;
    return BOARD_BL_RENAME;
}

/* The family and the older keys that describe part of it must agree. */
static int check_bootloader(struct field_ctx *c, int line, bool given)
{
    struct board *b = c->b;
    if (!given) {
        b->bootloader = implied_bootloader(b);
        return 0;
    }
    if (b->unique_name && b->bootloader != BOARD_BL_UNIQUE_NAME)
        return cfg_fail(c->err, c->label, line, "[board %s] says unique_name: true but bootloader: "
                        "%s; nothing was done; use bootloader: unique-name and remove unique_name.",
                        c->section, board_bootloader_name(b->bootloader));
    if ((b->conversion == BOARD_CONV_CHITU) != (b->bootloader == BOARD_BL_CHITU))
        return cfg_fail(c->err, c->label, line, "[board %s] combines bootloader: %s with conversion: "
                        "%s, but only the chitu bootloader reads Chitu .cbd files; nothing was done; "
                        "give both as chitu, or neither.", c->section,
                        board_bootloader_name(b->bootloader), board_conversion_name(b->conversion));
    b->unique_name = b->bootloader == BOARD_BL_UNIQUE_NAME;
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
        rc = check_bootloader(&c, sec->line, seen[field_index("bootloader")]);
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
