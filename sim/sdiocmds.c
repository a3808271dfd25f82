/* SDIO commands (Klipper's src/sdiocmds.c with the STM32 driver's error
 * codes): the card socket in SD mode, through a 4096-byte data buffer. */
#include <string.h>

#include "mcu.h"
#include "timing_model.h"

#define FMT_SEND_COMMAND_RESPONSE "sdio_send_command_response oid=%c error=%c response=%*s"
#define FMT_READ_DATA_RESPONSE "sdio_read_data_response oid=%c error=%c read=%u"
#define FMT_WRITE_DATA_RESPONSE "sdio_write_data_response oid=%c error=%c write=%u"
#define FMT_READ_DATA_BUFFER_RESPONSE "sdio_read_data_buffer_response oid=%c data=%*s"

#define SDIO_INIT_SPEED 400000
#define SDIO_BLOCK 512
/* Error codes of Klipper's stm32/sdio.c beyond those of the card model. */
#define SDIO_WRONG_BLOCKSIZE 6
#define SDIO_CMD_RESPONSE_TIMEOUT 3

struct sdiodev {
    bool have_bus;
    uint32_t bus;
    uint32_t blocksize;
    uint32_t speed;
    uint8_t data_buffer[4096];
};

static const char sdiodev_type[] = "sdio";

static bool sdio_build(const struct mcu_type *t)
{
    return t->has_sdio;
}

/* SD bus time at the current clock: 4 data lines, plus command and CRC bits. */
static void spend_clocks(struct sim_mcu *m, const struct sdiodev *sdio, uint64_t clocks)
{
    if (sdio->speed)
        sim_mcu_spend(m, clocks * 1000000000u / sdio->speed);
}

static struct sdcard *sdio_card(struct sim_mcu *m, const struct sdiodev *sdio)
{
    return sdio->have_bus ? cardslot_sdio(m->slot, sdio->bus) : NULL;
}

/* The STM32 DCTRL register takes power-of-two block sizes up to 16384. */
static bool blocksize_valid(uint32_t bs)
{
    return bs && bs <= 16384 && !(bs & (bs - 1));
}

static void command_config_sdio(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct sdiodev *sdio = sim_oid_alloc(m, (uint8_t)kl_msg_u(msg, "oid"), sdiodev_type, sizeof(*sdio));
    if (!sdio)
        return;
    sdio->blocksize = kl_msg_u(msg, "blocksize");
    sdio->speed = SDIO_INIT_SPEED;
}

static void command_sdio_set_bus(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct sdiodev *sdio = sim_oid_lookup(m, (uint8_t)kl_msg_u(msg, "oid"), sdiodev_type);
    if (!sdio)
        return;
    uint32_t bus = kl_msg_u(msg, "sdio_bus");
    if (bus > INT32_MAX || !sim_enum_has_value(m, "sdio_bus", (int32_t)bus)) {
        sim_shutdown(m, "Invalid sdio bus");
        return;
    }
    sdio->bus = bus;
    sdio->have_bus = true;
    sdio->speed = SDIO_INIT_SPEED;
}

static void command_sdio_set_speed(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct sdiodev *sdio = sim_oid_lookup(m, (uint8_t)kl_msg_u(msg, "oid"), sdiodev_type);
    if (sdio)
        sdio->speed = kl_msg_u(msg, "speed");
}

static void command_sdio_send_command(struct sim_mcu *m, const struct kl_msg *msg)
{
    uint8_t oid = (uint8_t)kl_msg_u(msg, "oid");
    struct sdiodev *sdio = sim_oid_lookup(m, oid, sdiodev_type);
    if (!sdio)
        return;
    uint8_t cmd = (uint8_t)kl_msg_u(msg, "cmd"), wait = (uint8_t)kl_msg_u(msg, "wait");
    uint8_t response[16] = { 0 };
    /* The driver reports the response registers whenever it waited for one. */
    uint8_t response_len = wait == 1 ? 4 : wait == 2 ? 16 : 0;
    struct sdcard *card = sdio_card(m, sdio);
    int err = SDIO_CMD_RESPONSE_TIMEOUT;
    if (card)
        err = sdcard_sd_command(card, cmd & 0x3f, kl_msg_u(msg, "argument"), wait, response);
    else if (!wait)
        err = 0;
    spend_clocks(m, sdio, wait == 2 ? SDIO_LONG_COMMAND_CLOCKS : SDIO_SHORT_COMMAND_CLOCKS);
    sim_sendf(m, FMT_SEND_COMMAND_RESPONSE,
              (struct kl_arg[]){ KL_U(oid), KL_U(err), KL_BUF(response, response_len) });
}

