/* mcuflash fwinfo FILE [--board NAME] [--json]: what a firmware image file
 * contains, what it was linked for, and whether it fits a board. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "board/board.h"
#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "firmware/format.h"
#include "firmware/inspect.h"
#include "firmware/mcu.h"
#include "firmware/vectors.h"
#include "method/fwprep.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash fwinfo FILE [--board NAME] [--board-file FILE]... [--json]\n"
            "\n"
            "Show what a firmware image holds: format (bin, ELF, Intel HEX, UF2), size,\n"
            "SHA-1, vendor encoding (MKS Robin, Chitu .cbd), the address it was linked for\n"
            "and the boards whose bootloader starts that address, its size against the\n"
            "MCU's flash and, when it carries the Klipper data dictionary, the app, MCU\n"
            "type, version and build versions. Nothing is changed.\n"
            "\n"
            "      --board NAME       also say whether the image fits that board, and why not\n"
            "                         (exit status 5 or 6 when it does not)\n"
            "      --board-file FILE  read board definitions from FILE too (repeatable)\n"
            "      --json             print one JSON object instead of text\n"
            "  -h, --help             show this help\n");
}

static const char *encoding_text(const struct fw_inspection *in)
{
    switch (in->encoding) {
    case FW_ENC_PLAIN: return "plain";
    case FW_ENC_ROBIN: return "MKS Robin (XOR-encoded; decoded to read it)";
    case FW_ENC_CHITU: return in->decoded ? "Chitu .cbd (decoded to read it)" : "Chitu .cbd, damaged";
    case FW_ENC_UNKNOWN: break;
    }
    return "unknown";
}

/* One sentence for an image without a usable dictionary. */
static void describe_missing(const struct fw_inspection *in, char *buf, size_t cap)
{
    const struct fw_dict_info *d = &in->dict;
    if (in->encoding == FW_ENC_CHITU && !in->decoded)
        snprintf(buf, cap, "not readable: %s", in->decode_problem);
    else if (d->status == FW_DICT_TRUNCATED)
        snprintf(buf, cap, "cut off: one starts at offset %zu but the file ends inside it, so the file "
                 "is probably incomplete", d->offset);
    else if (d->status == FW_DICT_INVALID)
        snprintf(buf, cap, "found at offset %zu but unusable: %s", d->offset, d->problem);
    else
        snprintf(buf, cap, "no Klipper dictionary found; the image may be converted or encrypted, or "
                 "not a Klipper build");
}

/* Everything fwinfo found out about one file. */
struct fwinfo {
    struct fw_image img;
    enum fw_format format;
    struct fw_binary binary;        /* non-bin formats, converted */
    struct fw_inspection in;
    const uint8_t *plain;           /* the decoded application image */
    size_t plain_size;
    const struct fw_mcu *mcu;       /* from the dictionary; NULL if unknown */
    struct fw_link link;
    const struct board *matches[64]; /* boards of that MCU starting the link address */
    size_t nmatches;
    bool checked;                   /* --board given */
    const char *board;
    struct mf_err fit;              /* code MF_OK when the image fits */
    char note[256];
};

static void print_link_text(const struct fwinfo *f)
{
    char choice[64];
    const struct fw_link *l = &f->link;
    if (!f->mcu) {
        printf("link address:   not checked (the MCU %s is not in the flash table)\n",
               f->in.dict.mcu ? f->in.dict.mcu : "is not stated, so it");
        return;
    }
    if (f->mcu->arch != FW_ARCH_CORTEX_M) {
        printf("link address:   not checked (a %s image has no vector table)\n", f->mcu->name);
        return;
    }
    if (l->status == FW_LINK_KNOWN || l->status == FW_LINK_INFERRED)
        printf("link address:   0x%08x (\"%s\" in make menuconfig), %s\n", (unsigned)l->address,
               fw_mcu_offset_choice(f->mcu, l->address, choice, sizeof(choice)),
               l->status == FW_LINK_KNOWN ? "as the file places it" : "from the vector table");
    else if (l->status == FW_LINK_AMBIGUOUS) {
        printf("link address:   one of");
        for (size_t i = 0; i < l->ncandidates; i++)
            printf("%s 0x%08x", i ? "," : "", (unsigned)l->candidates[i]);
        printf(" (the vector table fits each)\n");
    } else
        printf("link address:   none: no %s vector table at any bootloader offset\n", f->mcu->name);
    printf("vectors:        stack pointer 0x%08x, reset handler 0x%08x\n", (unsigned)l->initial_sp,
           (unsigned)l->reset);
    printf("boards:         ");
    for (size_t i = 0; i < f->nmatches; i++)
        printf("%s%s", i ? ", " : "", f->matches[i]->name);
    printf("%s\n", f->nmatches ? "" : "none of the known boards starts the application there");
}

