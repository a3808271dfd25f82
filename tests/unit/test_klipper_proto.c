/* Wire-format vectors from the protocol reference: CRC check value, the
 * worked frames, the VLQ table, and the resync rules. */
#include <stdlib.h>

#include "check.h"
#include "klipper/dict.h"
#include "klipper/msgformat.h"
#include "klipper/proto.h"

/* Independent bit-by-bit CRC-16/MCRF4XX, to cross-check the byte-wise one. */
static uint16_t crc_bitwise(const uint8_t *d, size_t n)
{
    uint16_t crc = 0xffff;
    for (size_t i = 0; i < n; i++) {
        crc ^= d[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
    }
    return crc;
}

static void test_crc(void)
{
    CHECK_EQ(kl_crc16((const uint8_t *)"123456789", 9), 0x6F91);
    uint8_t buf[64];
    srand(1);
    for (int t = 0; t < 200; t++) {
        size_t n = (size_t)(rand() % 64);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)rand();
        CHECK_EQ(kl_crc16(buf, n), crc_bitwise(buf, n));
    }
}

static void test_frames(void)
{
    uint8_t out[KL_MESSAGE_MAX];
    static const uint8_t ack0[] = { 0x05, 0x10, 0x9E, 0x81, 0x7E };
    static const uint8_t ack1[] = { 0x05, 0x11, 0x8F, 0x08, 0x7E };
    static const uint8_t ident[] = { 0x08, 0x11, 0x01, 0x00, 0x28, 0x42, 0x24, 0x7E };
    CHECK_EQ(kl_block_build(0, NULL, 0, out), 5);
    CHECK_MEM(out, ack0, 5);
    CHECK_EQ(kl_block_build(1, NULL, 0, out), 5);
    CHECK_MEM(out, ack1, 5);

    struct kl_msgfmt f;
    CHECK_EQ(kl_msgfmt_parse("identify offset=%u count=%c", 1, false, &f), 0);
    uint8_t content[KL_PAYLOAD_MAX];
    int n = kl_msg_encode(&f, (struct kl_arg[]){ KL_U(0), KL_U(40) }, content, sizeof(content));
    CHECK_EQ(n, 3);
    CHECK_EQ(kl_block_build(1, content, (size_t)n, out), sizeof(ident));
    CHECK_MEM(out, ident, sizeof(ident));
    kl_msgfmt_free(&f);
}

static void test_vlq(void)
{
    static const struct { uint32_t v; uint8_t n; uint8_t b[5]; } table[] = {
        { 0, 1, { 0x00 } }, { 95, 1, { 0x5F } }, { 96, 2, { 0x80, 0x60 } },
        { (uint32_t)-1, 1, { 0x7F } }, { (uint32_t)-32, 1, { 0x60 } }, { (uint32_t)-33, 2, { 0xFF, 0x5F } },
        { 127, 2, { 0x80, 0x7F } }, { 128, 2, { 0x81, 0x00 } }, { 12287, 2, { 0xDF, 0x7F } },
        { 12288, 3, { 0x80, 0xE0, 0x00 } }, { 250000, 3, { 0x8F, 0xA1, 0x10 } },
        { 400000, 3, { 0x98, 0xB5, 0x00 } }, { 4000000, 4, { 0x81, 0xF4, 0x92, 0x00 } },
        { 0xFFFFFFFF, 1, { 0x7F } }, { 0x80000000, 5, { 0x88, 0x80, 0x80, 0x80, 0x00 } },
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        uint8_t out[5];
        size_t n = kl_vlq_encode(table[i].v, out);
        CHECK_EQ(n, table[i].n);
        CHECK_MEM(out, table[i].b, table[i].n);
        const uint8_t *p = table[i].b;
        uint32_t v;
        CHECK_EQ(kl_vlq_decode(&p, table[i].b + table[i].n, &v), 0);
        CHECK_EQ(v, table[i].v);
        CHECK(p == table[i].b + table[i].n);
    }
    /* Round trip across the size boundaries, and truncation. */
    static const int32_t edges[] = { -67108865, -67108864, -524289, -524288, -4097, -4096, -33, -32, 95, 96,
                                     12287, 12288, 1572863, 1572864, 201326591, 201326592, 0x7fffffff };
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
        uint8_t out[5];
        size_t n = kl_vlq_encode((uint32_t)edges[i], out);
        const uint8_t *p = out;
        uint32_t v;
        CHECK_EQ(kl_vlq_decode(&p, out + n, &v), 0);
        CHECK_EQ((int32_t)v, edges[i]);
        p = out;
        if (n > 1)
            CHECK_EQ(kl_vlq_decode(&p, out + n - 1, &v), -1);
    }
}

