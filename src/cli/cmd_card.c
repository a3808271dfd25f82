/* mcuflash card ls|get|put|rm DEVICE BOARD [PATH...]: files on a board's SD
 * card, reached through the firmware running on the board. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "cli/output.h"
#include "firmware/image.h"
#include "method/card.h"
#include "method/safewrite.h"

struct card_opts {
    struct cli_common common;
    bool have_bus;
    struct mf_bus_spec bus;
    const char *output;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: mcuflash card ls  DEVICE BOARD [DIR]\n"
            "       mcuflash card get DEVICE BOARD FILE [-o LOCAL]\n"
            "       mcuflash card put DEVICE BOARD LOCAL [FILE]\n"
            "       mcuflash card rm  DEVICE BOARD FILE...\n\n"
            "Work with the files on a board's SD card through the Klipper firmware it runs.\n"
            "BOARD is a board name (mcuflash boards); instead of it the bus can be given with\n"
            "--spi-bus and --cs-pin, --spi-pins and --cs-pin (software SPI), or --sdio-bus.\n"
            "The board is reset when done, so Klipper finds it as after power-on.\n\n"
            "  -b, --baud BAUD          serial baud rate for UART boards (default 250000)\n"
            "  -o, --output FILE        where 'get' writes (default: the file's own name here; a folder:\n"
            "                           that name in it; -: standard output)\n"
            "  -s, --fast-spi           clock the card at 4 MHz instead of 400 kHz\n"
            "      --spi-bus BUS        hardware SPI bus, e.g. spi1 or ssp1\n"
            "      --spi-pins M,O,C     software SPI pins: MISO,MOSI,SCLK\n"
            "      --cs-pin PIN         chip-select pin of the card\n"
            "      --sdio-bus BUS       SDIO bus (SD mode), e.g. sdio\n"
            "      --board-file FILE    extra board definitions\n"
            "      --json               machine-readable output\n"
            "  -h, --help               show this help\n");
}

static int set_field(char *dst, size_t cap, const char *opt, const char *val, struct mf_err *err)
{
    if (!*val || strlen(val) >= cap)
        return cli_usage_error(err, "card", "%s needs a name, not '%s'", opt, val);
    snprintf(dst, cap, "%s", val);
    return 0;
}

static int parse_pins(struct mf_bus_spec *b, const char *val, struct mf_err *err)
{
    char buf[96];
    snprintf(buf, sizeof(buf), "%s", val);
    char *save, *tok = strtok_r(buf, ",", &save);
    for (int i = 0; i < 3; i++, tok = strtok_r(NULL, ",", &save))
        if (!tok || set_field(b->sw_pins[i], sizeof(b->sw_pins[i]), "--spi-pins", tok, err) < 0)
            return cli_usage_error(err, "card", "--spi-pins needs three pins MISO,MOSI,SCLK, not '%s'", val);
    if (tok)
        return cli_usage_error(err, "card", "--spi-pins needs exactly three pins MISO,MOSI,SCLK, not '%s'", val);
    return 0;
}

/* 0 to go on, 1 after --help, -1 with err. */
static int parse_opts(int argc, char **argv, struct card_opts *o, struct mf_err *err)
{
    enum { O_SPI_BUS = CLI_OWN, O_SPI_PINS, O_CS, O_SDIO };
    static const struct option own[] = {
        { "output", required_argument, NULL, 'o' },
        { "spi-bus", required_argument, NULL, O_SPI_BUS },
        { "spi-pins", required_argument, NULL, O_SPI_PINS },
        { "cs-pin", required_argument, NULL, O_CS },
        { "sdio-bus", required_argument, NULL, O_SDIO },
        { 0 },
    };
    struct cli_parser parser = { .command = "card", .shared = CLI_HELP | CLI_JSON | CLI_BAUD | CLI_FAST_SPI |
                                 CLI_BOARD_FILE, .own_short = "o:", .own = own, .common = &o->common };
    int c;
    bool spi_bus = false, pins = false;
    cli_parse_begin(&parser, argc, argv);
    while ((c = cli_parse_next(&parser, err)) != -1) {
        int rc = 0;
        switch (c) {
        case -2: return -1;
        case 'h': return 1;
        case 'o': o->output = optarg; break;
        case O_SPI_BUS: rc = set_field(o->bus.spi_bus, sizeof(o->bus.spi_bus), "--spi-bus", optarg, err);
            spi_bus = o->have_bus = true; break;
        case O_SPI_PINS: rc = parse_pins(&o->bus, optarg, err); pins = o->have_bus = true; break;
        case O_CS: rc = set_field(o->bus.cs_pin, sizeof(o->bus.cs_pin), "--cs-pin", optarg, err);
            o->have_bus = true; break;
        case O_SDIO: rc = set_field(o->bus.sdio_bus, sizeof(o->bus.sdio_bus), "--sdio-bus", optarg, err);
            o->have_bus = true; break;
        default: break; /* a shared option, stored in o->common */
        }
        if (rc < 0)
            return -1;
    }
    if (o->output && !strcmp(o->output, "-") && o->common.json)
        return cli_usage_error(err, "card", "-o - writes the file to standard output, where --json writes its "
                               "events; give one of them");
    if (!o->have_bus)
        return 0;
    bool sdio = o->bus.sdio_bus[0];
    if (sdio && (spi_bus || pins || o->bus.cs_pin[0]))
        return cli_usage_error(err, "card", "--sdio-bus cannot be combined with SPI options");
    if (!sdio && (spi_bus == pins || !o->bus.cs_pin[0]))
        return cli_usage_error(err, "card", "Give either --spi-bus or --spi-pins, together with --cs-pin (or "
                               "--sdio-bus alone)");
    o->bus.kind = sdio ? MF_BUS_SDIO : pins ? MF_BUS_SWSPI : MF_BUS_SPI;
    o->bus.fast = o->common.fast_spi;
    return 0;
}

