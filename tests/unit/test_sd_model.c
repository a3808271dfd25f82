/* The SD card model on its own, byte by byte, driven the way Klipper's
 * spi_flash drives a card (a frame per CS window, 8-byte reply windows,
 * 32-byte data windows) and the way an STM32 SDIO peripheral reports it. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "cardbus_model.h"
#include "sd/sd.h"
#include "sd/sd_crc.h"

#define SECTORS 2048u

static struct model_rig rig;

static bool open_rig(const struct sdcard_config *cfg)
{
    if (model_rig_open(&rig, "sdmodel", SECTORS, cfg, CARDBUS_SPI, 55) < 0) {
        CHECK(!"rig");
        return false;
    }
    return true;
}

/* One command as spi_send, then one spi_transfer of n bytes of 0xFF. */
static void command(uint8_t cmd, uint32_t arg, uint8_t *reply, size_t n)
{
    uint8_t f[6];
    sd_frame(f, cmd, arg);
    sdcard_spi_window(rig.card, f, NULL, sizeof(f));
    sdcard_spi_window(rig.card, NULL, reply, n);
}

/* Index of the first byte that is not 0xFF, or -1. */
static int first_non_ff(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0xFF)
            return (int)i;
    return -1;
}

static uint8_t r1_of(uint8_t cmd, uint32_t arg)
{
    uint8_t r[8];
    command(cmd, arg, r, sizeof(r));
    int i = first_non_ff(r, sizeof(r));
    return i < 0 ? 0xFF : r[i];
}

static uint8_t poll_byte(void)
{
    uint8_t b;
    sdcard_spi_window(rig.card, NULL, &b, 1);
    return b;
}

/* The spi_flash initialisation, checking each answer against the reference. */
static void klipper_init(enum sdcard_type type)
{
    uint8_t r[8];
    CHECK_EQ(r1_of(0, 0), 0x01);
    command(8, 0x10A, r, sizeof(r));
    int i = first_non_ff(r, sizeof(r));
    if (type == SDCARD_V1_SDSC) {
        CHECK_EQ(r[i], 0x05);  /* idle + illegal */
    } else {
        CHECK(i >= 0 && i <= 3);
        const uint8_t r7[5] = { 0x01, 0x00, 0x00, 0x01, 0x0A };
        CHECK_MEM(r + i, r7, 5);
    }
    CHECK_EQ(r1_of(59, 1), 0x01);
    if (type == SDCARD_V1_SDSC) {
        command(58, 0, r, sizeof(r));
        i = first_non_ff(r, sizeof(r));
        CHECK_EQ(r[i], 0x01);
        CHECK_EQ(r[i + 2], 0xFF);  /* OCR bits 23..16: 3.3 V is fine */
    }
    uint32_t arg = type == SDCARD_V1_SDSC ? 0 : 1u << 30;
    unsigned polls = 0;
    for (; polls < 20; polls++) {
        CHECK_EQ(r1_of(55, 0), 0x01);
        if (r1_of(41, arg) == 0)
            break;
    }
    CHECK_EQ(polls, sdcard_config(rig.card)->init_polls);
    command(58, 0, r, sizeof(r));
    i = first_non_ff(r, sizeof(r));
    CHECK_EQ(r[i], 0x00);
    CHECK_EQ(r[i + 1], type == SDCARD_SDHC ? 0xC0 : 0x80);  /* powered up, CCS */
    CHECK_EQ(r1_of(16, 512), 0x00);
}

/* Read a data block the way spi_flash does: single-byte polls. */
static bool read_block(uint8_t *dst, size_t len, unsigned *latency)
{
    int polls = 0;
    uint8_t b;
    while ((b = poll_byte()) == 0xFF && polls++ < 10)
        ;
    if (b != 0x00)
        return false;
    *latency = 0;
    while ((b = poll_byte()) == 0xFF && *latency < 1000)
        ++*latency;
    if (b != 0xFE)
        return false;
    for (size_t off = 0; off < len; off += 32)
        sdcard_spi_window(rig.card, NULL, dst + off, len - off < 32 ? len - off : 32);
    uint8_t crc[2];
    sdcard_spi_window(rig.card, NULL, crc, 2);
    return (crc[0] << 8 | crc[1]) == sd_crc16(dst, len);
}

