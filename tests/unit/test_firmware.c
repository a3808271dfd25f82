/* Firmware images: loading with clear errors, SHA-1, and finding the
 * compressed data dictionary in images built here the way the Klipper build
 * lays them out (zlib level 9 JSON somewhere in the binary). */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "firmware/convert.h"
#include "firmware/image.h"
#include "firmware/inspect.h"

static const char dict_json[] =
    "{\"app\":\"Klipper\",\"build_versions\":\"gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: (2.40-2+18+b1) 2.40\","
    "\"commands\":{\"allocate_oids count=%c\":9,\"finalize_config crc=%u\":11,\"get_clock\":6,"
    "\"get_config\":13,\"get_uptime\":5,\"identify offset=%u count=%c\":1,\"reset\":14},"
    "\"config\":{\"CLOCK_FREQ\":72000000,\"MCU\":\"stm32f103xe\",\"RECEIVE_WINDOW\":192,\"SERIAL_BAUD\":250000},"
    "\"enumerations\":{\"pin\":{\"PA0\":[0,16],\"PB0\":[16,16]}},\"license\":\"GNU GPLv3\","
    "\"responses\":{\"clock clock=%u\":80,\"config is_config=%c crc=%u is_shutdown=%c move_count=%hu\":82,"
    "\"identify_response offset=%u data=%.*s\":0,\"uptime high=%u clock=%u\":79},"
    "\"version\":\"v0.12.0-385-g0b2a4d8e\"}";

static uint32_t rng = 0x9E3779B9;

static uint8_t next_byte(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return (uint8_t)(rng >> 7);
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = next_byte();
}

static uint8_t *zcompress(const char *text, size_t len, int level, size_t *zlen)
{
    uLongf cap = compressBound(len);
    uint8_t *z = malloc(cap);
    if (compress2(z, &cap, (const Bytef *)text, len, level) != Z_OK) {
        free(z);
        return NULL;
    }
    *zlen = cap;
    return z;
}

/* Put a zlib stream of text at offset in img; returns its compressed length. */
static size_t embed(uint8_t *img, size_t size, size_t offset, const char *text, int level)
{
    size_t zlen = 0;
    uint8_t *z = zcompress(text, strlen(text), level, &zlen);
    CHECK(z != NULL && offset + zlen <= size);
    if (z && offset + zlen <= size)
        memcpy(img + offset, z, zlen);
    free(z);
    return zlen;
}

/* Random bytes with decoy zlib headers sprinkled in, like machine code. */
static uint8_t *random_image(size_t size)
{
    uint8_t *img = malloc(size);
    fill_random(img, size);
    static const uint8_t flags[] = { 0xDA, 0x9C, 0x01, 0x5E };
    for (size_t off = 17; off + 2 < size; off += 997) {
        img[off] = 0x78;
        img[off + 1] = flags[(off / 997) % 4];
    }
    return img;
}

static void test_finds_dictionary(void)
{
    size_t size = 300000, offset = 123457;
    uint8_t *img = random_image(size);
    /* A complete stream of other JSON and one of plain text, both earlier. */
    embed(img, size, 4001, "{\"fonts\":[1,2,3],\"version\":\"not a dictionary\"}", 9);
    embed(img, size, 9999, "Just some text that compresses fine but is no JSON at all.", 9);
    size_t zlen = embed(img, size, offset, dict_json, 9);
    CHECK_EQ(img[offset], 0x78);
    CHECK_EQ(img[offset + 1], 0xDA);

    struct fw_dict_info info;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_find_dict(img, size, &info, &err), 0);
    CHECK_EQ(info.status, FW_DICT_FOUND);
    CHECK_EQ(info.offset, offset);
    CHECK_EQ(info.zlen, zlen);
    CHECK_STR(info.mcu, "stm32f103xe");
    CHECK_STR(info.version, "v0.12.0-385-g0b2a4d8e");
    CHECK_STR(info.app, "Klipper");
    CHECK_STR(info.build_versions, "gcc: (15:12.2.rel1-1) 12.2.1 20221205 binutils: (2.40-2+18+b1) 2.40");
    CHECK(info.dict != NULL);
    if (info.dict) {
        CHECK_EQ(info.dict->json_len, strlen(dict_json));
        CHECK_MEM(info.dict->json, dict_json, strlen(dict_json));
    }
    fw_dict_info_free(&info);
    free(img);
}

