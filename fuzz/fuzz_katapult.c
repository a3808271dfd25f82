/* Arbitrary bytes as a Katapult reply stream (the frame finder must skip
 * garbage and only ever hand out frames whose CRC and trailer are right),
 * as a CONNECT reply payload, and as printer.cfg text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "katapult/client.h"
#include "katapult/frame.h"
#include "printer/config.h"
#include "printer/mcus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void find_frames(const uint8_t *data, size_t size)
{
    size_t off = 0;
    while (off < size) {
        size_t used = 0;
        enum kp_find_result r = kp_frame_find(data + off, size - off, &used);
        if (r == KP_FIND_MORE)
            break;
        if (used == 0 || used > size - off)
            abort(); /* no progress, or past the end */
        if (r == KP_FIND_FRAME) {
            /* A frame is rebuilt byte for byte from its command and payload. */
            const uint8_t *f = data + off;
            uint8_t again[KP_FRAME_MAX];
            if (used < KP_FRAME_OVERHEAD || used > KP_RX_FRAME_MAX)
                abort();
            if (used <= KP_FRAME_MAX &&
                (kp_frame_build(f[2], f + 4, used - KP_FRAME_OVERHEAD, again) != used || memcmp(again, f, used)))
                abort();
        }
        off += used;
    }
}

static void parse_config(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return;
    memcpy(text, data, size);
    text[size] = 0;
    /* An absolute include would read the machine's own files (a device
     * could block); relative ones resolve below a folder that is not there. */
    if (strstr(text, "include") && strchr(text, '/')) {
        free(text);
        return;
    }
    struct pcfg *c = NULL;
    struct mf_err err;
    if (pcfg_load_text(text, "/nonexistent/fuzz/printer.cfg", &c, &err) == 0) {
        struct printer_mcus m;
        if (printer_mcus_from_config(c, &m, &err) == 0)
            printer_mcus_free(&m);
        pcfg_free(c);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    find_frames(data, size);
    struct kp_info info;
    struct mf_err err;
    kp_parse_connect(data, size, &info, &err);
    parse_config(data, size);
    return 0;
}