static void test_klipper_sequence(void)
{
    const enum sdcard_type types[] = { SDCARD_V1_SDSC, SDCARD_V2_SDSC, SDCARD_SDHC };
    for (int t = 0; t < 3; t++) {
        struct sdcard_config cfg;
        sdcard_config_init(&cfg);
        cfg.type = types[t];
        cfg.init_polls = 3;
        cfg.read_latency = 5;
        if (!open_rig(&cfg))
            return;
        klipper_init(types[t]);
        CHECK(sdcard_in_spi_mode(rig.card));

        uint8_t reg[16], sector[512], file[512];
        unsigned latency;
        uint8_t f[6];
        sd_frame(f, 10, 0);
        sdcard_spi_window(rig.card, f, NULL, 6);
        CHECK(read_block(reg, 16, &latency));
        CHECK_EQ(latency, 5);
        CHECK_EQ(reg[15], (uint8_t)(sd_crc7(reg, 15) << 1 | 1));
        CHECK_EQ(reg[0], cfg.mid);

        uint32_t lba = 77, addr = types[t] == SDCARD_SDHC ? lba : lba * 512;
        sd_frame(f, 17, addr);
        sdcard_spi_window(rig.card, f, NULL, 6);
        CHECK(read_block(sector, 512, &latency));
        CHECK_EQ(model_rig_file_read(&rig, lba, 1, file), 0);
        CHECK_MEM(sector, file, 512);
        CHECK_EQ(poll_byte(), 0xFF);
        model_rig_close(&rig);
    }
}

/* R1 comes as the ncr-th byte after the frame, whatever the CS windows. */
static void test_ncr(void)
{
    for (uint8_t ncr = 1; ncr <= 8; ncr++) {
        struct sdcard_config cfg;
        sdcard_config_init(&cfg);
        cfg.ncr = ncr;
        if (!open_rig(&cfg))
            return;
        uint8_t r[12];
        command(0, 0, r, sizeof(r));
        CHECK_EQ(first_non_ff(r, sizeof(r)), ncr - 1);
        CHECK_EQ(r[ncr - 1], 0x01);
        /* The same with the reply read one byte per window. */
        uint8_t f[6];
        sd_frame(f, 59, 0);
        sdcard_spi_window(rig.card, f, NULL, 6);
        for (int i = 0; i < ncr - 1; i++)
            CHECK_EQ(poll_byte(), 0xFF);
        CHECK_EQ(poll_byte(), 0x01);
        model_rig_close(&rig);
    }
}

/* CMD0 needs a valid CRC; others only once CMD59 turned checking on. */
static void test_command_crc(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    if (!open_rig(&cfg))
        return;
    uint8_t bad0[6] = { 0x40, 0, 0, 0, 0, 0x01 }, r[8];
    sdcard_spi_window(rig.card, bad0, NULL, 6);
    sdcard_spi_window(rig.card, NULL, r, 8);
    CHECK_EQ(first_non_ff(r, 8), -1);  /* an SD-mode card does not switch */
    CHECK(!sdcard_in_spi_mode(rig.card));
    CHECK_EQ(r1_of(0, 0), 0x01);
    /* Dummy CRC bytes, as bootloaders send them, are fine while CRC is off. */
    uint8_t dummy58[6] = { 0x40 | 58, 0, 0, 0, 0, 0x01 };
    sdcard_spi_window(rig.card, dummy58, NULL, 6);
    sdcard_spi_window(rig.card, NULL, r, 8);
    CHECK_EQ(r[first_non_ff(r, 8)], 0x01);
    uint8_t bad8[6] = { 0x48, 0, 0, 0x01, 0xAA, 0x01 };  /* CMD8 is always checked */
    sdcard_spi_window(rig.card, bad8, NULL, 6);
    sdcard_spi_window(rig.card, NULL, r, 8);
    CHECK_EQ(r[first_non_ff(r, 8)], 0x09);
    CHECK_EQ(r1_of(59, 1), 0x01);
    sdcard_spi_window(rig.card, dummy58, NULL, 6);
    sdcard_spi_window(rig.card, NULL, r, 8);
    CHECK_EQ(r[first_non_ff(r, 8)], 0x09);  /* idle + CRC error */
    CHECK_EQ(r1_of(17, 0), 0x05);           /* no data commands before ACMD41 */
    CHECK_EQ(r1_of(60, 0), 0x05);
    model_rig_close(&rig);
}