static void test_other_compression_levels(void)
{
    static const struct { int level; uint8_t flag; } cases[] = {
        { 1, 0x01 }, { 3, 0x5E }, { 6, 0x9C }, { 9, 0xDA },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t size = 20000, offset = 3333 + i;
        uint8_t *img = random_image(size);
        embed(img, size, offset, dict_json, cases[i].level);
        CHECK_EQ(img[offset + 1], cases[i].flag);
        struct fw_dict_info info;
        CHECK_EQ(fw_find_dict(img, size, &info, NULL), 0);
        CHECK_EQ(info.status, FW_DICT_FOUND);
        CHECK_EQ(info.offset, offset);
        CHECK_STR(info.mcu, "stm32f103xe");
        fw_dict_info_free(&info);
        free(img);
    }
}

static void test_no_dictionary(void)
{
    size_t size = 200000;
    uint8_t *img = random_image(size);
    embed(img, size, 5000, "{\"commands\":{},\"note\":\"no version key\"}", 9);
    struct fw_dict_info info;
    CHECK_EQ(fw_find_dict(img, size, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_NONE);
    CHECK(info.dict == NULL);
    CHECK(info.mcu == NULL);
    fw_dict_info_free(&info);

    /* Degenerate sizes. */
    CHECK_EQ(fw_find_dict(img, 0, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_NONE);
    const uint8_t header_only[2] = { 0x78, 0xDA };
    CHECK_EQ(fw_find_dict(header_only, 2, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_NONE);
    CHECK_EQ(fw_find_dict(header_only, 1, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_NONE);
    free(img);
}

static void test_truncated_dictionary(void)
{
    size_t size = 50000, offset = 40001;
    uint8_t *img = random_image(size);
    size_t zlen = embed(img, size, offset, dict_json, 9);
    struct fw_dict_info info;
    /* The image ends halfway through the stream. */
    CHECK_EQ(fw_find_dict(img, offset + zlen / 2, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_TRUNCATED);
    CHECK_EQ(info.offset, offset);
    CHECK(info.dict == NULL);
    fw_dict_info_free(&info);
    /* Missing only the Adler-32 trailer is still incomplete. */
    CHECK_EQ(fw_find_dict(img, offset + zlen - 1, &info, NULL), 0);
    CHECK(info.status != FW_DICT_FOUND);
    fw_dict_info_free(&info);
    CHECK_EQ(fw_find_dict(img, offset + zlen, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_FOUND);
    fw_dict_info_free(&info);
    free(img);
}

static void test_invalid_dictionary(void)
{
    size_t size = 30000, offset = 777;
    uint8_t *img = random_image(size);
    /* Has version and commands, but no responses: not usable. */
    embed(img, size, offset, "{\"commands\":{\"get_uptime\":5},\"version\":\"v1\"}", 9);
    struct fw_dict_info info;
    CHECK_EQ(fw_find_dict(img, size, &info, NULL), 0);
    CHECK_EQ(info.status, FW_DICT_INVALID);
    CHECK_EQ(info.offset, offset);
    CHECK(info.problem[0] != '\0');
    CHECK(info.dict == NULL);
    fw_dict_info_free(&info);
    free(img);
}

static void expect_inspection(const uint8_t *data, size_t size, enum fw_encoding encoding,
                              size_t offset)
{
    struct fw_inspection in;
    CHECK_EQ(fw_inspect(data, size, &in, NULL), 0);
    CHECK_EQ(in.encoding, encoding);
    CHECK_EQ(in.dict.status, FW_DICT_FOUND);
    CHECK_EQ(in.dict.offset, offset);
    CHECK_STR(in.dict.mcu, "stm32f103xe");
    fw_inspection_free(&in);
}

/* A build too big for its dictionary to sit in the Robin window: the code
 * in the window tells an encoded file from a plain one. */
static void test_inspect_robin_by_code(void)
{
    size_t size = 60000;
    uint8_t *img = random_image(size);
    for (size_t i = 400; i + 22 < FW_ROBIN_END; i += 40) {
        img[i] = 0x10, img[i + 1] = 0xb5;        /* push {r4, lr} */
        img[i + 20] = 0x70, img[i + 21] = 0x47;  /* bx lr */
    }
    embed(img, size, 40000, dict_json, 9);
    uint8_t *plain = malloc(size);
    memcpy(plain, img, size);
    expect_inspection(img, size, FW_ENC_PLAIN, 40000);
    fw_robin_xor(img, size);
    expect_inspection(img, size, FW_ENC_ROBIN, 40000);
    struct fw_inspection in;
    CHECK_EQ(fw_inspect(img, size, &in, NULL), 0);
    CHECK(in.decoded && in.decoded_size == size && !memcmp(in.decoded, plain, size));
    fw_inspection_free(&in);
    free(plain);
    free(img);
}

static void test_inspect_encodings(void)
{
    size_t size = 60000;
    uint8_t *img = random_image(size);
    embed(img, size, 40000, dict_json, 9);
    expect_inspection(img, size, FW_ENC_PLAIN, 40000);
    CHECK_STR(fw_encoding_id(FW_ENC_PLAIN), "plain");

    /* A dictionary running across the end of the Robin window. */
    free(img);
    img = random_image(size);
    size_t zlen = embed(img, size, 31000, dict_json, 9);
    CHECK(31000 + zlen > FW_ROBIN_END);
    fw_robin_xor(img, size);
    struct fw_dict_info plain;
    CHECK_EQ(fw_find_dict(img, size, &plain, NULL), 0);
    CHECK(plain.status != FW_DICT_FOUND);
    fw_dict_info_free(&plain);
    expect_inspection(img, size, FW_ENC_ROBIN, 31000);
    CHECK_STR(fw_encoding_id(FW_ENC_ROBIN), "mks-robin");
    fw_robin_xor(img, size);

    uint8_t *cbd = NULL;
    size_t cbd_len = 0;
    CHECK_EQ(fw_chitu_encode(img, size, &cbd, &cbd_len, NULL), 0);
    expect_inspection(cbd, cbd_len, FW_ENC_CHITU, 31000);
    struct fw_inspection in;
    CHECK_EQ(fw_inspect(cbd, cbd_len, &in, NULL), 0);
    CHECK_EQ(in.decoded_size, size);
    CHECK(in.decoded && !memcmp(in.decoded, img, size));
    fw_inspection_free(&in);

    cbd[cbd_len - 1] ^= 0x40;
    CHECK_EQ(fw_inspect(cbd, cbd_len, &in, NULL), 0);
    CHECK_EQ(in.encoding, FW_ENC_CHITU);
    CHECK(in.decoded == NULL);
    CHECK(strstr(in.decode_problem, "checksum") != NULL);
    CHECK_EQ(in.dict.status, FW_DICT_NONE);
    fw_inspection_free(&in);

    fill_random(img, size);
    CHECK_EQ(fw_inspect(img, size, &in, NULL), 0);
    CHECK_EQ(in.encoding, FW_ENC_UNKNOWN);
    CHECK(fw_encoding_id(in.encoding) == NULL);
    fw_inspection_free(&in);
    free(cbd);
    free(img);
}

static char tmpdir[512];

static const char *tmp_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ(fwrite(data, 1, len, f), len);
        fclose(f);
    }
}

static void test_sha1(void)
{
    uint8_t md[FW_SHA1_LEN];
    char hex[2 * FW_SHA1_LEN + 1];
    CHECK_EQ(fw_sha1((const uint8_t *)"abc", 3, md), 0);
    fw_hex(md, sizeof(md), hex);
    CHECK_STR(hex, "a9993e364706816aba3e25717850c26c9cd0d89d"); /* FIPS 180 example */
}

static void test_load_image(void)
{
    const char *path = tmp_path("fw.bin");
    size_t size = 70000;
    uint8_t *img = random_image(size);
    write_file(path, img, size);
    struct fw_image fw;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_image_load(path, &fw, &err), 0);
    CHECK_EQ(fw.size, size);
    CHECK_STR(fw.path, path);
    if (fw.data && fw.size == size)
        CHECK_MEM(fw.data, img, size);
    uint8_t md[FW_SHA1_LEN];
    fw_sha1(img, size, md);
    CHECK_MEM(fw.sha1, md, sizeof(md));
    CHECK_EQ(strlen(fw.sha1_hex), 40);
    fw_image_free(&fw);

    write_file(path, "abc", 3);
    CHECK_EQ(fw_image_load(path, &fw, &err), 0);
    CHECK_STR(fw.sha1_hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    fw_image_free(&fw);
    free(img);
}

static void expect_load_error(const char *path, const char *text)
{
    struct fw_image fw;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_image_load(path, &fw, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, text) != NULL);
    CHECK(strstr(err.msg, "nothing was changed") != NULL);
    CHECK(fw.data == NULL);
    if (!strstr(err.msg, text))
        fprintf(stderr, "  message was: %s\n", err.msg);
}

static void test_load_errors(void)
{
    char expected[1200];
    const char *missing = tmp_path("no-such-klipper.bin");
    unlink(missing);
    snprintf(expected, sizeof(expected), "Firmware file %s does not exist; nothing was changed; build "
             "it with 'make' in ~/klipper, or check the path.", missing);
    struct fw_image fw;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_image_load(missing, &fw, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK_STR(err.msg, expected);

    const char *empty = tmp_path("empty.bin");
    write_file(empty, "", 0);
    expect_load_error(empty, "is empty");

    expect_load_error(tmpdir, "is a directory");

    /* Opens fine, but reading at offset 0 fails even for root. */
    expect_load_error("/proc/self/mem", "cannot be read");

    const char *big = tmp_path("big.bin");
    int fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(ftruncate(fd, (off_t)FW_IMAGE_MAX_BYTES + 1), 0);
    close(fd);
    expect_load_error(big, "larger than 32 MiB");
    unlink(big);

    /* Exactly at the bound is accepted. */
    fd = open(big, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK_EQ(ftruncate(fd, (off_t)FW_IMAGE_MAX_BYTES), 0);
    close(fd);
    CHECK_EQ(fw_image_load(big, &fw, &err), 0);
    CHECK_EQ(fw.size, FW_IMAGE_MAX_BYTES);
    fw_image_free(&fw);
    unlink(big);
}

static void test_dict_file(void)
{
    const char *path = tmp_path("klipper.dict");
    write_file(path, dict_json, strlen(dict_json));
    struct fw_dict_file df;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_dict_file_load(path, &df, &err), 0);
    CHECK_EQ(df.json_len, strlen(dict_json));
    CHECK_STR(df.json, dict_json);
    fw_dict_file_free(&df);

    write_file(path, "{\"version\":\"v1\"}", 16);
    CHECK_EQ(fw_dict_file_load(path, &df, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "not a Klipper data dictionary") != NULL);

    unlink(path);
    CHECK_EQ(fw_dict_file_load(path, &df, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "Dictionary file") != NULL && strstr(err.msg, "does not exist") != NULL);

    CHECK(fw_json_looks_like_dict(dict_json, strlen(dict_json)));
    CHECK(!fw_json_looks_like_dict(dict_json, strlen(dict_json) - 1));
    CHECK(!fw_json_looks_like_dict("[1,2]", 5));
}

int main(void)
{
    const char *base = getenv("MF_TMP");
    snprintf(tmpdir, sizeof(tmpdir), "%s/test_firmware.%d", base ? base : "/tmp", (int)getpid());
    if (base)
        mkdir(base, 0755);
    mkdir(tmpdir, 0755);

    test_finds_dictionary();
    test_other_compression_levels();
    test_no_dictionary();
    test_truncated_dictionary();
    test_invalid_dictionary();
    test_inspect_encodings();
    test_inspect_robin_by_code();
    test_sha1();
    test_load_image();
    test_load_errors();
    test_dict_file();
    rmdir(tmpdir);
    return check_report("test_firmware");
}