/* Where the image would sit, for the flash use line. */
static uint32_t placed_at(const struct fwinfo *f)
{
    if (f->link.status == FW_LINK_KNOWN || f->link.status == FW_LINK_INFERRED)
        return f->link.address;
    return f->format != FW_FORMAT_BIN ? f->binary.base : f->mcu->flash_base;
}

static void print_flash_text(const struct fwinfo *f)
{
    if (!f->mcu)
        return;
    uint32_t at = placed_at(f), room = fw_mcu_room(f->mcu, at);
    if (!room)
        printf("flash:          0x%08x is outside the flash of the %s\n", (unsigned)at, f->mcu->name);
    else
        printf("flash:          %zu of %u bytes from 0x%08x on the %s (%s)\n", f->plain_size, (unsigned)room,
               (unsigned)at, f->mcu->name, f->plain_size <= room ? "fits" : "too big");
}

static void print_text(const struct fwinfo *f)
{
    const struct fw_image *img = &f->img;
    const struct fw_inspection *in = &f->in;
    const struct fw_dict_info *d = &in->dict;
    printf("file:           %s\n", img->path);
    printf("format:         %s", fw_format_id(f->format));
    if (f->format != FW_FORMAT_BIN)
        printf(" (%zu bytes to flash at 0x%08x)", f->binary.size, (unsigned)f->binary.base);
    if (f->format == FW_FORMAT_UF2 && f->binary.uf2_family)
        printf(", UF2 family 0x%08x", (unsigned)f->binary.uf2_family);
    printf("\nsize:           %zu bytes\n", img->size);
    printf("sha1:           %s\n", img->sha1_hex);
    printf("encoding:       %s\n", encoding_text(in));
    if (in->decoded && in->decoded_size != img->size)
        printf("decoded size:   %zu bytes\n", in->decoded_size);
    if (d->status != FW_DICT_FOUND) {
        char why[1024];
        describe_missing(in, why, sizeof(why));
        printf("dictionary:     %s\n", why);
    } else {
        printf("app:            %s\n", d->app ? d->app : "(not stated; built before 2024)");
        printf("mcu:            %s\n", d->mcu ? d->mcu : "(not stated)");
        printf("version:        %s\n", d->version ? d->version : "(not stated)");
        printf("build versions: %s\n", d->build_versions ? d->build_versions : "(not stated)");
        printf("dictionary:     %zu bytes compressed at offset %zu (0x%zx)%s, %zu bytes of JSON\n", d->zlen,
               d->offset, d->offset, in->decoded ? " of the decoded image" : "", d->dict->json_len);
        print_link_text(f);
        print_flash_text(f);
    }
    if (f->checked) {
        if (f->fit.code == MF_OK)
            printf("fits %s: yes%s%s\n", f->board, f->note[0] ? "; " : "", f->note);
        else
            printf("fits %s: no: %s\n", f->board, f->fit.msg);
    }
}

static const char *status_id(enum fw_dict_status s)
{
    switch (s) {
    case FW_DICT_FOUND: return "found";
    case FW_DICT_TRUNCATED: return "truncated";
    case FW_DICT_INVALID: return "invalid";
    case FW_DICT_NONE: break;
    }
    return "none";
}