/* Normalise a card path to start with '/'. */
static void card_path(const char *in, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", in[0] == '/' ? "" : "/", in);
}

static void print_card(const struct mf_card *c, bool json, json_t *jo)
{
    const struct sd_card_info *ci = sd_card_info(c->card);
    char desc[256], bus[160];
    sd_describe(ci, desc, sizeof(desc));
    mf_bus_describe(&c->spec, bus, sizeof(bus));
    char mbuf[8], rev[16], date[16];
    snprintf(rev, sizeof(rev), "%u.%u", ci->revision_major, ci->revision_minor);
    snprintf(date, sizeof(date), "%04u-%02u", ci->year, ci->month);
    if (json) {
        json_object_set_new(jo, "bus", json_string(bus));
        json_object_set_new(jo, "card", json_pack("{s:s,s:i,s:b,s:I,s:b,s:s,s:s,s:s,s:s,s:I,s:s}", "description",
                                                  desc, "version", ci->version, "sdhc", ci->sdhc, "capacity",
                                                  (json_int_t)ci->capacity_bytes, "write_protected",
                                                  ci->write_protected, "manufacturer",
                                                  sd_manufacturer_name(ci->manufacturer_id, mbuf), "oem", ci->oem,
                                                  "product", ci->product, "revision", rev, "serial",
                                                  (json_int_t)ci->serial, "date", date));
        return;
    }
    printf("Bus:         %s\n", bus);
    printf("Card:        %s%s\n", desc, ci->write_protected ? " (write-protected)" : "");
}

static void size_text(uint64_t v, char *buf, size_t cap)
{
    if (v >= (1ull << 30))
        snprintf(buf, cap, "%.1f GiB", (double)v / (1ull << 30));
    else if (v >= (1u << 20))
        snprintf(buf, cap, "%.1f MiB", (double)v / (1u << 20));
    else
        snprintf(buf, cap, "%.1f KiB", (double)v / 1024);
}