/* One data block to or from the buffer; returns the error code, sets *len. */
static int data_block(struct sim_mcu *m, struct sdiodev *sdio, const struct kl_msg *msg, bool read, uint32_t *len)
{
    *len = 0;
    if (!blocksize_valid(sdio->blocksize))
        return SDIO_WRONG_BLOCKSIZE;
    struct sdcard *card = sdio_card(m, sdio);
    if (!card)
        return SDIO_CMD_RESPONSE_TIMEOUT;
    if (sdio->blocksize > sizeof(sdio->data_buffer))
        return 0; /* the command ran; the block did not fit the buffer */
    if (sdio->blocksize != SDIO_BLOCK)
        return SDCARD_SDIO_DATA_TIMEOUT; /* the card model moves 512-byte blocks only */
    uint8_t cmd = (uint8_t)kl_msg_u(msg, "cmd") & 0x3f;
    uint32_t arg = kl_msg_u(msg, "argument");
    int err = read ? sdcard_sd_read_block(card, cmd, arg, sdio->data_buffer)
                   : sdcard_sd_write_block(card, cmd, arg, sdio->data_buffer);
    spend_clocks(m, sdio, SDIO_BLOCK_CLOCKS);
    if (err == 0 || err == SDCARD_SDIO_CRC_FAIL || err == SDCARD_SDIO_DATA_TIMEOUT)
        *len = sdio->blocksize; /* the command itself was answered */
    return err;
}

static void data_command(struct sim_mcu *m, const struct kl_msg *msg, bool read)
{
    uint8_t oid = (uint8_t)kl_msg_u(msg, "oid");
    struct sdiodev *sdio = sim_oid_lookup(m, oid, sdiodev_type);
    if (!sdio)
        return;
    uint32_t len;
    int err = data_block(m, sdio, msg, read, &len);
    sim_sendf(m, read ? FMT_READ_DATA_RESPONSE : FMT_WRITE_DATA_RESPONSE,
              (struct kl_arg[]){ KL_U(oid), KL_U(err), KL_U(len) });
}

static void command_sdio_read_data(struct sim_mcu *m, const struct kl_msg *msg)
{
    data_command(m, msg, true);
}

static void command_sdio_write_data(struct sim_mcu *m, const struct kl_msg *msg)
{
    data_command(m, msg, false);
}

static void command_sdio_read_data_buffer(struct sim_mcu *m, const struct kl_msg *msg)
{
    uint8_t oid = (uint8_t)kl_msg_u(msg, "oid");
    struct sdiodev *sdio = sim_oid_lookup(m, oid, sdiodev_type);
    if (!sdio)
        return;
    uint32_t offset = kl_msg_u(msg, "offset");
    uint8_t len = (uint8_t)kl_msg_u(msg, "len");
    if ((uint64_t)offset + len > sizeof(sdio->data_buffer))
        len = 0;
    const uint8_t *data = len ? sdio->data_buffer + offset : sdio->data_buffer;
    sim_sendf(m, FMT_READ_DATA_BUFFER_RESPONSE, (struct kl_arg[]){ KL_U(oid), KL_BUF(data, len) });
}

static void command_sdio_write_data_buffer(struct sim_mcu *m, const struct kl_msg *msg)
{
    struct sdiodev *sdio = sim_oid_lookup(m, (uint8_t)kl_msg_u(msg, "oid"), sdiodev_type);
    if (!sdio)
        return;
    uint32_t offset = kl_msg_u(msg, "offset");
    const struct kl_arg *data = kl_msg_arg(msg, "data");
    if ((uint64_t)offset + data->len <= sizeof(sdio->data_buffer))
        memcpy(sdio->data_buffer + offset, data->data, data->len);
}

const struct sim_module sdiocmds_module = {
    "sdiocmds", sdio_build,
    (const struct sim_command[]){
        { "config_sdio oid=%c blocksize=%u", 0, command_config_sdio },
        { "sdio_set_bus oid=%c sdio_bus=%u", 0, command_sdio_set_bus },
        { "sdio_set_speed oid=%c speed=%u", 0, command_sdio_set_speed },
        { "sdio_send_command oid=%c cmd=%c argument=%u wait=%c", 0, command_sdio_send_command },
        { "sdio_read_data oid=%c cmd=%c argument=%u", 0, command_sdio_read_data },
        { "sdio_write_data oid=%c cmd=%c argument=%u", 0, command_sdio_write_data },
        { "sdio_read_data_buffer oid=%c offset=%u len=%c", 0, command_sdio_read_data_buffer },
        { "sdio_write_data_buffer oid=%c offset=%u data=%*s", 0, command_sdio_write_data_buffer },
        { NULL, 0, NULL },
    },
    (const char *const[]){ FMT_SEND_COMMAND_RESPONSE, FMT_READ_DATA_RESPONSE, FMT_WRITE_DATA_RESPONSE,
                           FMT_READ_DATA_BUFFER_RESPONSE, NULL },
    (const char *const[]){ "Invalid sdio bus", NULL },
    NULL,
    NULL,
};
