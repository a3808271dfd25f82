/* A DfuSe device's memory map, as its alt setting's name gives it:
 *   "@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg"
 * a name, then for each region "/0xADDR/" and a list of N*SIZE<unit><type>
 * runs of equal pages: unit ' ' or B (bytes), K or M; type a..g, a bit set
 * of readable (1), erasable (2) and writable (4).
 */
#ifndef MF_USB_LAYOUT_H
#define MF_USB_LAYOUT_H

#include <stdint.h>

#include "util/err.h"

#define DFU_MEM_READABLE 1u
#define DFU_MEM_ERASABLE 2u
#define DFU_MEM_WRITABLE 4u
#define DFU_LAYOUT_MAX 32

/* Pages of one size, from start up to (not including) end. */
struct dfu_segment {
    uint32_t start, end;
    uint32_t page_size;
    unsigned attrs;
};

struct dfu_layout {
    char name[64];
    struct dfu_segment seg[DFU_LAYOUT_MAX];
    int count;
};

/* MF_E_PROTOCOL when the string does not follow the grammar. */
int dfu_layout_parse(const char *text, struct dfu_layout *l, struct mf_err *err);

/* The segment holding addr, or NULL. */
const struct dfu_segment *dfu_layout_find(const struct dfu_layout *l, uint32_t addr);

/* [addr, addr+len) lies in memory that can be erased and written: 0, or -1
 * (MF_E_MISMATCH) naming the first address that cannot. */
int dfu_layout_check_write(const struct dfu_layout *l, uint32_t addr, uint32_t len, struct mf_err *err);

/* The start of the page holding addr (addr inside the layout). */
uint32_t dfu_layout_page_start(const struct dfu_segment *s, uint32_t addr);

#endif
