/* Preparing a firmware image for a board: load it, read the Klipper
 * dictionary it carries (MCU, version), load the klipper.dict if given,
 * check both against the board, and convert it for the board's bootloader. */
#ifndef MF_METHOD_FWPREP_H
#define MF_METHOD_FWPREP_H

#include <stdbool.h>

#include "board/board.h"
#include "firmware/image.h"

struct mf_firmware {
    struct fw_image image;       /* as given (klipper.bin) */
    struct fw_image card;        /* what goes on the card (converted if needed) */
    struct fw_dict_info dict;    /* found in the image, if any */
    struct fw_dict_file dict_file; /* from -d, if any */
    bool have_dict_file;
    /* The dictionary the new firmware will report, exactly: the dict file's
     * text, else the image's; NULL if neither is known. */
    const char *expect_json;
    size_t expect_len;
    const char *mcu, *version;   /* from the dict file or the image; NULL if unknown */
};

/* dict_path may be NULL.  Fails (MF_E_INPUT / MF_E_MISMATCH) before
 * anything touches the board. */
int mf_firmware_prepare(const char *image_path, const char *dict_path, const struct board *b,
                        struct mf_firmware *fw, struct mf_err *err);
void mf_firmware_free(struct mf_firmware *fw);

#endif
