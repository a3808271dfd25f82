#include "method/fwprep.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "firmware/convert.h"

#define REBUILD "run 'make menuconfig' in ~/klipper"

/* Turn a lower layer's sentence into a user's: keep what it says, then say
 * what was left untouched and what to do. */
__attribute__((format(printf, 3, 4))) static int advise(struct mf_err *err, enum mf_code code, const char *fmt, ...)
{
    if (!err)
        return -1;
    size_t n = strlen(err->msg);
    while (n && (err->msg[n - 1] == '.' || err->msg[n - 1] == ' '))
        err->msg[--n] = '\0';
    snprintf(err->msg + n, sizeof(err->msg) - n, "; nothing was changed; ");
    n = strlen(err->msg);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg + n, sizeof(err->msg) - n, fmt, ap);
    va_end(ap);
    err->code = code;
    return -1;
}

/* The klipper.bin that 'make' writes beside a klipper.elf or .hex. */
static void bin_beside(const char *path, char *buf, size_t cap)
{
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    snprintf(buf, cap, "%s/klipper.bin", dir);
}

/* --- reading: format, encoding, dictionary --- */

static int convert_format(struct mf_firmware *fw, struct mf_err *err)
{
    const char *path = fw->image.path;
    if (fw_to_binary(fw->format, path, fw->image.data, fw->image.size, &fw->binary, err) < 0) {
        if (!err || err->code != MF_E_INPUT)
            return -1;
        char bin[4200];
        bin_beside(path, bin, sizeof(bin));
        return advise(err, MF_E_INPUT, "give %s instead, the raw image 'make' writes beside it.", bin);
    }
    fw->base_known = true;
    return 0;
}

/* A raw file may carry a vendor encoding; the plain image is what the
 * checks read. */
static int decode_bin(struct mf_firmware *fw, struct fw_inspection *in, struct mf_err *err)
{
    const uint8_t *plain = in->decoded ? in->decoded : fw->image.data;
    size_t len = in->decoded ? in->decoded_size : fw->image.size;
    if (in->encoding == FW_ENC_CHITU && !in->decoded)
        return mf_fail(err, MF_E_INPUT, "%s has the Chitu header but does not decode (%s); nothing was "
                       "changed; encode it again from klipper.bin, or give klipper.bin itself.",
                       fw->image.path, in->decode_problem);
    fw->binary.data = malloc(len ? len : 1);
    if (!fw->binary.data)
        return mf_fail(err, MF_E_FAIL, "Out of memory reading %s; nothing was changed.", fw->image.path);
    memcpy(fw->binary.data, plain, len);
    fw->binary.size = len;
    return 0;
}

static int require_dict(struct mf_firmware *fw, struct mf_err *err)
{
    const char *path = fw->image.path;
    /* Every Klipper build carries its data dictionary; an image without one
     * is cut off, encoded in a way not known here, or not Klipper, and would
     * leave the board silent after flashing. */
    if (fw->dict.status == FW_DICT_TRUNCATED)
        return mf_fail(err, MF_E_INPUT, "%s is cut off (its Klipper data dictionary runs past the end of the file); "
                       "nothing was changed; rebuild it with 'make' in ~/klipper or copy it again.", path);
    if (fw->dict.status != FW_DICT_FOUND)
        return mf_fail(err, MF_E_INPUT, "%s does not look like a Klipper build (no Klipper data dictionary inside%s); "
                       "nothing was changed; give the out/klipper.bin that 'make' built, not a converted or "
                       "foreign file ('mcuflash fwinfo %s' shows what it holds).", path,
                       fw->dict.status == FW_DICT_INVALID ? " that this tool can read" : "", path);
    fw->expect_json = fw->dict.dict->json;
    fw->expect_len = fw->dict.dict->json_len;
    fw->mcu = fw->dict.mcu;
    fw->version = fw->dict.version;
    return 0;
}

