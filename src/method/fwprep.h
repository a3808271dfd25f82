/* Preparing a firmware image for a board, the step every route shares:
 * read the file in whatever format it comes (bin, ELF, Intel HEX, UF2; MKS
 * Robin or Chitu encoded), find the Klipper dictionary it carries, and prove
 * it right for the board before anything is written: MCU type, the address
 * it was linked for against the board's application address, and its size
 * against the MCU's flash.  Then produce the bytes the route writes. */
#ifndef MF_METHOD_FWPREP_H
#define MF_METHOD_FWPREP_H

#include <stdbool.h>
#include <stdint.h>

#include "board/board.h"
#include "firmware/format.h"
#include "firmware/image.h"
#include "firmware/inspect.h"
#include "firmware/mcu.h"
#include "firmware/vectors.h"

/* What a route writes besides a plain binary (mf_fw_target.accepts). */
#define MF_ACCEPT_UF2 (1u << 0)   /* UF2 files as they are (picoboot) */
#define MF_ACCEPT_CARD (1u << 1)  /* the SD route: encode for the board's bootloader */

/* What the image must fit. */
struct mf_fw_target {
    const struct board *board;  /* may be NULL when mcu is given */
    const char *mcu;            /* the MCU type when there is no board (else the board's) */
    /* The address the bootloader starts the application at, when the route
     * knows it better than the board definition (Katapult's start_address,
     * the DfuSe target); otherwise the board's application_address. */
    bool have_app_address;
    uint32_t app_address;
    unsigned accepts;           /* MF_ACCEPT_* */
};

struct mf_firmware {
    struct fw_image image;       /* the file as given (its data let go once checked) */
    enum fw_format format;       /* of that file */
    enum fw_encoding encoding;   /* vendor encoding the file carried: PLAIN, ROBIN, CHITU */
    struct fw_binary binary;     /* the plain application image (data let go once checked);
                                  * .base is valid when base_known */
    bool base_known;             /* the file said where it goes (ELF, HEX, UF2) */
    const struct fw_mcu *mcu_info; /* the target's MCU in the flash table; NULL if not in it */
    struct fw_link link;         /* the address it was linked for */
    struct fw_image card;        /* what the route writes (the card file for the SD route) */
    struct fw_dict_info dict;    /* found in the image, if any */
    struct fw_dict_file dict_file; /* from -d, if any */
    bool have_dict_file;
    /* The dictionary the new firmware will report, exactly: the dict file's
     * text, else the image's; NULL if neither is known. */
    const char *expect_json;
    size_t expect_len;
    const char *mcu, *version;   /* from the dict file or the image; NULL if unknown */
    char note[256];              /* a check that could not be made, and why; "" if none */
};

/* Read and prove the image for the target, then prepare what the route
 * writes.  dict_path may be NULL.  Every refusal (MF_E_INPUT for a file that
 * is unusable, MF_E_MISMATCH for one built for another board) is one
 * sentence that names the file and the setting to change, and comes before
 * anything touches the board.  Free fw in any case. */
int mf_firmware_check(const char *image_path, const char *dict_path, const struct mf_fw_target *t,
                      struct mf_firmware *fw, struct mf_err *err);

/* The SD route: mf_firmware_check with the board and MF_ACCEPT_CARD. */
int mf_firmware_prepare(const char *image_path, const char *dict_path, const struct board *b,
                        struct mf_firmware *fw, struct mf_err *err);

/* Read a file without a target: format, encoding, dictionary, and the link
 * address inferred at the offsets Klipper offers and extra[0..nextra). */
int mf_firmware_read(const char *image_path, const uint32_t *extra, size_t nextra, struct mf_firmware *fw,
                     struct mf_err *err);

/* Refuse (MF_E_CARD) when what the route writes needs more than free_bytes
 * on medium ("the card"). */
int mf_firmware_check_room(const struct mf_firmware *fw, uint64_t free_bytes, const char *medium,
                           struct mf_err *err);

void mf_firmware_free(struct mf_firmware *fw);

#endif