/* A high-capacity card never finishes ACMD41 without HCS. */
static void test_sdhc_needs_hcs(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    if (!open_rig(&cfg))
        return;
    CHECK_EQ(r1_of(0, 0), 0x01);
    for (int i = 0; i < 10; i++) {
        r1_of(55, 0);
        CHECK_EQ(r1_of(41, 0), 0x01);
    }
    model_rig_close(&rig);
}

static void ready_card(const struct sdcard_config *cfg)
{
    CHECK_EQ(r1_of(0, 0), 0x01);
    CHECK_EQ(r1_of(59, 1), 0x01);
    for (int i = 0; i < 20; i++) {
        r1_of(55, 0);
        if (r1_of(41, 1u << 30) == 0)
            break;
    }
    CHECK_EQ(r1_of(13, 0), 0x00);
    (void)cfg;
}

/* After the data block: the response token, exactly write_busy bytes of
 * busy, then 0xFF; CMD13 reports no error. */
static unsigned send_block(uint8_t token, const uint8_t *data, uint16_t crc, uint8_t *response)
{
    uint8_t pkt[515];
    pkt[0] = token;
    memcpy(pkt + 1, data, 512);
    pkt[513] = (uint8_t)(crc >> 8);
    pkt[514] = (uint8_t)crc;
    for (size_t off = 0; off < sizeof(pkt); off += 32)
        sdcard_spi_window(rig.card, pkt + off, NULL, sizeof(pkt) - off < 32 ? sizeof(pkt) - off : 32);
    *response = poll_byte();
    unsigned busy = 0;
    while (poll_byte() == 0x00 && busy < 10000)
        busy++;
    return busy;
}