static int read_file(const char *image_path, struct mf_firmware *fw, struct mf_err *err)
{
    memset(fw, 0, sizeof(*fw));
    if (fw_image_load(image_path, &fw->image, err) < 0)
        return -1;
    fw->format = fw_format_detect(fw->image.data, fw->image.size);
    if (fw->format != FW_FORMAT_BIN && convert_format(fw, err) < 0)
        return -1;
    struct fw_inspection in;
    const uint8_t *data = fw->base_known ? fw->binary.data : fw->image.data;
    size_t len = fw->base_known ? fw->binary.size : fw->image.size;
    if (fw_inspect(data, len, &in, err) < 0)
        return -1;
    int rc = 0;
    fw->encoding = in.encoding == FW_ENC_UNKNOWN ? FW_ENC_PLAIN : in.encoding;
    if (!fw->base_known)
        rc = decode_bin(fw, &in, err);
    else if (fw->encoding != FW_ENC_PLAIN)
        rc = mf_fail(err, MF_E_INPUT, "%s holds an image in the %s encoding, which no %s file carries; nothing was "
                     "changed; give the plain klipper.bin.", image_path, fw_encoding_id(fw->encoding),
                     fw_format_id(fw->format));
    fw->dict = in.dict;
    in.dict = (struct fw_dict_info){ 0 };
    fw_inspection_free(&in);
    return rc;
}

static void find_link(struct mf_firmware *fw, const uint32_t *extra, size_t nextra)
{
    if (!fw->mcu_info)
        return;
    if (fw->base_known)
        fw_link_check(fw->mcu_info, fw->binary.data, fw->binary.size, fw->binary.base, &fw->link);
    else
        fw_link_infer(fw->mcu_info, fw->binary.data, fw->binary.size, extra, nextra, &fw->link);
}

int mf_firmware_read(const char *image_path, const uint32_t *extra, size_t nextra, struct mf_firmware *fw,
                     struct mf_err *err)
{
    if (read_file(image_path, fw, err) < 0)
        return -1;
    fw->mcu_info = fw_mcu_find(fw->dict.mcu);
    find_link(fw, extra, nextra);
    return 0;
}

/* --- checks against the target --- */

static int check_mcu(struct mf_firmware *fw, const struct mf_fw_target *t, const char *mcu, struct mf_err *err)
{
    if (!fw->mcu || !strcasecmp(fw->mcu, mcu))
        return 0;
    if (t->board)
        return mf_fail(err, MF_E_MISMATCH, "%s was built for a %s, but board %s has a %s; nothing was changed; "
                       REBUILD ", choose the board's MCU, rebuild and try again.", fw->image.path, fw->mcu,
                       t->board->name, t->board->mcu);
    return mf_fail(err, MF_E_MISMATCH, "%s was built for a %s, but the board's bootloader reports a %s; nothing "
                   "was changed; " REBUILD ", choose the %s, rebuild and try again.", fw->image.path, fw->mcu, mcu,
                   mcu);
}

static int check_dict_file(struct mf_firmware *fw, const char *dict_path, const struct mf_fw_target *t,
                           const char *mcu, struct mf_err *err)
{
    char board[160] = "the board";
    if (t->board)
        snprintf(board, sizeof(board), "board %s", t->board->name);
    if (fw_dict_file_load(dict_path, &fw->dict_file, err) < 0)
        return -1;
    fw->have_dict_file = true;
    struct kl_dict *d;
    if (kl_dict_parse(fw->dict_file.json, fw->dict_file.json_len, &d, err) < 0)
        return mf_wrap(err, "%s is not a usable klipper.dict: ", dict_path);
    const char *dmcu = kl_dict_const(d, "MCU");
    int rc = 0;
    if (dmcu && strcasecmp(dmcu, mcu))
        rc = mf_fail(err, MF_E_MISMATCH, "%s describes a %s build, but %s has a %s; nothing was changed.",
                     dict_path, dmcu, board, mcu);
    else if (fw->expect_json && (fw->expect_len != fw->dict_file.json_len ||
                                 memcmp(fw->expect_json, fw->dict_file.json, fw->expect_len)))
        rc = mf_fail(err, MF_E_MISMATCH, "%s does not belong to %s (their data dictionaries differ); nothing "
                     "was changed.", dict_path, fw->image.path);
    kl_dict_free(d);
    if (rc < 0)
        return mf_fact(err, MF_FACT_DICT_OTHER);
    fw->expect_json = fw->dict_file.json;
    fw->expect_len = fw->dict_file.json_len;
    return 0;
}

