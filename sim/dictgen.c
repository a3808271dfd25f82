/* Dictionary generator: the JSON buildcommands.py would write for a build
 * with the modules of command.h on the MCU of mcutypes.h. */
#include "dictgen.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "command.h"
#include "klipper/proto.h"

#define IDENTIFY_RESPONSE "identify_response offset=%u data=%.*s"
#define IDENTIFY "identify offset=%u count=%c"
#define STATIC_STRING_MIN 2
#define UART_RECEIVE_WINDOW 192
#define CAN_RECEIVE_WINDOW 192 /* canserial.c's receive_buf */
#define SDIO_BUS_PINS "PC12,PD2,PC8,PC9,PC10,PC11"

int32_t dict_id_from_encoded(uint16_t encoded)
{
    /* The id is the wire bytes read back as a signed VLQ. */
    uint8_t wire[2];
    size_t n = 0;
    if (encoded >= 0x80)
        wire[n++] = (uint8_t)((encoded >> 7) | 0x80);
    wire[n++] = encoded & 0x7f;
    const uint8_t *p = wire;
    uint32_t v = 0;
    kl_vlq_decode(&p, wire + n, &v);
    return (int32_t)v;
}

uint16_t dict_id_to_encoded(int32_t id)
{
    if (id >= 0)
        return (uint16_t)id;
    if (id >= -32)
        return (uint16_t)(id + 0x80);
    return (uint16_t)(id + 0x4000);
}

/* --- messages --- */

struct idgen {
    uint16_t next;  /* last encoded id handed out */
    json_t *commands, *responses;
};

static void add_message(struct idgen *g, json_t *obj, const char *format)
{
    if (json_object_get(g->commands, format) || json_object_get(g->responses, format))
        return; /* one id per distinct format */
    g->next++;
    json_object_set_new(obj, format, json_integer(dict_id_from_encoded(g->next)));
}

static void add_messages(const struct mcu_type *t, json_t *root)
{
    struct idgen g = { 1, json_object(), json_object() };
    json_object_set_new(g.responses, IDENTIFY_RESPONSE, json_integer(0));
    json_object_set_new(g.commands, IDENTIFY, json_integer(1));
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        if (sim_module_present(*mod, t))
            for (const struct sim_command *c = (*mod)->commands; c->format; c++)
                if (!(c->flags & SIM_OLD_FORMAT))
                    add_message(&g, g.commands, c->format);
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        if (sim_module_present(*mod, t) && (*mod)->responses)
            for (const char *const *r = (*mod)->responses; *r; r++)
                add_message(&g, g.responses, *r);
    json_object_set_new(root, "commands", g.commands);
    json_object_set_new(root, "responses", g.responses);
}

/* --- enumerations --- */

static json_t *enumeration(json_t *enums, const char *name)
{
    json_t *e = json_object_get(enums, name);
    if (!e) {
        e = json_object();
        json_object_set_new(enums, name, e);
    }
    return e;
}

static void add_buses(json_t *enums, json_t *config, const char *enum_name, const struct mcu_bus *b)
{
    char key[96];
    for (; b && b->name; b++) {
        json_object_set_new(enumeration(enums, enum_name), b->name, json_integer(b->value));
        snprintf(key, sizeof(key), "BUS_PINS_%s", b->name);
        json_object_set_new(config, key, json_string(b->pins));
    }
}

static void add_pins(const struct mcu_type *t, json_t *enums)
{
    json_t *pins = enumeration(enums, "pin");
    for (int i = 0; i < mcu_pin_ranges(t); i++) {
        char name[8];
        int start, count;
        mcu_pin_range(t, i, name, &start, &count);
        json_object_set_new(pins, name, json_pack("[ii]", start, count));
    }
}

static void add_static_strings(const struct mcu_type *t, json_t *enums)
{
    json_t *strs = enumeration(enums, "static_string_id");
    int next = STATIC_STRING_MIN;
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        if (sim_module_present(*mod, t) && (*mod)->shutdowns)
            for (const char *const *s = (*mod)->shutdowns; *s; s++)
                if (!json_object_get(strs, *s))
                    json_object_set_new(strs, *s, json_integer(next++));
}