/* The listing; with --json into jo (NULL without). */
static int do_ls(struct mf_card *c, const char *dir, json_t *jo, struct mf_err *err)
{
    bool json = jo != NULL;
    print_card(c, json, jo);
    struct fat_info fi;
    if (fat_info(c->vol, false, &fi, err) < 0)
        return -1;
    char total[32], freeb[32];
    size_text(fi.total_bytes, total, sizeof(total));
    size_text(fi.free_bytes, freeb, sizeof(freeb));
    if (json)
        json_object_set_new(jo, "filesystem", json_pack("{s:s,s:s,s:I,s:I,s:i}", "type",
                            fi.type == FAT_TYPE_12 ? "FAT12" : fi.type == FAT_TYPE_16 ? "FAT16" : "FAT32", "label",
                            fi.label, "total", (json_int_t)fi.total_bytes, "free", (json_int_t)fi.free_bytes,
                            "cluster", (int)fi.cluster_bytes));
    else
        printf("Filesystem:  FAT%d, label \"%s\", %s, %s free, %u-byte clusters\n", fi.type, fi.label, total, freeb,
               fi.cluster_bytes);
    struct fat_dir *d;
    if (fat_dir_open(c->vol, dir, &d, err) < 0)
        return -1;
    json_t *files = json_array();
    if (!json)
        printf("Files in %s:\n", dir);
    struct fat_entry e;
    int rc, n = 0;
    while ((rc = fat_dir_next(d, &e, err)) == 1) {
        bool isdir = e.attr & FAT_ATTR_DIRECTORY;
        char when[32];
        snprintf(when, sizeof(when), "%04u-%02u-%02u %02u:%02u", e.modified.year, e.modified.month,
                 e.modified.day, e.modified.hour, e.modified.minute);
        if (json)
            json_array_append_new(files, json_pack("{s:s,s:s,s:I,s:b,s:s}", "name", e.name, "short_name",
                                                   e.short_name, "size", (json_int_t)e.size, "directory", isdir,
                                                   "modified", when));
        else if (isdir)
            printf("  %s  %10s  %s/\n", when, "<dir>", e.name);
        else
            printf("  %s  %10u  %s\n", when, e.size, e.name);
        n++;
    }
    fat_dir_close(d);
    if (rc < 0) {
        json_decref(files);
        return -1;
    }
    if (json) {
        json_object_set_new(jo, "directory", json_string(dir));
        json_object_set_new(jo, "files", files);
    } else {
        json_decref(files);
        if (!n)
            printf("  (empty)\n");
    }
    return 0;
}

/* Any file may go on the card, not only firmware; it is read whole first. */
#define CARD_PUT_MAX_BYTES (256u << 20)

static int read_local(const char *path, uint8_t **data, uint32_t *size, struct mf_err *err)
{
    struct stat st = { 0 };
    FILE *f = fopen(path, "rb");
    if (!f)
        return mf_fail(err, MF_E_INPUT, "Cannot read %s: %s; nothing was put on the card; check the path.", path,
                       strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)CARD_PUT_MAX_BYTES) {
        fclose(f);
        return mf_fail(err, MF_E_INPUT, "%s is %s; nothing was put on the card; give a file of at most %u MiB.",
                       path, S_ISDIR(st.st_mode) ? "a folder, not a file" : "not a plain file, or too big",
                       CARD_PUT_MAX_BYTES >> 20);
    }
    *size = (uint32_t)st.st_size;
    *data = malloc(*size ? *size : 1);
    if (!*data || fread(*data, 1, *size, f) != *size) {
        free(*data);
        fclose(f);
        return mf_fail(err, MF_E_INPUT, "Cannot read all of %s; nothing was put on the card.", path);
    }
    fclose(f);
    return 0;
}