/* The addresses the target's bootloader starts an application at. */
static size_t expected_addresses(const struct mf_fw_target *t, uint32_t *out)
{
    if (t->have_app_address) {
        out[0] = t->app_address;
        return 1;
    }
    size_t n = t->board ? t->board->napp_addresses : 0;
    for (size_t i = 0; i < n; i++)
        out[i] = t->board->app_addresses[i];
    return n;
}

static bool among(uint32_t a, const uint32_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == a)
            return true;
    return false;
}

/* "0x08008000 or 0x08010000", and the menuconfig choices for them. */
static void describe(const struct fw_mcu *m, const uint32_t *a, size_t n, char *addrs, size_t acap, char *choices,
                     size_t ccap)
{
    size_t au = 0, cu = 0;
    addrs[0] = choices[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char choice[64];
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        au += (size_t)snprintf(addrs + au, au < acap ? acap - au : 0, "%s0x%08x", sep, (unsigned)a[i]);
        cu += (size_t)snprintf(choices + cu, cu < ccap ? ccap - cu : 0, "%s\"%s\"", sep,
                               fw_mcu_offset_choice(m, a[i], choice, sizeof(choice)));
    }
}

static const char *target_name(const struct mf_fw_target *t, char *buf, size_t cap)
{
    if (t->board && !t->have_app_address)
        snprintf(buf, cap, "the bootloader of board %s", t->board->name);
    else
        snprintf(buf, cap, "the board's bootloader");
    return buf;
}

static int refuse_offset(const struct mf_firmware *fw, const struct mf_fw_target *t, const uint32_t *want, size_t n,
                         struct mf_err *err)
{
    const struct fw_mcu *m = fw->mcu_info;
    char addrs[128], choices[256], who[128], linked[160], choice[64];
    describe(m, want, n, addrs, sizeof(addrs), choices, sizeof(choices));
    target_name(t, who, sizeof(who));
    if (fw->link.status == FW_LINK_KNOWN || fw->link.status == FW_LINK_INFERRED)
        snprintf(linked, sizeof(linked), "was linked for 0x%08x (\"%s\")", (unsigned)fw->link.address,
                 fw_mcu_offset_choice(m, fw->link.address, choice, sizeof(choice)));
    else if (fw->link.status == FW_LINK_AMBIGUOUS)
        snprintf(linked, sizeof(linked), "was linked for another address (its vector table fits 0x%08x%s)",
                 (unsigned)fw->link.candidates[0], fw->link.ncandidates > 1 ? " and others" : "");
    else if (fw->base_known)
        snprintf(linked, sizeof(linked), "places its data at 0x%08x, where its %s vector table does not fit (reset "
                 "handler 0x%08x)", (unsigned)fw->binary.base, m->name, (unsigned)fw->link.reset);
    else
        snprintf(linked, sizeof(linked), "has no %s vector table that fits any bootloader offset (reset handler "
                 "0x%08x)", m->name, (unsigned)fw->link.reset);
    return mf_fail(err, MF_E_MISMATCH, "%s %s, %s %s starts the application at %s; nothing was changed; " REBUILD
                   ", set \"Bootloader offset\" to %s%s, rebuild and try again.", fw->image.path, linked,
                   fw->link.status == FW_LINK_NO_VECTORS ? "and" : "but", who, addrs, choices,
                   n > 1 ? " (the one of your board's variant)" : "");
}

/* The bootloader offset: the image must have been linked for the address
 * the bootloader jumps to. */
