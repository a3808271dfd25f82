/* ELF executables (klipper.elf) through libelf: the contents of every
 * loadable segment at its load (physical) address, as 'objcopy -O binary'
 * lays them out. */
#include "firmware/format.h"

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>

static int walk_segments(Elf *e, size_t len, const uint8_t *data, fw_chunk_fn fn, void *ctx, char *why,
                         size_t cap)
{
    if (elf_kind(e) != ELF_K_ELF) {
        snprintf(why, cap, "its ELF header is damaged");
        return -1;
    }
    GElf_Ehdr eh;
    if (!gelf_getehdr(e, &eh)) {
        snprintf(why, cap, "its ELF header is damaged (%s)", elf_errmsg(-1));
        return -1;
    }
    if (eh.e_type != ET_EXEC) {
        snprintf(why, cap, "it is an ELF %s, not a linked executable",
                 eh.e_type == ET_REL ? "object file" : eh.e_type == ET_DYN ? "shared object" : "file");
        return -1;
    }
    size_t n;
    if (elf_getphdrnum(e, &n) != 0) {
        snprintf(why, cap, "its program headers are damaged (%s)", elf_errmsg(-1));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(e, (int)i, &ph)) {
            snprintf(why, cap, "program header %zu is damaged (%s)", i, elf_errmsg(-1));
            return -1;
        }
        if (ph.p_type != PT_LOAD || ph.p_filesz == 0)
            continue;
        if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
            snprintf(why, cap, "segment %zu runs past the end of the file (the file is cut off)", i);
            return -1;
        }
        if (fn(ctx, ph.p_paddr, data + ph.p_offset, (size_t)ph.p_filesz) < 0)
            return -1;
    }
    return 0;
}

int fw_elf_walk(const uint8_t *data, size_t len, fw_chunk_fn fn, void *ctx, char *why, size_t cap)
{
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(why, cap, "the ELF library cannot be used (%s)", elf_errmsg(-1));
        return -1;
    }
    /* libelf reads the buffer only; its prototype predates const. */
    Elf *e = elf_memory((char *)data, len);
    if (!e) {
        snprintf(why, cap, "its ELF header is damaged (%s)", elf_errmsg(-1));
        return -1;
    }
    int rc = walk_segments(e, len, data, fn, ctx, why, cap);
    elf_end(e);
    return rc;
}
