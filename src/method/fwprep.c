#include "method/fwprep.h"

#include <stdlib.h>
#include <string.h>

#include "firmware/convert.h"

static int convert(const struct board *b, struct mf_firmware *fw, struct mf_err *err)
{
    const struct fw_image *in = &fw->image;
    if (b->conversion == BOARD_CONV_MKS_ROBIN) {
        uint8_t *copy = malloc(in->size);
        if (!copy)
            return mf_fail(err, MF_E_FAIL, "Out of memory.");
        memcpy(copy, in->data, in->size);
        fw_robin_xor(copy, in->size);
        int rc = fw_image_from_bytes(b->firmware_path, copy, in->size, &fw->card, err);
        free(copy);
        return rc;
    }
    if (b->conversion == BOARD_CONV_CHITU) {
        uint8_t *out;
        size_t len;
        if (fw_chitu_encode(in->data, in->size, &out, &len, err) < 0)
            return -1;
        int rc = fw_image_from_bytes(b->firmware_path, out, len, &fw->card, err);
        free(out);
        return rc;
    }
    return fw_image_from_bytes(b->firmware_path, in->data, in->size, &fw->card, err);
}

int mf_firmware_prepare(const char *image_path, const char *dict_path, const struct board *b,
                        struct mf_firmware *fw, struct mf_err *err)
{
    memset(fw, 0, sizeof(*fw));
    if (fw_image_load(image_path, &fw->image, err) < 0)
        return -1;
    if (fw_find_dict(fw->image.data, fw->image.size, &fw->dict, err) < 0)
        return -1;
    /* Every Klipper build carries its data dictionary; an image without one
     * is cut off, encoded already, or not Klipper, and would leave the
     * board silent after flashing. */
    if (fw->dict.status == FW_DICT_TRUNCATED)
        return mf_fail(err, MF_E_INPUT, "%s is cut off (its Klipper data dictionary runs past the end of the file); "
                       "nothing was changed; rebuild it with 'make' in ~/klipper or copy it again.", image_path);
    if (fw->dict.status != FW_DICT_FOUND)
        return mf_fail(err, MF_E_INPUT, "%s does not look like a Klipper build (no Klipper data dictionary inside%s); "
                       "nothing was changed; give the out/klipper.bin that 'make' built, not a converted or "
                       "foreign file ('mcuflash fwinfo %s' shows what it holds).", image_path,
                       fw->dict.status == FW_DICT_INVALID ? " that this tool can read" : "", image_path);
    {
        fw->expect_json = fw->dict.dict->json;
        fw->expect_len = fw->dict.dict->json_len;
        fw->mcu = fw->dict.mcu;
        fw->version = fw->dict.version;
        if (fw->mcu && strcmp(fw->mcu, b->mcu))
            return mf_fail(err, MF_E_MISMATCH, "%s was built for a %s, but board %s has a %s; nothing was changed; "
                           "run 'make menuconfig' in ~/klipper, choose the board's MCU, rebuild and try again.",
                           image_path, fw->mcu, b->name, b->mcu);
    }
    if (dict_path) {
        if (fw_dict_file_load(dict_path, &fw->dict_file, err) < 0)
            return -1;
        fw->have_dict_file = true;
        struct kl_dict *d;
        if (kl_dict_parse(fw->dict_file.json, fw->dict_file.json_len, &d, err) < 0)
            return mf_wrap(err, "%s is not a usable klipper.dict: ", dict_path);
        const char *mcu = kl_dict_const(d, "MCU");
        int rc = 0;
        if (mcu && strcmp(mcu, b->mcu))
            rc = mf_fail(err, MF_E_MISMATCH, "%s describes a %s build, but board %s has a %s; nothing was changed; "
                         "give the klipper.dict of the same build as the firmware (-d).", dict_path, mcu, b->name,
                         b->mcu);
        else if (fw->expect_json && (fw->expect_len != fw->dict_file.json_len ||
                                     memcmp(fw->expect_json, fw->dict_file.json, fw->expect_len)))
            rc = mf_fail(err, MF_E_MISMATCH, "%s does not belong to %s (their data dictionaries differ); nothing "
                         "was changed; give the klipper.dict from the same build, or leave out -d.", dict_path,
                         image_path);
        kl_dict_free(d);
        if (rc < 0)
            return -1;
        fw->expect_json = fw->dict_file.json;
        fw->expect_len = fw->dict_file.json_len;
    }
    return convert(b, fw, err);
}

void mf_firmware_free(struct mf_firmware *fw)
{
    fw_image_free(&fw->image);
    fw_image_free(&fw->card);
    fw_dict_info_free(&fw->dict);
    if (fw->have_dict_file)
        fw_dict_file_free(&fw->dict_file);
    memset(fw, 0, sizeof(*fw));
}