static int check_offset(struct mf_firmware *fw, const struct mf_fw_target *t, struct mf_err *err)
{
    uint32_t want[BOARD_MAX_APP_ADDRESSES];
    size_t n = expected_addresses(t, want);
    const struct fw_mcu *m = fw->mcu_info;
    find_link(fw, want, n);
    if (m->arch != FW_ARCH_CORTEX_M) {
        snprintf(fw->note, sizeof(fw->note), "Images for the %s have no vector table to read the link address "
                 "from, so the bootloader offset was not checked.", m->name);
        return 0;
    }
    if (n == 0) {
        if (fw->link.status == FW_LINK_NO_VECTORS)
            return mf_fail(err, MF_E_INPUT, "%s has no %s vector table at any bootloader offset Klipper offers "
                           "(stack pointer 0x%08x, reset handler 0x%08x); nothing was changed; give a Klipper "
                           "build for this MCU.", fw->image.path, m->name, (unsigned)fw->link.initial_sp,
                           (unsigned)fw->link.reset);
        snprintf(fw->note, sizeof(fw->note), "%s gives no application address, so the bootloader offset "
                 "was not checked.", t->board ? t->board->name : "The board");
        return 0;
    }
    bool ok = false;
    if (fw->link.status == FW_LINK_AMBIGUOUS)
        for (size_t i = 0; i < fw->link.ncandidates; i++)
            ok |= among(fw->link.candidates[i], want, n);
    else if (fw->link.status != FW_LINK_NO_VECTORS)
        ok = among(fw->link.address, want, n);
    if (!ok)
        return refuse_offset(fw, t, want, n, err);
    if (fw->link.status == FW_LINK_AMBIGUOUS)
        snprintf(fw->note, sizeof(fw->note), "The vector table fits %u bootloader offsets; the board's is "
                 "one of them.", (unsigned)fw->link.ncandidates);
    return 0;
}

/* Where the image goes: the address it was linked for, else the target's. */
static uint32_t load_address(const struct mf_firmware *fw, const struct mf_fw_target *t)
{
    uint32_t want[BOARD_MAX_APP_ADDRESSES];
    if (fw->link.status == FW_LINK_KNOWN || fw->link.status == FW_LINK_INFERRED)
        return fw->link.address;
    if (fw->base_known)
        return fw->binary.base;
    return expected_addresses(t, want) ? want[0] : fw->mcu_info->flash_base;
}

static int check_size(const struct mf_firmware *fw, const struct mf_fw_target *t, struct mf_err *err)
{
    const struct fw_mcu *m = fw->mcu_info;
    uint32_t at = load_address(fw, t);
    uint32_t room = fw_mcu_room(m, at);
    if (fw->binary.size <= room)
        return 0;
    if (!room)
        return mf_fail(err, MF_E_MISMATCH, "%s goes to 0x%08x, outside the flash of the %s (0x%08x to 0x%08x); "
                       "nothing was changed; give a Klipper build for this MCU.", fw->image.path, (unsigned)at,
                       m->name, (unsigned)m->flash_base, (unsigned)(m->flash_base + m->flash_size - 1));
    return mf_fail(err, MF_E_MISMATCH, "%s is %zu bytes, but the %s has only %u bytes of flash from 0x%08x; nothing "
                   "was changed; " REBUILD ", disable features the printer does not use, rebuild and try again.",
                   fw->image.path, fw->binary.size, m->name, (unsigned)room, (unsigned)at);
}

/* --- what the route writes --- */

/* What is written is the file's bytes or the plain image themselves, moved
 * rather than copied: a plain image is held twice at most while prepared. */
static int take_output(struct mf_firmware *fw, const char *name, uint8_t **data, size_t len, struct mf_err *err)
{
    uint8_t *bytes = *data;
    *data = NULL;
    return fw_image_adopt(name, bytes, len, &fw->card, err);
}