static void test_writes(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.write_busy = 33;
    if (!open_rig(&cfg))
        return;
    ready_card(&cfg);
    uint8_t data[512], file[512], resp;
    model_fill(data, sizeof(data), 3);
    CHECK_EQ(r1_of(24, 9), 0x00);
    CHECK_EQ(send_block(0xFE, data, sd_crc16(data, 512), &resp), 33);
    CHECK_EQ(resp & 0x1F, 0x05);
    uint8_t r[8];
    command(13, 0, r, sizeof(r));
    int i = first_non_ff(r, sizeof(r));
    CHECK(r[i] == 0 && r[i + 1] == 0);
    CHECK_EQ(model_rig_file_read(&rig, 9, 1, file), 0);
    CHECK_MEM(file, data, 512);

    /* A wrong CRC: 0x0B, no busy, nothing stored. */
    uint8_t other[512];
    model_fill(other, sizeof(other), 4);
    CHECK_EQ(r1_of(24, 9), 0x00);
    CHECK_EQ(send_block(0xFE, other, sd_crc16(other, 512) ^ 1, &resp), 0);
    CHECK_EQ(resp & 0x1F, 0x0B);
    CHECK_EQ(model_rig_file_read(&rig, 9, 1, file), 0);
    CHECK_MEM(file, data, 512);

    /* Multi-block: two blocks, then the stop token, a byte, then busy. */
    uint8_t second[512];
    model_fill(second, sizeof(second), 5);
    CHECK_EQ(r1_of(25, 100), 0x00);
    CHECK_EQ(send_block(0xFC, other, sd_crc16(other, 512), &resp), 33);
    CHECK_EQ(resp & 0x1F, 0x05);
    CHECK_EQ(send_block(0xFC, second, sd_crc16(second, 512), &resp), 33);
    uint8_t stop[3] = { 0xFD, 0xFF, 0xFF }, back[3];
    sdcard_spi_window(rig.card, stop, back, 3);
    CHECK_EQ(back[1], 0xFF);
    CHECK_EQ(back[2], 0x00);
    unsigned busy = 1;
    while (poll_byte() == 0x00)
        busy++;
    CHECK_EQ(busy, 33);
    CHECK_EQ(model_rig_file_read(&rig, 100, 1, file), 0);
    CHECK_MEM(file, other, 512);
    CHECK_EQ(model_rig_file_read(&rig, 101, 1, file), 0);
    CHECK_MEM(file, second, 512);

    /* Write-protected: accepted command, refused data, status says why. */
    sdcard_set_write_protect(rig.card, SDCARD_WP_TEMPORARY);
    CHECK_EQ(r1_of(24, 9), 0x00);
    CHECK_EQ(send_block(0xFE, other, sd_crc16(other, 512), &resp), 0);
    CHECK_EQ(resp & 0x1F, 0x0D);
    command(13, 0, r, sizeof(r));
    i = first_non_ff(r, sizeof(r));
    CHECK_EQ(r[i + 1], 0x20);
    CHECK_EQ(model_rig_file_read(&rig, 9, 1, file), 0);
    CHECK_MEM(file, data, 512);
    CHECK_EQ(sdcard_stats(rig.card)->sectors_written, 3);
    model_rig_close(&rig);
}

/* CMD18 streams blocks until CMD12; the byte after CMD12 is a stuff byte. */
static void test_multi_read(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.read_latency = 3;
    cfg.ncr = 2;
    if (!open_rig(&cfg))
        return;
    ready_card(&cfg);
    uint8_t f[6], got[512], file[512];
    sd_frame(f, 18, SECTORS - 2);
    sdcard_spi_window(rig.card, f, NULL, 6);
    unsigned latency;
    CHECK(read_block(got, 512, &latency));
    CHECK_EQ(model_rig_file_read(&rig, SECTORS - 2, 1, file), 0);
    CHECK_MEM(got, file, 512);
    /* The next block follows without another R1. */
    uint8_t stream[3 + 1 + 512 + 2];
    sdcard_spi_window(rig.card, NULL, stream, sizeof(stream));
    CHECK_EQ(first_non_ff(stream, sizeof(stream)), 3);
    CHECK_EQ(stream[3], 0xFE);
    CHECK_EQ(model_rig_file_read(&rig, SECTORS - 1, 1, file), 0);
    CHECK_MEM(stream + 4, file, 512);
    /* Past the end: an out-of-range error token. */
    uint8_t tail[8];
    sdcard_spi_window(rig.card, NULL, tail, sizeof(tail));
    CHECK_EQ(tail[first_non_ff(tail, sizeof(tail))], 0x08);
    sd_frame(f, 12, 0);
    sdcard_spi_window(rig.card, f, NULL, 6);
    uint8_t r[8];
    sdcard_spi_window(rig.card, NULL, r, sizeof(r));
    CHECK_EQ(r[1], 0xFF);  /* stuff byte, then Ncr-1 = 1 byte, then R1 */
    CHECK_EQ(r[2], 0x00);
    CHECK_EQ(r[3], 0x00);  /* busy */
    CHECK_EQ(r[7], 0xFF);
    CHECK_EQ(r1_of(13, 0), 0x00);
    model_rig_close(&rig);
}

static uint64_t fake_now_ns;
static uint64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now_ns;
}

