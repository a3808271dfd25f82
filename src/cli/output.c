#include "cli/output.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/clock.h"

json_t *cli_json_result(bool ok)
{
    return json_pack("{s:s,s:b}", "event", "result", "ok", ok);
}

void cli_json_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    printf("%s\n", s ? s : "{}");
    fflush(stdout);
    free(s);
    json_decref(o);
}

/* The length of the UTF-8 sequence at p (shortest form, no surrogates, at
 * most U+10FFFF), or 0 if the bytes there are not one. */
static size_t utf8_sequence(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
        (c == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

json_t *cli_json_text(const char *text)
{
    if (!text)
        return json_null();
    size_t len = strlen(text);
    char *out = malloc(len * 3 + 1);
    if (!out)
        return json_string("");
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        size_t n = utf8_sequence(p);
        if (n) {
            memcpy(out + o, p, n);
            o += n, p += n;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3, p++;
        }
    }
    out[o] = '\0';
    json_t *s = json_string(out);
    free(out);
    return s;
}

double cli_json_seconds(double seconds)
{
    return (double)(long long)(seconds * 1000 + 0.5) / 1000;
}

static void end_bar(struct cli_output *o)
{
    if (o->bar_open) {
        fputc('\n', stderr);
        o->bar_open = false;
    }
}

static void human_size(double v, char *buf, size_t cap)
{
    if (v >= 1 << 20)
        snprintf(buf, cap, "%.1f MiB", v / (1 << 20));
    else if (v >= 1024)
        snprintf(buf, cap, "%.1f KiB", v / 1024);
    else
        snprintf(buf, cap, "%.0f B", v);
}

static void on_update(void *ctx, const char *phase, uint64_t done, uint64_t total)
{
    struct cli_output *o = ctx;
    uint64_t now = mf_now_us();
    if (strcmp(o->phase, phase)) {
        end_bar(o);
        snprintf(o->phase, sizeof(o->phase), "%s", phase);
        o->phase_start_us = now;
        o->last_draw_us = 0;
    }
    double secs = (double)(now - o->phase_start_us) / 1e6;
    double rate = secs > 0.05 ? (double)done / secs : 0;
    if (o->json) {
        /* At most ten events a second, plus the final one. */
        if (done != total && now - o->last_draw_us < 100000)
            return;
        o->last_draw_us = now;
        cli_json_line(json_pack("{s:s,s:s,s:I,s:I,s:I}", "event", "progress", "phase", phase, "done",
                                (json_int_t)done, "total", (json_int_t)total, "rate", (json_int_t)(rate + 0.5)));
        return;
    }
    if (!o->tty || o->quiet)
        return;
    if (done != total && now - o->last_draw_us < 100000)
        return;
    o->last_draw_us = now;
    char d[32], t[32], r[32], left[32] = "";
    human_size((double)done, d, sizeof(d));
    human_size((double)total, t, sizeof(t));
    human_size(rate, r, sizeof(r));
    if (rate > 0 && total > done)
        snprintf(left, sizeof(left), ", %.0f s left", (double)(total - done) / rate);
    int pct = total ? (int)(done * 100 / total) : 0;
    fprintf(stderr, "\r%-9s %3d%% %s of %s at %s/s%s\033[K", phase, pct, d, t, r, left);
    o->bar_open = true;
    if (done == total)
        end_bar(o);
}

static void on_note(void *ctx, const char *event, const char *text)
{
    struct cli_output *o = ctx;
    if (o->json) {
        cli_json_line(json_pack("{s:s,s:o}", "event", event, "message", cli_json_text(text)));
        return;
    }
    if (o->quiet)
        return;
    end_bar(o);
    fprintf(stderr, "%s\n", text);
}

struct mf_progress cli_output_init(struct cli_output *out, bool json, bool quiet)
{
    memset(out, 0, sizeof(*out));
    out->json = json;
    out->quiet = quiet;
    out->tty = isatty(STDERR_FILENO);
    return (struct mf_progress){ on_update, on_note, out };
}

void cli_output_done(struct cli_output *out)
{
    end_bar(out);
}
