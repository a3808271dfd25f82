/* SPI commands (Klipper's src/spicmds.c and src/spi_software.c).  Each
 * spi_send / spi_transfer is one chip-select window on the card socket;
 * with no bus set a transfer does nothing and spi_transfer echoes. */
#include <string.h>

#include "mcu.h"

#define FMT_SPI_TRANSFER_RESPONSE "spi_transfer_response oid=%c response=%*s"

enum { SF_HAVE_PIN = 1, SF_SOFTWARE = 2, SF_HARDWARE = 4, SF_CS_ACTIVE_HIGH = 8 };

struct spidev {
    uint8_t flags;
    uint32_t cs_pin;
    uint32_t bus, rate;         /* hardware */
    uint32_t pulse_ticks;       /* software: clock ticks per bit */
    struct spi_pins sw_pins;    /* software */
};

struct spidev_shutdown {
    uint8_t spi_oid;
    uint8_t len;
    uint8_t msg[64];
};

/* Type tags for the oid table. */
static const char spidev_type[] = "spi";
static const char spidev_shutdown_type[] = "spi_shutdown";

static void command_config_spi(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct spidev *spi = sim_oid_alloc(m, (uint8_t)kl_msg_u(msg, "oid"), spidev_type, sizeof(*spi));
    if (!spi)
        return;
    uint32_t pin = kl_msg_u(msg, "pin");
    if (!sim_pin_valid(m, pin)) {
        sim_shutdown(m, mcu_bad_output_pin_text(m->type));
        return;
    }
    spi->cs_pin = pin;
    spi->flags |= SF_HAVE_PIN | (kl_msg_u(msg, "cs_active_high") ? SF_CS_ACTIVE_HIGH : 0);
}

static void command_config_spi_without_cs(struct sim_mcu *m, const struct kl_msg *msg)
{
    sim_oid_alloc(m, (uint8_t)kl_msg_u(msg, "oid"), spidev_type, sizeof(struct spidev));
}

static void command_spi_set_bus(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct spidev *spi = sim_oid_lookup(m, (uint8_t)kl_msg_u(msg, "oid"), spidev_type);
    if (!spi)
        return;
    uint32_t mode = kl_msg_u(msg, "mode"), bus = kl_msg_u(msg, "spi_bus");
    if (mode > 3 || spi->flags & (SF_SOFTWARE | SF_HARDWARE)) {
        sim_shutdown(m, "Invalid spi config");
        return;
    }
    if (bus > INT32_MAX || !sim_enum_has_value(m, "spi_bus", (int32_t)bus)) {
        sim_shutdown(m, mcu_bad_spi_bus_text(m->type));
        return;
    }
    spi->bus = bus;
    spi->rate = kl_msg_u(msg, "rate");
    spi->flags |= SF_HARDWARE;
}

static void command_spi_set_sw_bus(struct sim_mcu *m, const struct kl_msg *msg)
{
    if (kl_msg_u(msg, "mode") > 3) {
        sim_shutdown(m, "Invalid spi config");
        return;
    }
    struct spidev *spi = sim_oid_lookup(m, (uint8_t)kl_msg_u(msg, "oid"), spidev_type);
    if (!spi)
        return;
    if (!sim_pin_valid(m, kl_msg_u(msg, "miso_pin"))) {
        sim_shutdown(m, mcu_bad_input_pin_text(m->type));
        return;
    }
    if (!sim_pin_valid(m, kl_msg_u(msg, "mosi_pin")) || !sim_pin_valid(m, kl_msg_u(msg, "sclk_pin"))) {
        sim_shutdown(m, mcu_bad_output_pin_text(m->type));
        return;
    }
    if (spi->flags & (SF_SOFTWARE | SF_HARDWARE)) {
        sim_shutdown(m, "Invalid spi config");
        return;
    }
    spi->sw_pins.miso = kl_msg_u(msg, "miso_pin");
    spi->sw_pins.mosi = kl_msg_u(msg, "mosi_pin");
    spi->sw_pins.sclk = kl_msg_u(msg, "sclk_pin");
    spi->pulse_ticks = kl_msg_u(msg, "pulse_ticks");
    uint32_t rate = kl_msg_u(msg, "rate"); /* the older spi_set_software_bus */
    if (rate)
        spi->pulse_ticks = m->clock_freq / rate;
    spi->flags |= SF_SOFTWARE;
}

/* Time to clock len bytes on this bus. */
static uint64_t transfer_ns(const struct sim_mcu *m, const struct spidev *spi, size_t len)
{
    uint64_t bits = 8u * len;
    if (spi->flags & SF_SOFTWARE)
        return bits * spi->pulse_ticks * 1000000000u / (m->clock_freq ? m->clock_freq : 1);
    return spi->rate ? bits * 1000000000u / spi->rate : 0;
}

