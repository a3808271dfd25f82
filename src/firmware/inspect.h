/* What a firmware file holds: its encoding (plain, MKS Robin, Chitu) and the
 * Klipper dictionary inside, decoding first where the file looks encoded. */
#ifndef MF_FIRMWARE_INSPECT_H
#define MF_FIRMWARE_INSPECT_H

#include "firmware/image.h"

enum fw_encoding {
    FW_ENC_UNKNOWN,  /* no dictionary found either way, so nothing proves the encoding */
    FW_ENC_PLAIN,
    FW_ENC_ROBIN,
    FW_ENC_CHITU,
};

struct fw_inspection {
    enum fw_encoding encoding;
    /* The dictionary as found in the decoded bytes (offsets refer to them). */
    struct fw_dict_info dict;
    /* The decoded bytes for ROBIN and CHITU (owned), else NULL. */
    uint8_t *decoded;
    size_t decoded_size;
    /* Set when the file has the Chitu magic but does not decode. */
    char decode_problem[sizeof(((struct mf_err *)0)->msg)];
};

/* Never fails on content; -1 only when memory runs out.  A Robin image whose
 * dictionary lies past the XOR window is told from a plain one by the code
 * in the window: Thumb instructions appear only when it is decoded. */
int fw_inspect(const uint8_t *data, size_t len, struct fw_inspection *in, struct mf_err *err);
void fw_inspection_free(struct fw_inspection *in);

/* "plain", "mks-robin", "chitu", or NULL for UNKNOWN. */
const char *fw_encoding_id(enum fw_encoding e);

#endif