static int encode_for_card(struct mf_firmware *fw, const struct board *b, struct mf_err *err)
{
    enum board_conversion want = board_bl_decodes(b);
    const struct fw_binary *bin = &fw->binary;
    /* Already in the encoding the bootloader reads: not encoded twice. */
    if (fw->format == FW_FORMAT_BIN && ((want == BOARD_CONV_MKS_ROBIN && fw->encoding == FW_ENC_ROBIN) ||
                                        (want == BOARD_CONV_CHITU && fw->encoding == FW_ENC_CHITU)))
        return take_output(fw, b->firmware_path, &fw->image.data, fw->image.size, err);
    if (want == BOARD_CONV_MKS_ROBIN) {
        uint8_t *copy = malloc(bin->size ? bin->size : 1);
        if (!copy)
            return mf_fail(err, MF_E_FAIL, "Out of memory encoding %s; nothing was changed.", fw->image.path);
        memcpy(copy, bin->data, bin->size);
        fw_robin_xor(copy, bin->size);
        return fw_image_adopt(b->firmware_path, copy, bin->size, &fw->card, err);
    }
    if (want == BOARD_CONV_CHITU) {
        uint8_t *out;
        size_t len;
        if (fw_chitu_encode(bin->data, bin->size, &out, &len, err) < 0)
            return -1;
        return fw_image_adopt(b->firmware_path, out, len, &fw->card, err);
    }
    return take_output(fw, b->firmware_path, &fw->binary.data, fw->binary.size, err);
}

static int make_output(struct mf_firmware *fw, const struct mf_fw_target *t, struct mf_err *err)
{
    if (fw->format == FW_FORMAT_UF2 && (t->accepts & MF_ACCEPT_UF2))
        return take_output(fw, fw->image.path, &fw->image.data, fw->image.size, err);
    if ((t->accepts & MF_ACCEPT_CARD) && t->board)
        return encode_for_card(fw, t->board, err);
    return take_output(fw, fw->image.path, &fw->binary.data, fw->binary.size, err);
}

int mf_firmware_check(const char *image_path, const char *dict_path, const struct mf_fw_target *t,
                      struct mf_firmware *fw, struct mf_err *err)
{
    const char *mcu = t->board ? t->board->mcu : t->mcu;
    if (read_file(image_path, fw, err) < 0 || require_dict(fw, err) < 0)
        return -1;
    if (mcu && check_mcu(fw, t, mcu, err) < 0)
        return -1;
    if (!mcu)
        mcu = fw->mcu;
    if (dict_path && check_dict_file(fw, dict_path, t, mcu ? mcu : "", err) < 0)
        return -1;
    fw->mcu_info = fw_mcu_find(mcu);
    if (!fw->mcu_info)
        snprintf(fw->note, sizeof(fw->note), "The MCU %s is not in the flash table, so neither the bootloader "
                 "offset nor the size was checked.", mcu ? mcu : "(not stated)");
    else if (check_offset(fw, t, err) < 0 || check_size(fw, t, err) < 0)
        return -1;
    if (make_output(fw, t, err) < 0)
        return -1;
    /* Routes write fw->card only: the file's bytes and the plain image are
     * let go, so a large image is held once, not three times. */
    free(fw->image.data);
    fw->image.data = NULL;
    free(fw->binary.data);
    fw->binary.data = NULL;
    return 0;
}

int mf_firmware_prepare(const char *image_path, const char *dict_path, const struct board *b,
                        struct mf_firmware *fw, struct mf_err *err)
{
    struct mf_fw_target t = { .board = b, .accepts = MF_ACCEPT_CARD };
    return mf_firmware_check(image_path, dict_path, &t, fw, err);
}

int mf_firmware_check_room(const struct mf_firmware *fw, uint64_t free_bytes, const char *medium,
                           struct mf_err *err)
{
    if (fw->card.size <= free_bytes)
        return 0;
    return mf_fail(err, MF_E_CARD, "%s needs %zu bytes but %s has only %llu free; nothing was written; delete "
                   "files from %s or use a larger one.", fw->card.path, fw->card.size, medium,
                   (unsigned long long)free_bytes, medium);
}

void mf_firmware_free(struct mf_firmware *fw)
{
    fw_image_free(&fw->image);
    fw_image_free(&fw->card);
    fw_binary_free(&fw->binary);
    fw_dict_info_free(&fw->dict);
    if (fw->have_dict_file)
        fw_dict_file_free(&fw->dict_file);
    memset(fw, 0, sizeof(*fw));
}