/* One chip-select window; data is replaced by what was clocked in. */
static void spidev_transfer(struct sim_mcu *m, struct spidev *spi, bool receive, uint8_t *data, size_t len)
{
    if (!(spi->flags & (SF_SOFTWARE | SF_HARDWARE)))
        return; /* not yet initialised: nothing is clocked */
    struct sdcard *card = cardslot_spi(m->slot, spi->flags & SF_HARDWARE, spi->bus, &spi->sw_pins,
                                       spi->flags & SF_HAVE_PIN, spi->cs_pin);
    uint8_t rx[256];
    /* The card answers as of the window's end. */
    sim_mcu_spend(m, transfer_ns(m, spi, len));
    if (card)
        sdcard_spi_window(card, data, rx, len);
    else
        memset(rx, 0xff, len); /* MISO floats high with nothing on the bus */
    if (receive)
        memcpy(data, rx, len);
}

/* spi_transfer and spi_send: one window, a reply only for the first. */
static void transfer_command(struct sim_mcu *m, const struct kl_msg *msg, bool reply)
{
    uint8_t oid = (uint8_t)kl_msg_u(msg, "oid");
    struct spidev *spi = sim_oid_lookup(m, oid, spidev_type);
    if (!spi)
        return;
    const struct kl_arg *in = kl_msg_arg(msg, "data");
    uint8_t data[256];
    memcpy(data, in->data, in->len);
    spidev_transfer(m, spi, reply, data, in->len);
    /* A reply too long for one block is dropped by sim_sendf, as by the firmware. */
    if (reply)
        sim_sendf(m, FMT_SPI_TRANSFER_RESPONSE, (struct kl_arg[]){ KL_U(oid), KL_BUF(data, in->len) });
}

static void command_spi_transfer(struct sim_mcu *m, const struct kl_msg *msg)
{
    transfer_command(m, msg, true);
}

static void command_spi_send(struct sim_mcu *m, const struct kl_msg *msg)
{
    transfer_command(m, msg, false);
}

static void command_config_spi_shutdown(struct sim_mcu *m, const struct kl_msg *msg)
{
    uint8_t spi_oid = (uint8_t)kl_msg_u(msg, "spi_oid");
    if (!sim_oid_lookup(m, spi_oid, spidev_type))
        return;
    struct spidev_shutdown *sd =
        sim_oid_alloc(m, (uint8_t)kl_msg_u(msg, "oid"), spidev_shutdown_type, sizeof(struct spidev_shutdown));
    if (!sd)
        return;
    const struct kl_arg *text = kl_msg_arg(msg, "shutdown_msg");
    sd->spi_oid = spi_oid;
    sd->len = text->len;
    memcpy(sd->msg, text->data, text->len);
}

/* On shutdown every configured shutdown message goes out on its bus. */
static void spidev_shutdown(struct sim_mcu *m)
{
    struct spidev_shutdown *sd;
    for (int i = -1; (sd = sim_oid_next(m, &i, spidev_shutdown_type));) {
        struct spidev *spi = m->oids[sd->spi_oid].data;
        uint8_t data[64];
        memcpy(data, sd->msg, sd->len);
        spidev_transfer(m, spi, false, data, sd->len);
    }
}

const struct sim_module spicmds_module = {
    "spicmds", NULL,
    (const struct sim_command[]){
        { "config_spi oid=%c pin=%u cs_active_high=%c", 0, command_config_spi },
        { "config_spi oid=%c pin=%u", SIM_OLD_FORMAT, command_config_spi },
        { "config_spi_without_cs oid=%c", 0, command_config_spi_without_cs },
        { "spi_set_bus oid=%c spi_bus=%u mode=%u rate=%u", 0, command_spi_set_bus },
        { "spi_transfer oid=%c data=%*s", 0, command_spi_transfer },
        { "spi_send oid=%c data=%*s", 0, command_spi_send },
        { "config_spi_shutdown oid=%c spi_oid=%c shutdown_msg=%*s", 0, command_config_spi_shutdown },
        { NULL, 0, NULL },
    },
    (const char *const[]){ FMT_SPI_TRANSFER_RESPONSE, NULL },
    (const char *const[]){ "Invalid spi config", NULL },
    NULL,
    spidev_shutdown,
};

/* Klipper builds spi_software.c later in the link, hence its own module. */
const struct sim_module spi_software_module = {
    "spi_software", NULL,
    (const struct sim_command[]){
        { "spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u", 0,
          command_spi_set_sw_bus },
        { "spi_set_software_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u rate=%u", SIM_OLD_FORMAT,
          command_spi_set_sw_bus },
        { NULL, 0, NULL },
    },
    NULL,
    NULL,
    NULL,
    NULL,
};