/* The SD-mode state machine and response formats. */
static void test_sd_mode(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.init_polls = 2;
    cfg.sd_busy_polls = 2;
    cfg.clock_ns = fake_clock;
    cfg.write_busy_ns = 1000000;
    cfg.rca = 0x1234;
    if (!open_rig(&cfg))
        return;
    struct sdcard *c = rig.card;
    uint8_t r[16];
    CHECK_EQ(sdcard_sd_command(c, 0, 0, 0, r), 0);
    CHECK_EQ(sdcard_sd_command(c, 2, 0, 2, r), 3);  /* not ready yet */
    CHECK_EQ(sdcard_sd_command(c, 8, 0x1AA, 1, r), 0);
    CHECK(r[2] == 0x01 && r[3] == 0xAA);
    int polls = 0;
    for (;; polls++) {
        CHECK_EQ(sdcard_sd_command(c, 55, 0, 1, r), 0);
        CHECK(r[3] & 0x20);  /* APP_CMD */
        CHECK_EQ(sdcard_sd_command(c, 41, 0xC1100000, 1, r), 4);  /* R3: no CRC */
        if (r[0] & 0x80)
            break;
    }
    CHECK_EQ(polls, 2);
    CHECK_EQ(r[0], 0xC0);  /* ready, CCS */
    CHECK_EQ(sdcard_sd_state(c), 1);
    CHECK_EQ(sdcard_sd_command(c, 2, 0, 2, r), 0);
    CHECK_EQ(r[0], cfg.mid);
    CHECK_EQ(r[15], (uint8_t)(sd_crc7(r, 15) << 1));  /* no end bit */
    CHECK_EQ(sdcard_sd_command(c, 3, 0, 1, r), 0);
    CHECK(r[0] == 0x12 && r[1] == 0x34);
    CHECK_EQ(sdcard_sd_state(c), 3);
    CHECK_EQ(sdcard_sd_command(c, 9, 0x43210000, 2, r), 3);  /* wrong RCA */
    CHECK_EQ(sdcard_sd_command(c, 9, 0x12340000, 2, r), 0);
    CHECK_EQ(r[0] >> 6, 1);
    CHECK_EQ(sdcard_sd_command(c, 7, 0x12340000, 1, r), 0);
    CHECK_EQ((r[2] >> 1) & 0x0F, 3);  /* status shows the state before */
    CHECK_EQ(sdcard_sd_state(c), 4);

    uint8_t data[512], file[512];
    CHECK_EQ(sdcard_sd_read_block(c, 17, 5, data), 0);
    CHECK_EQ(model_rig_file_read(&rig, 5, 1, file), 0);
    CHECK_MEM(data, file, 512);
    CHECK_EQ(sdcard_sd_read_block(c, 17, SECTORS, data), 7);  /* out of range */
    model_fill(data, sizeof(data), 8);
    CHECK_EQ(sdcard_sd_write_block(c, 24, 6, data), 0);
    CHECK_EQ(sdcard_sd_state(c), 7);
    CHECK_EQ(sdcard_sd_write_block(c, 24, 7, data), 3);  /* busy programming */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(sdcard_sd_command(c, 13, 0x12340000, 1, r), 0);
        CHECK_EQ((r[2] >> 1) & 0x0F, 7);
        CHECK(!(r[2] & 1));  /* not ready for data */
    }
    CHECK_EQ(sdcard_sd_command(c, 13, 0x12340000, 1, r), 0);
    CHECK_EQ((r[2] >> 1) & 0x0F, 4);
    CHECK(r[2] & 1);
    CHECK_EQ(model_rig_file_read(&rig, 6, 1, file), 0);
    CHECK_MEM(data, file, 512);
    /* Left alone, the card is done programming after its time: the next
     * data command works without a CMD13 first (Klipper's spi_flash.py). */
    CHECK_EQ(sdcard_sd_write_block(c, 24, 8, data), 0);
    fake_now_ns += 999999;
    CHECK_EQ(sdcard_sd_read_block(c, 17, 8, file), 3);  /* still programming */
    fake_now_ns += 1;
    CHECK_EQ(sdcard_sd_read_block(c, 17, 8, file), 0);
    CHECK_MEM(data, file, 512);

    /* SPI CMD0 locks it into SPI mode until power is cut. */
    CHECK_EQ(r1_of(0, 0), 0x01);
    CHECK(sdcard_in_spi_mode(c));
    CHECK_EQ(sdcard_sd_command(c, 13, 0x12340000, 1, r), 3);
    CHECK_EQ(sdcard_sd_command(c, 0, 0, 0, r), 0);
    CHECK_EQ(sdcard_sd_command(c, 8, 0x1AA, 1, r), 3);
    CHECK_EQ(sdcard_sd_command(c, 55, 0, 1, r), 3);
    CHECK_EQ(sdcard_sd_read_block(c, 17, 5, data), 3);
    sdcard_power_cycle(c);
    CHECK(!sdcard_in_spi_mode(c));
    CHECK_EQ(sdcard_sd_command(c, 8, 0x1AA, 1, r), 0);
    CHECK_EQ(sdcard_stats(c)->power_cycles, 1);
    model_rig_close(&rig);
}

