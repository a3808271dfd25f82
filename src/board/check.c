/* Checking a board definition against the firmware that runs on the board:
 * a wrong definition would drive pins the card is not wired to. */
#include "board/board.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "klipper/dict.h"

/* A growing English list: "pin P0.6, pin P0.7 and bus ssp1". */
struct missing {
    char text[512];
    size_t n;
    const char *last;  /* held back until we know whether it is the final item */
    char last_buf[96];
};

static void add_missing(struct missing *m, const char *what, const char *name)
{
    size_t used = strlen(m->text);
    if (m->n)
        snprintf(m->text + used, sizeof(m->text) - used, "%s%s", m->n > 1 ? ", " : "", m->last);
    snprintf(m->last_buf, sizeof(m->last_buf), "%s %s", what, name);
    m->last = m->last_buf;
    m->n++;
}

static const char *missing_text(struct missing *m)
{
    size_t used = strlen(m->text);
    if (m->n)
        snprintf(m->text + used, sizeof(m->text) - used, "%s%s", m->n > 1 ? " and " : "", m->last);
    return m->text;
}

static bool has_name(const struct kl_enum *e, const char *name)
{
    int32_t v;
    return e && kl_enum_value(e, name, &v) == 0;
}

static void check_pins(const struct board *b, const struct kl_dict *d, struct missing *m)
{
    const struct kl_enum *pins = kl_dict_enum(d, "pin");
    if (b->cs_pin && !has_name(pins, b->cs_pin))
        add_missing(m, "pin", b->cs_pin);
    for (size_t i = 0; i < 3 && b->spi_pins[i]; i++)
        if (!has_name(pins, b->spi_pins[i]))
            add_missing(m, "pin", b->spi_pins[i]);
}

static void check_bus(const struct board *b, const struct kl_dict *d, struct missing *m)
{
    if (!b->spi_bus || board_is_swspi(b))
        return;
    const struct kl_enum *buses = kl_dict_enum(d, "spi_bus");
    if (!buses)
        buses = kl_dict_enum(d, "bus");  /* older firmware */
    if (!has_name(buses, b->spi_bus))
        add_missing(m, "bus", b->spi_bus);
}

int board_check_mcu(const struct board *b, const struct kl_dict *d, struct mf_err *err)
{
    const char *mcu = kl_dict_const(d, "MCU");
    struct missing m = { .text = "" };
    check_pins(b, d, &m);
    check_bus(b, d, &m);
    char mcu_part[256] = "";
    if (!mcu)
        snprintf(mcu_part, sizeof(mcu_part), "the firmware does not report its MCU type (it "
                 "should be %s)", b->mcu);
    else if (strcasecmp(mcu, b->mcu))
        snprintf(mcu_part, sizeof(mcu_part), "it is for MCU %s but the firmware runs on %s",
                 b->mcu, mcu);
    if (!m.n && !mcu_part[0])
        return 0;
    const char *list = missing_text(&m);
    if (!m.n)
        return mf_fail(err, MF_E_MISMATCH, "The board definition %s does not fit this board: %s; "
                       "nothing was done; pick the definition for this board (run 'mcuflash "
                       "boards' for the list).", b->name, mcu_part);
    return mf_fail(err, MF_E_MISMATCH, "The board definition %s uses %s, which the firmware on "
                   "this board does not have%s%s; nothing was done; pick the definition for this "
                   "board (run 'mcuflash boards' for the list), or build Klipper with those pins "
                   "and buses.", b->name, list, mcu_part[0] ? ", and " : "", mcu_part);
}