static json_t *string_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *dict_json(const struct fw_inspection *in)
{
    const struct fw_dict_info *d = &in->dict;
    json_t *o = json_pack("{s:s}", "status", status_id(d->status));
    if (d->status != FW_DICT_NONE) {
        json_object_set_new(o, "offset", json_integer((json_int_t)d->offset));
    }
    if (d->status != FW_DICT_FOUND) {
        char why[1024];
        describe_missing(in, why, sizeof(why));
        json_object_set_new(o, "note", json_string(why));
        return o;
    }
    json_object_set_new(o, "compressed_size", json_integer((json_int_t)d->zlen));
    json_object_set_new(o, "size", json_integer((json_int_t)d->dict->json_len));
    json_object_set_new(o, "app", string_or_null(d->app));
    json_object_set_new(o, "mcu", string_or_null(d->mcu));
    json_object_set_new(o, "version", string_or_null(d->version));
    json_object_set_new(o, "build_versions", string_or_null(d->build_versions));
    return o;
}

static json_t *link_json(const struct fwinfo *f)
{
    const struct fw_link *l = &f->link;
    static const char *const status[] = { "none", "known", "inferred", "ambiguous" };
    if (!f->mcu || f->mcu->arch != FW_ARCH_CORTEX_M || f->in.dict.status != FW_DICT_FOUND)
        return json_null();
    char hex[16];
    json_t *o = json_pack("{s:s}", "status", status[l->status]);
    if (l->status == FW_LINK_KNOWN || l->status == FW_LINK_INFERRED) {
        snprintf(hex, sizeof(hex), "0x%08x", (unsigned)l->address);
        json_object_set_new(o, "address", json_string(hex));
    }
    json_t *c = json_array(), *b = json_array();
    for (size_t i = 0; i < l->ncandidates; i++) {
        snprintf(hex, sizeof(hex), "0x%08x", (unsigned)l->candidates[i]);
        json_array_append_new(c, json_string(hex));
    }
    for (size_t i = 0; i < f->nmatches; i++)
        json_array_append_new(b, json_string(f->matches[i]->name));
    json_object_set_new(o, "candidates", c);
    json_object_set_new(o, "boards", b);
    uint32_t at = placed_at(f);
    json_object_set_new(o, "flash_room", json_integer(fw_mcu_room(f->mcu, at)));
    return o;
}

static void print_json(const struct fwinfo *f)
{
    const struct fw_image *img = &f->img;
    const struct fw_inspection *in = &f->in;
    /* Not ok when the image does not fit --board: the exit status says so too. */
    json_t *o = cli_json_result(!f->checked || f->fit.code == MF_OK);
    json_t *fields = json_pack("{s:o,s:s,s:I,s:s,s:o}", "file", cli_json_text(img->path), "format",
                               fw_format_id(f->format), "size", (json_int_t)img->size, "sha1", img->sha1_hex,
                               "encoding", string_or_null(fw_encoding_id(in->encoding)));
    json_object_update(o, fields);
    json_decref(fields);
    if (in->decoded)
        json_object_set_new(o, "decoded_size", json_integer((json_int_t)in->decoded_size));
    if (f->format != FW_FORMAT_BIN)
        json_object_set_new(o, "binary_size", json_integer((json_int_t)f->binary.size));
    json_object_set_new(o, "dictionary", dict_json(in));
    json_object_set_new(o, "link", link_json(f));
    if (f->checked) {
        json_t *fit = json_pack("{s:s,s:b}", "board", f->board, "fits", f->fit.code == MF_OK);
        json_object_set_new(fit, "reason", f->fit.code == MF_OK ? json_null() : json_string(f->fit.msg));
        json_object_set_new(fit, "note", f->note[0] ? json_string(f->note) : json_null());
        json_object_set_new(o, "board_check", fit);
    }
    cli_json_line(o);
}

/* 0 to go on, 1 after --help, -1 with err. */
static int parse_args(int argc, char **argv, struct cli_common *o, const char **path, struct mf_err *err)
{
    struct cli_parser parser = { .command = "fwinfo", .shared = CLI_HELP | CLI_JSON | CLI_BOARD | CLI_BOARD_FILE,
                                 .common = o, .usage = usage };
    int rc = cli_parse_shared(&parser, argc, argv, err);
    if (rc != 0)
        return rc;
    if (argc - optind != 1)
        return cli_usage_error(err, "fwinfo", "fwinfo needs exactly one firmware file");
    *path = argv[optind];
    return 0;
}

/* The file's bytes as the bootloader would see them: converted from ELF,
 * HEX or UF2, then decoded from a vendor encoding. */