/* Write all of data to an open stream (standard output, a pipe, a device). */
static int write_stream(int fd, const char *name, const uint8_t *data, uint32_t size, struct mf_err *err)
{
    for (uint32_t done = 0; done < size;) {
        ssize_t n = write(fd, data + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return mf_fail(err, MF_E_INPUT, "Cannot write to %s: %s; the card was not changed.", name,
                           n < 0 ? strerror(errno) : "nothing written");
        done += (uint32_t)n;
    }
    return 0;
}

/* Where 'get' writes.  "-" is standard output; a folder gets the card file's
 * own name; a link is followed and stays a link; a device or pipe is written
 * to as it is; a plain file, or a new name, is replaced through a temporary
 * file beside it, so an interrupted download leaves the old one whole. */
static int write_local(const char *path, const char *card_name, const uint8_t *data, uint32_t size,
                       struct mf_err *err)
{
    char in_dir[4096], real[PATH_MAX], tmp[PATH_MAX + 16];
    struct stat st;
    if (!strcmp(path, "-"))
        return write_stream(STDOUT_FILENO, "standard output", data, size, err);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(in_dir, sizeof(in_dir), "%s/%s", path, card_name);
        path = in_dir;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return mf_fail(err, MF_E_INPUT, "%s is a folder; the card was not changed; give another -o.", path);
        if (!S_ISREG(st.st_mode)) {
            int fd = open(path, O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                return mf_fail(err, MF_E_INPUT, "Cannot write to %s: %s; the card was not changed.", path,
                               strerror(errno));
            int rc = write_stream(fd, path, data, size, err);
            close(fd);
            return rc;
        }
        if (realpath(path, real))
            path = real;
    }
    snprintf(tmp, sizeof(tmp), "%s.mcuflash-tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return mf_fail(err, MF_E_INPUT, "Cannot write %s: %s; nothing was changed.", tmp, strerror(errno));
    ssize_t n = write(fd, data, size);
    if (n != (ssize_t)size || fsync(fd) < 0 || close(fd) < 0) {
        unlink(tmp);
        return mf_fail(err, MF_E_INPUT, "Cannot write %s (disk full?); nothing was changed.", path);
    }
    if (rename(tmp, path) < 0) {
        unlink(tmp);
        return mf_fail(err, MF_E_INPUT, "Cannot create %s: %s; nothing was changed.", path, strerror(errno));
    }
    return 0;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* With --json, result gets what the operation found (NULL without). */
static int run(const char *op, const char *device, const struct mf_bus_spec *spec, const struct board *board,
               char **paths, int npaths, const struct card_opts *o, const struct mf_progress *p, json_t *result,
               struct mf_err *err)
{
    /* Check local inputs before touching the board. */
    uint8_t *local = NULL;
    uint32_t local_size = 0;
    if (!strcmp(op, "put") && read_local(paths[0], &local, &local_size, err) < 0)
        return -1;
    struct mf_card c;
    if (mf_card_connect(device, (uint32_t)o->common.baud, p, &c, err) < 0) {
        free(local);
        return -1;
    }
    struct mf_bus_spec s;
    int rc = 0;
    if (spec)
        s = *spec;
    else
        rc = mf_bus_from_board(board, kl_session_dict(c.conn.session), o->common.fast_spi, &s, err);
    if (rc == 0)
        rc = mf_card_attach(&c, &s, true, err);
    if (rc == 0 && (!strcmp(op, "put") || !strcmp(op, "rm")))
        rc = mf_card_check_writable(&c, err);
    char cp[1024];
    if (rc == 0 && !strcmp(op, "ls")) {
        card_path(npaths ? paths[0] : "/", cp, sizeof(cp));
        rc = do_ls(&c, cp, result, err);
    } else if (rc == 0 && !strcmp(op, "get")) {
        card_path(paths[0], cp, sizeof(cp));
        uint8_t *data;
        uint32_t size;
        rc = mf_fat_get(c.vol, cp, FW_IMAGE_MAX_BYTES, &data, &size, p, err);
        if (rc == 0) {
            const char *dest = o->output ? o->output : base_name(cp);
            rc = write_local(dest, base_name(cp), data, size, err);
            free(data);
            if (rc == 0)
                mf_progress_note(p, "done", "Downloaded the file.");
            if (rc == 0 && result)
                json_object_update_new(result, json_pack("{s:o,s:o,s:I}", "path", cli_json_text(cp), "local",
                                                         cli_json_text(dest), "size", (json_int_t)size));
        }
    } else if (rc == 0 && !strcmp(op, "put")) {
        card_path(npaths > 1 ? paths[1] : base_name(paths[0]), cp, sizeof(cp));
        /* Into a folder, as cp does: under the file's own name. */
        struct fat_entry e;
        size_t used = strlen(cp);
        if (npaths > 1 && fat_stat(c.vol, cp, &e, err) == 1 && (e.attr & FAT_ATTR_DIRECTORY))
            snprintf(cp + used, sizeof(cp) - used, "%s%s", used > 1 ? "/" : "", base_name(paths[0]));
        rc = mf_fat_put(c.vol, cp, local, local_size, p, err);
        if (rc == 0 && result)
            json_object_update_new(result,
                                   json_pack("{s:o,s:I}", "path", cli_json_text(cp), "size", (json_int_t)local_size));
    } else if (rc == 0 && !strcmp(op, "rm")) {
        json_t *removed = result ? json_array() : NULL; /* held by result */
        if (removed)
            json_object_set_new(result, "removed", removed);
        for (int i = 0; i < npaths && rc == 0; i++) {
            card_path(paths[i], cp, sizeof(cp));
            struct fat_entry e;
            int ex = fat_stat(c.vol, cp, &e, err);
            if (ex == 0)
                rc = mf_fail(err, MF_E_INPUT, "There is no %s on the card; %s.", cp,
                             i ? "the files before it were removed" : "nothing was removed");
            else if (ex < 0)
                rc = -1;
            else
                rc = fat_delete(c.vol, cp, err);
            if (rc == 0 && removed)
                json_array_append_new(removed, json_string(cp));
        }
    }
    struct mf_err cerr;
    if (mf_card_close_settled(&c, rc == 0 ? err : &cerr) < 0)
        rc = -1;
    free(local);
    return rc;
}

int cmd_card(int argc, char **argv)
{
    struct card_opts o = { 0 };
    struct mf_err err = { 0 };
    int prc = parse_opts(argc, argv, &o, &err);
    if (prc == 1) {
        usage(stdout);
        return 0;
    }
    if (prc < 0)
        return cli_report_error(&err, o.common.json);
    /* The operation, then its arguments; options may come anywhere. */
    const char *op = optind < argc ? argv[optind] : "";
    if (strcmp(op, "ls") && strcmp(op, "get") && strcmp(op, "put") && strcmp(op, "rm")) {
        cli_usage_error(&err, "card", "'card' needs one of ls, get, put or rm (not '%s')", op);
        return cli_report_error(&err, o.common.json);
    }
    char **pos = argv + optind + 1;
    int npos = argc - optind - 1;
    int need_board = o.have_bus ? 0 : 1;
    int min_paths = !strcmp(op, "ls") ? 0 : 1;
    int max_paths = !strcmp(op, "ls") || !strcmp(op, "get") ? 1 : !strcmp(op, "put") ? 2 : npos;
    int npaths = npos - 1 - need_board;
    if (npos < 1 + need_board || npaths < min_paths || npaths > max_paths) {
        cli_usage_error(&err, "card", "Wrong number of arguments for 'card %s'", op);
        return cli_report_error(&err, o.common.json);
    }
    struct board_db *db = NULL;
    const struct board *board = NULL;
    if (need_board) {
        if (board_db_load(o.common.board_files, o.common.nboard_files, &db, &err) < 0 ||
            !(board = board_db_find(db, pos[1], &err))) {
            board_db_free(db);
            return cli_report_error(&err, o.common.json);
        }
    }
    struct cli_output out;
    struct mf_progress p = cli_output_init(&out, o.common.json, false);
    json_t *result = o.common.json ? cli_json_result(true) : NULL;
    if (result)
        json_object_set_new(result, "operation", json_string(op));
    int rc = run(op, pos[0], o.have_bus ? &o.bus : NULL, board, pos + 1 + need_board, npaths, &o, &p, result, &err);
    cli_output_done(&out);
    board_db_free(db);
    if (rc < 0) {
        json_decref(result);
        cli_advise(&err, pos[0]);
        return cli_report_error(&err, o.common.json);
    }
    if (result)
        cli_json_line(result);
    return 0;
}