static void add_module_enums(const struct mcu_type *t, json_t *enums)
{
    for (const struct sim_module *const *mod = sim_modules; *mod; mod++)
        if (sim_module_present(*mod, t) && (*mod)->enums)
            for (const struct sim_enum *e = (*mod)->enums; e->enumeration; e++)
                json_object_set_new(enumeration(enums, e->enumeration), e->name, json_integer(e->value));
}

/* --- constants --- */

static void add_config(const struct dictgen_params *p, json_t *config)
{
    const struct mcu_type *t = p->type;
    json_object_set_new(config, "MCU", json_string(t->name));
    json_object_set_new(config, "CLOCK_FREQ", json_integer(t->clock_freq));
    json_object_set_new(config, "STATS_SUMSQ_BASE", json_integer(256));
    json_object_set_new(config, "ADC_MAX", json_integer(4095));
    json_object_set_new(config, "PWM_MAX", json_integer(t->pwm_max));
    if (t->reserve_crystal)
        json_object_set_new(config, "RESERVE_PINS_crystal", json_string(t->reserve_crystal));
    if (p->can_frequency) {
        json_object_set_new(config, "CANBUS_FREQUENCY", json_integer(p->can_frequency));
        json_object_set_new(config, "RECEIVE_WINDOW", json_integer(CAN_RECEIVE_WINDOW));
        json_object_set_new(config, "RESERVE_PINS_CAN", json_string(t->reserve_can));
        if (p->usb_can_bridge) {
            /* generic/usb_canbus.c: on USB to the host, and says so */
            json_object_set_new(config, "CANBUS_BRIDGE", json_integer(1));
            json_object_set_new(config, "RESERVE_PINS_USB", json_string(t->reserve_usb));
        }
    } else if (p->serial_baud) {
        json_object_set_new(config, "SERIAL_BAUD", json_integer(p->serial_baud));
        json_object_set_new(config, "RECEIVE_WINDOW", json_integer(UART_RECEIVE_WINDOW));
        json_object_set_new(config, "RESERVE_PINS_serial", json_string(t->reserve_serial));
    } else {
        json_object_set_new(config, "RESERVE_PINS_USB", json_string(t->reserve_usb));
    }
}

char *dictgen_json(const struct dictgen_params *p, size_t *len)
{
    const struct mcu_type *t = p->type;
    json_t *root = json_object(), *config = json_object(), *enums = json_object();
    json_object_set_new(root, "app", json_string("Klipper"));
    json_object_set_new(root, "build_versions", json_string(SIM_BUILD_VERSIONS));
    json_object_set_new(root, "license", json_string("GNU GPLv3"));
    json_object_set_new(root, "version", json_string(p->version ? p->version : SIM_DEFAULT_VERSION));
    add_messages(t, root);
    add_config(p, config);
    add_pins(t, enums);
    add_buses(enums, config, "spi_bus", t->spi_buses);
    add_buses(enums, config, "i2c_bus", t->i2c_buses);
    if (t->has_sdio) {
        json_object_set_new(enumeration(enums, "sdio_bus"), "sdio", json_integer(0));
        json_object_set_new(config, "BUS_PINS_sdio", json_string(SDIO_BUS_PINS));
    }
    add_module_enums(t, enums);
    add_static_strings(t, enums);
    json_object_set_new(root, "config", config);
    json_object_set_new(root, "enumerations", enums);
    /* Same text as json.dumps(separators=(',', ':'), sort_keys=True). */
    char *text = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    json_decref(root);
    if (text && len)
        *len = strlen(text);
    return text;
}

int sim_zlib_compress(const char *data, size_t len, uint8_t **out, size_t *out_len)
{
    uLongf cap = compressBound((uLong)len);
    uint8_t *buf = malloc(cap);
    if (!buf)
        return -1;
    if (compress2(buf, &cap, (const Bytef *)data, (uLong)len, 9) != Z_OK) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = cap;
    return 0;
}