static int read_image(struct fwinfo *f, const char *path, struct mf_err *err)
{
    if (fw_image_load(path, &f->img, err) < 0)
        return -1;
    f->format = fw_format_detect(f->img.data, f->img.size);
    const uint8_t *data = f->img.data;
    size_t len = f->img.size;
    if (f->format != FW_FORMAT_BIN) {
        if (fw_to_binary(f->format, path, f->img.data, f->img.size, &f->binary, err) < 0)
            return -1;
        data = f->binary.data;
        len = f->binary.size;
    }
    if (fw_inspect(data, len, &f->in, err) < 0)
        return -1;
    f->plain = f->in.decoded ? f->in.decoded : data;
    f->plain_size = f->in.decoded ? f->in.decoded_size : len;
    return 0;
}

/* Link address, and the boards of the image's MCU that start it. */
static void find_link(struct fwinfo *f, const struct board_db *db)
{
    f->mcu = fw_mcu_find(f->in.dict.mcu);
    if (!f->mcu || f->mcu->arch != FW_ARCH_CORTEX_M)
        return;
    uint32_t extra[64];
    size_t nextra = 0;
    for (size_t i = 0; db && i < board_db_count(db); i++) {
        const struct board *b = board_db_board(db, i);
        for (size_t k = 0; !strcasecmp(b->mcu, f->mcu->name) && k < b->napp_addresses && nextra < 64; k++)
            extra[nextra++] = b->app_addresses[k];
    }
    if (f->format != FW_FORMAT_BIN)
        fw_link_check(f->mcu, f->plain, f->plain_size, f->binary.base, &f->link);
    else
        fw_link_infer(f->mcu, f->plain, f->plain_size, extra, nextra, &f->link);
    bool known = f->link.status == FW_LINK_KNOWN || f->link.status == FW_LINK_INFERRED;
    for (size_t i = 0; known && db && i < board_db_count(db) && f->nmatches < 64; i++) {
        const struct board *b = board_db_board(db, i);
        if (!strcasecmp(b->mcu, f->mcu->name) && board_has_app_address(b, f->link.address))
            f->matches[f->nmatches++] = b;
    }
}

/* --board: the check every route makes before writing. */
static int check_board(struct fwinfo *f, const struct board_db *db, const char *name, struct mf_err *err)
{
    const struct board *b = board_db_find(db, name, err);
    if (!b)
        return -1;
    struct mf_fw_target t = { .board = b, .accepts = MF_ACCEPT_CARD | MF_ACCEPT_UF2 };
    struct mf_firmware fw;
    f->checked = true;
    f->board = b->name;
    mf_err_clear(&f->fit);
    if (mf_firmware_check(f->img.path, NULL, &t, &fw, &f->fit) == 0)
        snprintf(f->note, sizeof(f->note), "%s", fw.note);
    mf_firmware_free(&fw);
    return 0;
}

static void fwinfo_free(struct fwinfo *f)
{
    fw_inspection_free(&f->in);
    fw_binary_free(&f->binary);
    fw_image_free(&f->img);
}

int cmd_fwinfo(int argc, char **argv)
{
    struct mf_err err = { 0 };
    struct cli_common o;
    const char *path = NULL;
    int rc = parse_args(argc, argv, &o, &path, &err);
    if (rc > 0)
        return MF_OK;
    if (rc < 0)
        return cli_report_error(&err, o.json);
    struct board_db *db = NULL;
    if (board_db_load(o.board_files, o.nboard_files, &db, &err) < 0)
        return cli_report_error(&err, o.json);
    struct fwinfo *f = calloc(1, sizeof(*f));
    if (!f) {
        board_db_free(db);
        mf_fail(&err, MF_E_FAIL, "Out of memory; nothing was done.");
        return cli_report_error(&err, o.json);
    }
    rc = read_image(f, path, &err);
    if (rc == 0 && o.board)
        rc = check_board(f, db, o.board, &err);
    if (rc == 0) {
        find_link(f, db);
        if (o.json)
            print_json(f);
        else
            print_text(f);
        rc = f->checked && f->fit.code != MF_OK ? (int)f->fit.code : MF_OK;
    } else {
        rc = cli_report_error(&err, o.json);
    }
    fwinfo_free(f);
    free(f);
    board_db_free(db);
    return rc;
}
