/* Block decoder fuzzing: arbitrary bytes from a "board" go through the
 * block finder and the message decoder of a realistic dictionary. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "klipper/dict.h"
#include "klipper/proto.h"

static const char dict_json[] =
    "{\"commands\":{\"identify offset=%u count=%c\":1,\"spi_send oid=%c data=%*s\":2,"
    "\"get_config\":3},\"responses\":{\"identify_response offset=%u data=%.*s\":0,"
    "\"config is_config=%c crc=%u is_shutdown=%c move_count=%hu\":-20,"
    "\"spi_transfer_response oid=%c response=%*s\":130,\"shutdown clock=%u static_string_id=%hu\":4,"
    "\"stats count=%u sum=%u sumsq=%u\":5000},\"output\":{\"Got %c bytes %s at %u\":6},"
    "\"enumerations\":{\"static_string_id\":{\"Command request\":2}},\"version\":\"fuzz\"}";

static struct kl_dict *dict;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dict) {
        struct mf_err err;
        if (kl_dict_parse(dict_json, sizeof(dict_json) - 1, &dict, &err) < 0)
            abort();
    }
    struct kl_finder f = { 0 };
    size_t pos = 0, len;
    /* Feed in irregular pieces, as a serial port delivers them. */
    size_t avail = size < 7 ? size : 7;
    while (pos < size) {
        enum kl_find_result r = kl_block_find(&f, data + pos, avail, &len);
        if (r == KL_FIND_MORE) {
            if (pos + avail >= size)
                break;
            avail = avail + 13 > size - pos ? size - pos : avail + 13;
            continue;
        }
        if (len == 0 || len > avail)
            abort(); /* the finder must always make progress within what it saw */
        if (r == KL_FIND_BLOCK) {
            const uint8_t *p = data + pos + KL_HEADER_SIZE, *end = data + pos + len - KL_TRAILER_SIZE;
            if (kl_crc16(data + pos, len - KL_TRAILER_SIZE) !=
                (uint16_t)(data[pos + len - 3] << 8 | data[pos + len - 2]))
                abort();
            while (p < end) {
                uint32_t id;
                struct kl_msg m;
                if (kl_vlq_decode(&p, end, &id) < 0)
                    break;
                const struct kl_msgfmt *fmt = kl_dict_by_id(dict, (int32_t)id);
                if (!fmt || kl_msg_decode_params(fmt, &p, end, &m) < 0)
                    break;
                char text[512];
                kl_msg_format(&m, text, sizeof(text));
            }
        }
        pos += len;
        avail = size - pos < 7 ? size - pos : 7;
    }
    return 0;
}