static void test_finder(void)
{
    struct kl_finder f = { 0 };
    uint8_t stream[128];
    size_t n = 0, len;
    stream[n++] = 0x7E; /* a leading sync is dropped silently */
    n += kl_block_build(3, (const uint8_t *)"\x01\x02", 2, stream + n);
    size_t bad = n;
    n += kl_block_build(4, NULL, 0, stream + n);
    stream[bad + 1] ^= 0x01; /* corrupt the seq byte's low bit: CRC fails */
    n += kl_block_build(5, NULL, 0, stream + n);

    size_t pos = 0;
    CHECK_EQ(kl_block_find(&f, stream + pos, n - pos, &len), KL_FIND_SYNC);
    CHECK_EQ(len, 1);
    pos += len;
    CHECK_EQ(kl_block_find(&f, stream + pos, 3, &len), KL_FIND_MORE);
    CHECK_EQ(kl_block_find(&f, stream + pos, n - pos, &len), KL_FIND_BLOCK);
    CHECK_EQ(len, 7);
    pos += len;
    CHECK_EQ(kl_block_find(&f, stream + pos, n - pos, &len), KL_FIND_ERROR);
    CHECK_EQ(len, 5);
    pos += len;
    CHECK_EQ(kl_block_find(&f, stream + pos, n - pos, &len), KL_FIND_BLOCK);
    CHECK_EQ(stream[pos + 1], 0x15);
    pos += len;
    CHECK_EQ(pos, n);

    /* Garbage without a sync leaves the finder waiting for one. */
    uint8_t junk[] = { 0x02, 0x33, 0x44 };
    CHECK_EQ(kl_block_find(&f, junk, sizeof(junk), &len), KL_FIND_ERROR);
    CHECK_EQ(len, 3);
    CHECK(f.need_sync);
    uint8_t tail[] = { 0x10, 0x7E, 0x05 };
    CHECK_EQ(kl_block_find(&f, tail, sizeof(tail), &len), KL_FIND_SYNC);
    CHECK_EQ(len, 2);
    CHECK(!f.need_sync);
}

static void test_formats(void)
{
    struct kl_msgfmt f;
    CHECK_EQ(kl_msgfmt_parse("spi_transfer_response oid=%c response=%*s", -5, false, &f), 0);
    CHECK_STR(f.name, "spi_transfer_response");
    CHECK_EQ(f.nparams, 2);
    uint8_t buf[64];
    const uint8_t data[3] = { 0xFF, 0x7E, 0x00 };
    int n = kl_msg_encode(&f, (struct kl_arg[]){ KL_U(7), KL_BUF(data, 3) }, buf, sizeof(buf));
    CHECK_EQ(n, 1 + 1 + 1 + 3);
    CHECK_EQ(buf[0], 0x7B); /* id -5 is one byte */
    const uint8_t *p = buf + 1;
    struct kl_msg m;
    CHECK_EQ(kl_msg_decode_params(&f, &p, buf + n, &m), 0);
    CHECK_EQ(kl_msg_u(&m, "oid"), 7);
    CHECK_EQ(kl_msg_arg(&m, "response")->len, 3);
    CHECK_MEM(kl_msg_arg(&m, "response")->data, data, 3);
    p = buf + 1;
    CHECK_EQ(kl_msg_decode_params(&f, &p, buf + n - 1, &m), -1); /* truncated */
    CHECK_EQ(kl_msg_encode(&f, (struct kl_arg[]){ KL_U(7), KL_BUF(data, 3) }, buf, 5), -1);
    kl_msgfmt_free(&f);

    CHECK_EQ(kl_msgfmt_parse("config is_config=%c crc=%u is_shutdown=%c move_count=%hu", 80, false, &f), 0);
    CHECK_EQ(f.nparams, 4);
    CHECK_EQ(f.params[3].type, KL_PT_U16);
    kl_msgfmt_free(&f);
    CHECK_EQ(kl_msgfmt_parse("shutdown clock=%u static_string_id=%hu", 3, false, &f), 0);
    kl_msgfmt_free(&f);
    CHECK_EQ(kl_msgfmt_parse("debug value=%q", 3, false, &f), -1);
    CHECK_EQ(kl_msgfmt_parse("Stepper %c at %u%% of %s", 90, true, &f), 0);
    CHECK_EQ(f.nparams, 3);
    CHECK_EQ(f.params[2].type, KL_PT_STRING);
    kl_msgfmt_free(&f);
}

