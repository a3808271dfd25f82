/* DfuSe memory layout strings (the grammar is in layout.h). */
#include "usb/layout.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int bad(struct mf_err *err, const char *text, const char *at)
{
    return mf_fail(err, MF_E_PROTOCOL, "The device's memory layout \"%s\" cannot be read at \"%.16s\".", text, at);
}

/* One "N*SIZE<unit><type>" run starting at *addr. */
static int parse_run(const char *text, const char **p, uint32_t *addr, struct dfu_layout *l, struct mf_err *err)
{
    char *end;
    unsigned long n = strtoul(*p, &end, 10);
    if (end == *p || *end != '*' || n == 0)
        return bad(err, text, *p);
    const char *size_at = end + 1;
    unsigned long size = strtoul(size_at, &end, 10);
    if (end == size_at || size == 0)
        return bad(err, text, size_at);
    switch (*end) {
    case 'M':
        size *= 1024;
        /* fall through */
    case 'K':
        size *= 1024;
        /* fall through */
    case 'B':
    case ' ':
        end++;
        break;
    default:
        break; /* no unit: bytes */
    }
    if (*end < 'a' || *end > 'g')
        return bad(err, text, end);
    unsigned attrs = (unsigned)(*end - 'a' + 1);
    uint64_t total = (uint64_t)n * size;
    if (l->count == DFU_LAYOUT_MAX || total > 0xffffffffull - *addr)
        return bad(err, text, *p);
    l->seg[l->count++] = (struct dfu_segment){ *addr, (uint32_t)(*addr + total), (uint32_t)size, attrs };
    *addr += (uint32_t)total;
    *p = end + 1;
    return 0;
}

int dfu_layout_parse(const char *text, struct dfu_layout *l, struct mf_err *err)
{
    memset(l, 0, sizeof(*l));
    const char *p = text;
    if (*p != '@')
        return bad(err, text, p);
    size_t name_len = strcspn(++p, "/");
    size_t keep = name_len < sizeof(l->name) - 1 ? name_len : sizeof(l->name) - 1;
    memcpy(l->name, p, keep);
    while (keep > 0 && l->name[keep - 1] == ' ')
        l->name[--keep] = '\0';
    p += name_len;
    while (*p == '/') {
        char *end;
        p++;
        if (!*p)
            break; /* a trailing slash */
        unsigned long addr = strtoul(p, &end, 16);
        if (end == p || *end != '/' || addr > 0xffffffffu)
            return bad(err, text, p);
        p = end + 1;
        uint32_t at = (uint32_t)addr;
        for (;;) {
            if (parse_run(text, &p, &at, l, err))
                return -1;
            if (*p != ',')
                break;
            p++;
        }
    }
    if (*p || l->count == 0)
        return bad(err, text, p);
    return 0;
}

const struct dfu_segment *dfu_layout_find(const struct dfu_layout *l, uint32_t addr)
{
    for (int i = 0; i < l->count; i++)
        if (addr >= l->seg[i].start && addr < l->seg[i].end)
            return &l->seg[i];
    return NULL;
}

int dfu_layout_check_write(const struct dfu_layout *l, uint32_t addr, uint32_t len, struct mf_err *err)
{
    uint64_t at = addr, end = (uint64_t)addr + len;
    while (at < end) {
        const struct dfu_segment *s = dfu_layout_find(l, (uint32_t)at);
        if (!s)
            return mf_fail(err, MF_E_MISMATCH, "The device's memory \"%s\" has nothing at 0x%08X.", l->name,
                           (unsigned)at);
        unsigned need = DFU_MEM_ERASABLE | DFU_MEM_WRITABLE;
        if ((s->attrs & need) != need)
            return mf_fail(err, MF_E_MISMATCH, "The device's memory \"%s\" at 0x%08X cannot be %s.", l->name,
                           (unsigned)at, s->attrs & DFU_MEM_WRITABLE ? "erased" : "written");
        at = s->end;
    }
    return 0;
}

uint32_t dfu_layout_page_start(const struct dfu_segment *s, uint32_t addr)
{
    return addr - (addr - s->start) % s->page_size;
}
