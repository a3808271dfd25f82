/* mcuflash fwinfo FILE [--json]: what a firmware image file contains. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/commands.h"
#include "firmware/inspect.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash fwinfo FILE [--json]\n"
            "\n"
            "Show what a firmware image holds: size, SHA-1 and, when it carries the Klipper\n"
            "data dictionary, the app, MCU type, version and build versions. MKS Robin and\n"
            "Chitu (.cbd) files are decoded first. Nothing is changed.\n"
            "\n"
            "options:\n"
            "  --json     print one JSON object instead of text\n"
            "  -h, --help show this help\n");
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

static void print_text(const struct fw_image *img, const struct fw_inspection *in)
{
    const struct fw_dict_info *d = &in->dict;
    printf("file:           %s\n", img->path);
    printf("size:           %zu bytes\n", img->size);
    printf("sha1:           %s\n", img->sha1_hex);
    printf("encoding:       %s\n", encoding_text(in));
    if (in->decoded && in->decoded_size != img->size)
        printf("decoded size:   %zu bytes\n", in->decoded_size);
    if (d->status != FW_DICT_FOUND) {
        char why[1024];
        describe_missing(in, why, sizeof(why));
        printf("dictionary:     %s\n", why);
        return;
    }
    printf("app:            %s\n", d->app ? d->app : "(not stated; built before 2024)");
    printf("mcu:            %s\n", d->mcu ? d->mcu : "(not stated)");
    printf("version:        %s\n", d->version ? d->version : "(not stated)");
    printf("build versions: %s\n", d->build_versions ? d->build_versions : "(not stated)");
    printf("dictionary:     %zu bytes compressed at offset %zu (0x%zx)%s, %zu bytes of JSON\n", d->zlen,
           d->offset, d->offset, in->decoded ? " of the decoded image" : "", d->dict->json_len);
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

static void print_json(const struct fw_image *img, const struct fw_inspection *in)
{
    json_t *o = json_pack("{s:s,s:I,s:s,s:o}", "file", img->path, "size", (json_int_t)img->size,
                          "sha1", img->sha1_hex, "encoding", string_or_null(fw_encoding_id(in->encoding)));
    if (in->decoded)
        json_object_set_new(o, "decoded_size", json_integer((json_int_t)in->decoded_size));
    json_object_set_new(o, "dictionary", dict_json(in));
    char *text = json_dumps(o, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(o);
}

static int parse_args(int argc, char **argv, bool *json, const char **path, struct mf_err *err)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'j')
            *json = true;
        else if (c == 'h')
            return 1;
        else
            return mf_fail(err, MF_E_USAGE, "fwinfo does not know the option '%s'; nothing was done; "
                           "run 'mcuflash fwinfo --help'.", argv[optind - 1]);
    }
    if (argc - optind != 1)
        return mf_fail(err, MF_E_USAGE, "fwinfo needs exactly one firmware file; nothing was done; "
                       "run 'mcuflash fwinfo --help'.");
    *path = argv[optind];
    return 0;
}

int cmd_fwinfo(int argc, char **argv)
{
    struct mf_err err = { 0 };
    bool json = false;
    const char *path = NULL;
    int rc = parse_args(argc, argv, &json, &path, &err);
    if (rc > 0) {
        usage(stdout);
        return MF_OK;
    }
    if (rc < 0)
        return cli_report_error(&err, json);
    struct fw_image img;
    if (fw_image_load(path, &img, &err) < 0)
        return cli_report_error(&err, json);
    struct fw_inspection in;
    if (fw_inspect(img.data, img.size, &in, &err) < 0) {
        fw_image_free(&img);
        return cli_report_error(&err, json);
    }
    if (json)
        print_json(&img, &in);
    else
        print_text(&img, &in);
    fw_inspection_free(&in);
    fw_image_free(&img);
    return MF_OK;
}