static void test_dict(void)
{
    static const char json[] =
        "{\"app\":\"Klipper\",\"build_versions\":\"gcc: 12\",\"commands\":{\"identify offset=%u count=%c\":1,"
        "\"spi_send oid=%c data=%*s\":-3},\"config\":{\"CLOCK_FREQ\":72000000,\"MCU\":\"stm32f103xe\","
        "\"SERIAL_BAUD\":\"250000\"},\"enumerations\":{\"pin\":{\"PA0\":[0,16],\"PB0\":[16,16]},"
        "\"spi_bus\":{\"spi1\":1,\"spi2\":0},\"lpcpin\":{\"P0.0\":[0,32],\"P1.0\":[32,32]}},"
        "\"responses\":{\"identify_response offset=%u data=%.*s\":0,\"stats count=%u sum=%u sumsq=%u\":200},"
        "\"version\":\"v0.13.0-1\"}";
    struct kl_dict *d;
    struct mf_err err;
    CHECK_EQ(kl_dict_parse(json, sizeof(json) - 1, &d, &err), 0);
    CHECK_STR(d->version, "v0.13.0-1");
    CHECK_STR(d->app, "Klipper");
    CHECK_STR(kl_dict_const(d, "MCU"), "stm32f103xe");
    int64_t v;
    CHECK(kl_dict_const_int(d, "CLOCK_FREQ", &v) && v == 72000000);
    CHECK(kl_dict_const_int(d, "SERIAL_BAUD", &v) && v == 250000);
    CHECK(kl_dict_command(d, "spi_send")->id == -3);
    CHECK(kl_dict_by_id(d, 200) == kl_dict_response(d, "stats"));
    const struct kl_enum *pin = kl_dict_enum_for_param(d, "cs_pin");
    CHECK(pin && !strcmp(pin->name, "pin"));
    CHECK(kl_dict_enum_for_param(d, "spi_bus") == kl_dict_enum(d, "spi_bus"));
    CHECK(kl_dict_enum_for_param(d, "bus") == NULL);
    int32_t val;
    CHECK(kl_enum_value(pin, "PA4", &val) == 0 && val == 4);
    CHECK(kl_enum_value(pin, "PB15", &val) == 0 && val == 31);
    CHECK_EQ(kl_enum_value(pin, "PB16", &val), -1);
    CHECK_EQ(kl_enum_value(pin, "PA04", &val), -1);
    CHECK_EQ(kl_enum_value(pin, "PC0", &val), -1);
    const struct kl_enum *lpc = kl_dict_enum(d, "lpcpin");
    CHECK(kl_enum_value(lpc, "P1.31", &val) == 0 && val == 63);
    char buf[32];
    CHECK_STR(kl_enum_name(lpc, 38, buf, sizeof(buf)), "P1.6");
    CHECK_STR(kl_enum_name(kl_dict_enum(d, "spi_bus"), 0, buf, sizeof(buf)), "spi2");
    kl_dict_free(d);

    CHECK_EQ(kl_dict_parse("{\"version\":1}", 13, &d, &err), -1);
    CHECK_EQ(err.code, MF_E_PROTOCOL);
    CHECK_EQ(kl_dict_parse("{\"commands\":", 12, &d, &err), -1);
}

int main(void)
{
    test_crc();
    test_frames();
    test_vlq();
    test_finder();
    test_formats();
    test_dict();
    return check_report("klipper_proto");
}