static void test_no_card(void)
{
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.present = false;
    if (!open_rig(&cfg))
        return;
    uint8_t r[16];
    command(0, 0, r, 8);
    CHECK_EQ(first_non_ff(r, 8), -1);
    CHECK_EQ(sdcard_sd_command(rig.card, 8, 0x1AA, 1, r), 3);
    sdcard_set_present(rig.card, true);
    CHECK_EQ(r1_of(0, 0), 0x01);
    model_rig_close(&rig);
}

/* The CSD states a capacity no larger than the image, as close as it can. */
static void capacity_case(enum sdcard_type type, uint64_t bytes, uint64_t want)
{
    char path[512];
    const char *dir = getenv("MF_TMP");
    snprintf(path, sizeof(path), "%s/sdcap-%d.img", dir && *dir ? dir : "/tmp", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, (off_t)bytes) == 0);
    close(fd);
    struct sdcard_config cfg;
    sdcard_config_init(&cfg);
    cfg.type = type;
    struct sdcard *card = NULL;
    struct mf_err err;
    int rc = sdcard_open_image(path, &cfg, &card, &err);
    if (want == 0) {
        CHECK_EQ(rc, -1);
        unlink(path);
        return;
    }
    CHECK_EQ(rc, 0);
    if (card) {
        CHECK_EQ((uint64_t)sdcard_sector_count(card) * 512, want);
        /* Decode the card's own CSD with the host code. */
        struct cardbus *bus = cardbus_model_new(card, CARDBUS_SPI, 55);
        struct sd_card *sd = NULL;
        CHECK_EQ(sd_open(bus, &sd, &err), 0);
        if (sd)
            CHECK_EQ(sd_card_info(sd)->capacity_bytes, want);
        sd_close(sd, &err);
        cardbus_model_free(bus);
        sdcard_free(card);
    }
    unlink(path);
}

static void test_capacity(void)
{
    const uint64_t MiB = 1024 * 1024;
    capacity_case(SDCARD_V2_SDSC, 4 * MiB, 4 * MiB);
    capacity_case(SDCARD_V2_SDSC, 3 * MiB + 7 * 512, 3 * MiB + 4 * 512);  /* 2 KiB units */
    capacity_case(SDCARD_V1_SDSC, 100 * MiB + 12345, 100 * MiB);
    capacity_case(SDCARD_V1_SDSC, 2048 * MiB, 2048 * MiB);  /* READ_BL_LEN 10 */
    capacity_case(SDCARD_V1_SDSC, 3072 * MiB, 3072 * MiB);  /* READ_BL_LEN 11 */
    capacity_case(SDCARD_SDHC, 8 * MiB + 300 * 1024, 8 * MiB);  /* 512 KiB units */
    capacity_case(SDCARD_SDHC, 64 * 1024, 0);  /* too small */
}

int main(void)
{
    test_klipper_sequence();
    test_ncr();
    test_command_crc();
    test_sdhc_needs_hcs();
    test_writes();
    test_multi_read();
    test_sd_mode();
    test_no_card();
    test_capacity();
    return check_report("test_sd_model");
}
