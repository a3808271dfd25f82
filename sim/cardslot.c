/* The card socket's wiring, resolved from a board definition and the
 * firmware's dictionary (pin numbers, bus numbers, BUS_PINS_* constants). */
#include "cardslot.h"

#include <stdio.h>
#include <string.h>

#include "board/board.h"
#include "klipper/dict.h"

static bool pin_value(const struct kl_dict *d, const char *name, uint32_t *out)
{
    int32_t v;
    const struct kl_enum *pins = kl_dict_enum(d, "pin");
    if (!pins || kl_enum_value(pins, name, &v) < 0 || v < 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* "PA6,PA7,PA5" (MISO, MOSI, SCLK; spaces allowed) to pin numbers. */
static bool parse_pin_list(const struct kl_dict *d, const char *text, struct spi_pins *out)
{
    uint32_t v[3];
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        while (*p == ' ')
            p++;
        char name[32];
        size_t n = strcspn(p, ", ");
        if (n == 0 || n >= sizeof(name))
            return false;
        memcpy(name, p, n);
        name[n] = '\0';
        if (!pin_value(d, name, &v[i]))
            return false;
        p += n;
        while (*p == ' ')
            p++;
        if (*p == ',')
            p++;
    }
    *out = (struct spi_pins){ v[0], v[1], v[2] };
    return true;
}

static bool bus_pins(const struct kl_dict *d, const char *bus, struct spi_pins *out)
{
    char key[96];
    snprintf(key, sizeof(key), "BUS_PINS_%s", bus);
    const char *text = kl_dict_const(d, key);
    return text && parse_pin_list(d, text, out);
}

static bool same_pins(const struct spi_pins *a, const struct spi_pins *b)
{
    return a->miso == b->miso && a->mosi == b->mosi && a->sclk == b->sclk;
}

struct bus_scan {
    struct sim_cardslot *slot;
    const struct kl_dict *dict;
};

/* Every hardware bus (and alias) whose pins are the socket's reaches it. */
static void mark_bus(const char *name, int32_t value, void *ctx)
{
    struct bus_scan *scan = ctx;
    struct spi_pins p;
    if (value >= 0 && value < 64 && bus_pins(scan->dict, name, &p) && same_pins(&p, &scan->slot->pins))
        scan->slot->hw_buses |= 1ull << value;
}

static const struct kl_enum *spi_bus_enum(const struct kl_dict *d)
{
    const struct kl_enum *e = kl_dict_enum(d, "spi_bus");
    return e ? e : kl_dict_enum(d, "bus"); /* older firmware */
}

static void wire_spi(struct sim_cardslot *s, const struct board *b, const struct kl_dict *d)
{
    if (!b->spi_bus || !b->cs_pin || !pin_value(d, b->cs_pin, &s->cs_pin))
        return;
    const struct kl_enum *buses = spi_bus_enum(d);
    bool pins_known;
    if (board_is_swspi(b)) {
        char list[128];
        snprintf(list, sizeof(list), "%s,%s,%s", b->spi_pins[0], b->spi_pins[1], b->spi_pins[2]);
        pins_known = parse_pin_list(d, list, &s->pins);
    } else {
        int32_t v;
        if (!buses || kl_enum_value(buses, b->spi_bus, &v) < 0 || v < 0 || v >= 64)
            return;
        s->hw_buses |= 1ull << v; /* even when the firmware does not say which pins it uses */
        pins_known = bus_pins(d, b->spi_bus, &s->pins);
    }
    s->spi_wired = true;
    if (pins_known && buses) {
        struct bus_scan scan = { s, d };
        kl_enum_foreach(buses, mark_bus, &scan);
    } else if (!pins_known) {
        s->pins = (struct spi_pins){ UINT32_MAX, UINT32_MAX, UINT32_MAX }; /* matches no pin */
    }
}

static int wire_sdio(struct sim_cardslot *s, const struct board *b, const struct kl_dict *d, struct mf_err *err)
{
    const struct kl_enum *e = kl_dict_enum(d, "sdio_bus");
    if (b->sdio_bus) {
        if (!e || kl_enum_value(e, b->sdio_bus, &s->sdio_bus) < 0)
            return mf_fail(err, MF_E_MISMATCH,
                           "The board definition %s names the SDIO bus %s, which its firmware does not "
                           "have; nothing was started. Fix the definition or pick another board.",
                           b->name, b->sdio_bus);
        s->sdio_wired = true;
    } else if (b->card_access == BOARD_CARD_SDIO && e) {
        /* An SDIO slot on an MCU with an SDIO peripheral. */
        s->sdio_wired = true;
        s->sdio_any = true;
    }
    return 0;
}

int cardslot_wire(struct sim_cardslot *s, const struct board *b, const struct kl_dict *d, struct mf_err *err)
{
    /* Built aside: on failure the socket stays as it was. */
    struct sim_cardslot w = { .card = s->card, .any_bus = !b };
    if (b) {
        if (board_check_mcu(b, d, err) < 0)
            return -1;
        wire_spi(&w, b, d);
        if (wire_sdio(&w, b, d, err) < 0)
            return -1;
    }
    *s = w;
    return 0;
}

struct sdcard *cardslot_spi(const struct sim_cardslot *s, bool hardware, uint32_t spi_bus,
                            const struct spi_pins *sw_pins, bool has_cs, uint32_t cs_pin)
{
    if (!s || !s->card)
        return NULL;
    if (s->any_bus)
        return s->card;
    if (!s->spi_wired || !has_cs || cs_pin != s->cs_pin)
        return NULL;
    bool on_socket = hardware ? spi_bus < 64 && (s->hw_buses >> spi_bus & 1) : same_pins(sw_pins, &s->pins);
    return on_socket ? s->card : NULL;
}

struct sdcard *cardslot_sdio(const struct sim_cardslot *s, uint32_t sdio_bus)
{
    if (!s || !s->card)
        return NULL;
    if (s->any_bus)
        return s->card;
    if (!s->sdio_wired || (!s->sdio_any && (int64_t)sdio_bus != s->sdio_bus))
        return NULL;
    return s->card;
}
