/* Firmware file formats (Intel HEX, UF2, ELF) read into a binary, the MCU
 * flash table, and the link address read from a vector table. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "firmware/format.h"
#include "firmware/mcu.h"
#include "firmware/vectors.h"

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* ---- Intel HEX ------------------------------------------------------------ */

static size_t hex_record(char *out, uint8_t type, uint16_t addr, const uint8_t *d, uint8_t n)
{
    uint8_t sum = (uint8_t)(n + (addr >> 8) + (addr & 0xff) + type);
    size_t len = (size_t)sprintf(out, ":%02X%04X%02X", n, addr, type);
    for (uint8_t i = 0; i < n; i++) {
        len += (size_t)sprintf(out + len, "%02X", d[i]);
        sum = (uint8_t)(sum + d[i]);
    }
    return len + (size_t)sprintf(out + len, "%02X\r\n", (uint8_t)-sum);
}

/* data placed at base (crossing 64 KiB boundaries) as 16-byte records. */
static char *make_hex(const uint8_t *data, size_t n, uint32_t base, bool end)
{
    char *text = malloc(n * 4 + 4096), *p = text;
    uint32_t upper = UINT32_MAX;
    for (size_t off = 0; off < n; off += 16) {
        uint32_t a = base + (uint32_t)off;
        if (a >> 16 != upper) {
            upper = a >> 16;
            uint8_t ext[2] = { (uint8_t)(upper >> 8), (uint8_t)upper };
            p += hex_record(p, 4, 0, ext, 2);
        }
        uint8_t len = (uint8_t)(n - off < 16 ? n - off : 16);
        p += hex_record(p, 0, (uint16_t)a, data + off, len);
    }
    if (end)
        p += hex_record(p, 1, 0, NULL, 0);
    *p = '\0';
    return text;
}

static void test_hex(void)
{
    size_t n = 70000;
    uint8_t *data = malloc(n);
    fill_pattern(data, n, 3);
    char *hex = make_hex(data, n, 0x0800f000, true);
    CHECK_EQ(fw_format_detect((uint8_t *)hex, strlen(hex)), FW_FORMAT_HEX);
    struct fw_binary b;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "k.hex", (uint8_t *)hex, strlen(hex), &b, &err), 0);
    CHECK_EQ(b.base, 0x0800f000);
    CHECK_EQ(b.size, n);
    if (b.size == n)
        CHECK_MEM(b.data, data, n);
    fw_binary_free(&b);

    /* Extended segment address (02): base 0x1000 << 4. */
    char seg[256], *p = seg;
    uint8_t s[2] = { 0x10, 0x00 }, d[4] = { 1, 2, 3, 4 };
    p += hex_record(p, 2, 0, s, 2);
    p += hex_record(p, 0, 0x0010, d, 4);
    p += hex_record(p, 1, 0, NULL, 0);
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "s.hex", (uint8_t *)seg, strlen(seg), &b, &err), 0);
    CHECK_EQ(b.base, 0x10010);
    CHECK_EQ(b.size, 4);
    fw_binary_free(&b);

    /* A damaged checksum, a missing end record, a stray line. */
    char *bad = make_hex(data, 64, 0x08000000, true);
    bad[strlen(bad) / 2 - 1] ^= 1;  /* a digit of the second record */
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "bad.hex", (uint8_t *)bad, strlen(bad), &b, &err), -1);
    CHECK_EQ(err.code, MF_E_INPUT);
    CHECK(strstr(err.msg, "bad.hex is not a usable hex file: line ") != NULL);
    free(bad);
    char *cut = make_hex(data, 64, 0x08000000, false);
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "cut.hex", (uint8_t *)cut, strlen(cut), &b, &err), -1);
    CHECK_STR(err.msg, "cut.hex is not a usable hex file: it has no end record (the file is cut off).");
    free(cut);
    /* What follows the end record is not read; a stray line before it is refused. */
    const char *tail = ":0100000055AA\n:00000001FF\nhello\n", *stray = ":0100000055AA\nhello\n:00000001FF\n";
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "t.hex", (const uint8_t *)tail, strlen(tail), &b, &err), 0);
    CHECK_EQ(b.size, 1);
    fw_binary_free(&b);
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "j.hex", (const uint8_t *)stray, strlen(stray), &b, &err), -1);
    CHECK_STR(err.msg, "j.hex is not a usable hex file: line 2 is not an Intel HEX record.");
    const char *empty = ":00000001FF\n";
    CHECK_EQ(fw_to_binary(FW_FORMAT_HEX, "e.hex", (const uint8_t *)empty, strlen(empty), &b, &err), -1);
    CHECK_STR(err.msg, "e.hex is a hex file with nothing to flash in it.");
    free(hex);
    free(data);
}

/* ---- UF2 ------------------------------------------------------------------ */

static void uf2_block(uint8_t *b, uint32_t flags, uint32_t addr, uint32_t size, uint32_t no, uint32_t count,
                      const uint8_t *data)
{
    memset(b, 0, FW_UF2_BLOCK);
    put32(b, 0x0A324655);
    put32(b + 4, 0x9E5D5157);
    put32(b + 8, flags);
    put32(b + 12, addr);
    put32(b + 16, size);
    put32(b + 20, no);
    put32(b + 24, count);
    put32(b + 28, FW_UF2_FAMILY_RP2040);
    memcpy(b + 32, data, size);
    put32(b + 508, 0x0AB16F30);
}

static void test_uf2(void)
{
    uint8_t data[1024], file[5 * FW_UF2_BLOCK];
    fill_pattern(data, sizeof(data), 9);
    for (uint32_t i = 0; i < 4; i++)
        uf2_block(file + i * FW_UF2_BLOCK, 0x2000, 0x10000000 + 256 * i, 256, i, 5, data + 256 * i);
    /* A block for somewhere other than main flash is skipped. */
    uf2_block(file + 4 * FW_UF2_BLOCK, 0x2001, 0x20000000, 256, 4, 5, data);
    CHECK_EQ(fw_format_detect(file, sizeof(file)), FW_FORMAT_UF2);
    struct fw_binary b;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "k.uf2", file, sizeof(file), &b, &err), 0);
    CHECK_EQ(b.base, 0x10000000);
    CHECK_EQ(b.size, sizeof(data));
    CHECK_EQ(b.uf2_family, FW_UF2_FAMILY_RP2040);
    if (b.size == sizeof(data))
        CHECK_MEM(b.data, data, sizeof(data));
    fw_binary_free(&b);

    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "cut.uf2", file, sizeof(file) - 100, &b, &err), -1);
    CHECK(strstr(err.msg, "not a whole number of 512-byte blocks") != NULL);
    file[FW_UF2_BLOCK + 508] ^= 1;
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "bad.uf2", file, sizeof(file), &b, &err), -1);
    CHECK_STR(err.msg, "bad.uf2 is not a usable uf2 file: block 1 is not a UF2 block.");
    file[FW_UF2_BLOCK + 508] ^= 1;
    put32(file + 16, 477);
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "big.uf2", file, sizeof(file), &b, &err), -1);
    CHECK(strstr(err.msg, "block 0 claims 477 bytes") != NULL);
    put32(file + 16, 256);

    /* Cut at a block boundary: the numbering shows it. */
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "short.uf2", file, 3 * FW_UF2_BLOCK, &b, &err), -1);
    CHECK_STR(err.msg, "short.uf2 is not a usable uf2 file: it ends after block 2 of 5 (the file is cut off).");
    /* A block missing in the middle, or out of order. */
    uint8_t gap[4 * FW_UF2_BLOCK];
    memcpy(gap, file, FW_UF2_BLOCK);
    memcpy(gap + FW_UF2_BLOCK, file + 2 * FW_UF2_BLOCK, 3 * FW_UF2_BLOCK);
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "gap.uf2", gap, sizeof(gap), &b, &err), -1);
    CHECK(strstr(err.msg, "block 1 is numbered 2 of 5 where 1 of 5 was due") != NULL);
    /* Two files joined, each numbered from 0, are one image. */
    uint8_t two[2 * FW_UF2_BLOCK];
    uf2_block(two, 0x2000, 0x10000000, 256, 0, 1, data);
    uf2_block(two + FW_UF2_BLOCK, 0x2000, 0x10000100, 256, 0, 1, data + 256);
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "two.uf2", two, sizeof(two), &b, &err), 0);
    CHECK_EQ(b.size, 512);
    fw_binary_free(&b);
    /* ... unless they are for different families. */
    put32(two + FW_UF2_BLOCK + 28, FW_UF2_FAMILY_RP2040 + 1);
    CHECK_EQ(fw_to_binary(FW_FORMAT_UF2, "mixed.uf2", two, sizeof(two), &b, &err), -1);
    CHECK(strstr(err.msg, "it holds images for several UF2 families") != NULL);
}

/* ---- ELF ------------------------------------------------------------------ */

struct seg {
    uint32_t type, paddr, vaddr, filesz, memsz;
    const uint8_t *data;
};

/* An ELF32 executable with these program headers, contents after them. */
static uint8_t *make_elf(const struct seg *s, int n, uint16_t type, size_t *len)
{
    size_t off = sizeof(Elf32_Ehdr) + (size_t)n * sizeof(Elf32_Phdr), total = off;
    for (int i = 0; i < n; i++)
        total += s[i].filesz;
    uint8_t *f = calloc(1, total);
    Elf32_Ehdr *eh = (Elf32_Ehdr *)f;
    memcpy(eh->e_ident, ELFMAG, SELFMAG);
    eh->e_ident[EI_CLASS] = ELFCLASS32;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = type;
    eh->e_machine = EM_ARM;
    eh->e_version = EV_CURRENT;
    eh->e_phoff = sizeof(Elf32_Ehdr);
    eh->e_ehsize = sizeof(Elf32_Ehdr);
    eh->e_phentsize = sizeof(Elf32_Phdr);
    eh->e_phnum = (uint16_t)n;
    for (int i = 0; i < n; i++) {
        Elf32_Phdr *ph = (Elf32_Phdr *)(f + sizeof(Elf32_Ehdr)) + i;
        ph->p_type = s[i].type;
        ph->p_offset = (uint32_t)off;
        ph->p_paddr = s[i].paddr;
        ph->p_vaddr = s[i].vaddr;
        ph->p_filesz = s[i].filesz;
        ph->p_memsz = s[i].memsz;
        if (s[i].filesz)
            memcpy(f + off, s[i].data, s[i].filesz);
        off += s[i].filesz;
    }
    *len = total;
    return f;
}

static void test_elf(void)
{
    uint8_t text[600], data[40];
    fill_pattern(text, sizeof(text), 1);
    fill_pattern(data, sizeof(data), 77);
    /* Code in flash; .data loaded after a gap, run from RAM; .bss not in the file. */
    struct seg segs[] = {
        { PT_LOAD, 0x08007000, 0x08007000, sizeof(text), sizeof(text), text },
        { PT_LOAD, 0x08007300, 0x20000000, sizeof(data), sizeof(data), data },
        { PT_LOAD, 0x20000100, 0x20000100, 0, 512, NULL },
        { PT_NOTE, 0x30000000, 0x30000000, 4, 4, data },
    };
    segs[1].paddr = 0x08007000 + sizeof(text) + 8;
    size_t len;
    uint8_t *elf = make_elf(segs, 4, ET_EXEC, &len);
    CHECK_EQ(fw_format_detect(elf, len), FW_FORMAT_ELF);
    struct fw_binary b;
    struct mf_err err = { 0 };
    CHECK_EQ(fw_to_binary(FW_FORMAT_ELF, "k.elf", elf, len, &b, &err), 0);
    CHECK_EQ(b.base, 0x08007000);
    CHECK_EQ(b.size, sizeof(text) + 8 + sizeof(data));
    if (b.size == sizeof(text) + 8 + sizeof(data)) {
        static const uint8_t zeros[8];
        CHECK_MEM(b.data, text, sizeof(text));
        CHECK_MEM(b.data + sizeof(text), zeros, 8);
        CHECK_MEM(b.data + sizeof(text) + 8, data, sizeof(data));
    }
    fw_binary_free(&b);
    free(elf);

    elf = make_elf(segs, 1, ET_REL, &len);
    CHECK_EQ(fw_to_binary(FW_FORMAT_ELF, "k.o", elf, len, &b, &err), -1);
    CHECK_STR(err.msg, "k.o is not a usable elf file: it is an ELF object file, not a linked executable.");
    free(elf);

    elf = make_elf(segs, 1, ET_EXEC, &len);
    CHECK_EQ(fw_to_binary(FW_FORMAT_ELF, "cut.elf", elf, len - 10, &b, &err), -1);
    CHECK_STR(err.msg, "cut.elf is not a usable elf file: segment 0 runs past the end of the file (the file "
              "is cut off).");
    free(elf);

    /* Flash and RAM contents 384 MiB apart: not one image. */
    segs[1].paddr = 0x20000000;
    elf = make_elf(segs, 2, ET_EXEC, &len);
    CHECK_EQ(fw_to_binary(FW_FORMAT_ELF, "ram.elf", elf, len, &b, &err), -1);
    CHECK(strstr(err.msg, "ram.elf places data from 0x8007000 to 0x20000028") != NULL);
    free(elf);

    CHECK_EQ(fw_to_binary(FW_FORMAT_ELF, "hdr.elf", (const uint8_t *)"\x7f" "ELF\1\1", 6, &b, &err), -1);
    CHECK(strstr(err.msg, "hdr.elf is not a usable elf file: its ELF header is damaged") != NULL);
}

/* ---- MCU table and vector tables ---------------------------------------- */

static void test_mcu_table(void)
{
    const struct fw_mcu *f103 = fw_mcu_find("STM32F103XE"), *lpc = fw_mcu_find("lpc1769");
    CHECK(f103 && lpc);
    CHECK(fw_mcu_find("stm32f999") == NULL);
    CHECK(fw_mcu_find(NULL) == NULL);
    if (!f103 || !lpc)
        return;
    CHECK_EQ(fw_mcu_room(f103, 0x08007000), 512 * 1024 - 0x7000);
    CHECK_EQ(fw_mcu_room(f103, 0x08080000), 0);
    CHECK_EQ(fw_mcu_room(f103, 0x07fff000), 0);
    char buf[64];
    CHECK_STR(fw_mcu_offset_choice(f103, 0x08007000, buf, sizeof(buf)), "28KiB bootloader");
    CHECK_STR(fw_mcu_offset_choice(f103, 0x08008800, buf, sizeof(buf)), "34KiB bootloader");
    CHECK_STR(fw_mcu_offset_choice(f103, 0x08000000, buf, sizeof(buf)), "No bootloader");
    CHECK_STR(fw_mcu_offset_choice(fw_mcu_find("stm32f407xx"), 0x08020200, buf, sizeof(buf)),
              "128KiB bootloader with 512 byte offset");
    CHECK_STR(fw_mcu_offset_choice(lpc, 0x4000, buf, sizeof(buf)), "16KiB bootloader");
    CHECK_STR(fw_mcu_offset_choice(fw_mcu_find("rp2040"), 0x10000000, buf, sizeof(buf)), "No bootloader");
    CHECK(fw_mcu_stack_ok(f103, 0x20005000));
    CHECK(!fw_mcu_stack_ok(f103, 0x20000000));
    CHECK(!fw_mcu_stack_ok(f103, 0x08005000));
    CHECK(fw_mcu_stack_ok(fw_mcu_find("stm32h743xx"), 0x24080000)); /* AXI SRAM */
    CHECK_EQ(fw_mcu_find("atmega2560")->arch, FW_ARCH_OTHER);
    for (size_t i = 0; i < fw_mcu_count(); i++) {
        const struct fw_mcu *m = fw_mcu_at(i);
        CHECK(m->flash_size >= 32 * 1024);
        CHECK(m->arch != FW_ARCH_CORTEX_M || m->ram_end > m->ram_start);
    }
}

/* A vector table: the stack, the reset handler at first, handlers up to last. */
static uint8_t *vector_image(size_t len, uint32_t sp, uint32_t first, uint32_t last)
{
    uint8_t *img = malloc(len);
    fill_pattern(img, len, 5);
    put32(img, sp);
    put32(img + 4, first | 1);
    put32(img + 8, last | 1);
    for (int i = 3; i < 16; i++)
        put32(img + 4 * i, i >= 7 && i <= 10 ? 0 : (first + 2 * (uint32_t)i) | 1);
    return img;
}

static void test_vectors(void)
{
    const struct fw_mcu *f103 = fw_mcu_find("stm32f103xe");
    struct fw_link l;
    /* Linked for 0x08005000: handlers from the end of the table to the end. */
    size_t len = 20000;
    uint8_t *img = vector_image(len, 0x20005000, 0x08005130, 0x08005000 + (uint32_t)len - 2);
    CHECK(fw_vectors_fit(f103, img, len, 0x08005000));
    CHECK(!fw_vectors_fit(f103, img, len, 0x08007000));
    fw_link_infer(f103, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_INFERRED);
    CHECK_EQ(l.address, 0x08005000);
    CHECK_EQ(l.initial_sp, 0x20005000);
    CHECK_EQ(l.reset, 0x08005131);
    fw_link_check(f103, img, len, 0x08005000, &l);
    CHECK_EQ(l.status, FW_LINK_KNOWN);
    fw_link_check(f103, img, len, 0x08007000, &l);
    CHECK_EQ(l.status, FW_LINK_NO_VECTORS);
    /* A stack pointer outside RAM: no table. */
    put32(img, 0x08005000);
    fw_link_infer(f103, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_NO_VECTORS);
    free(img);

    /* Handlers that fit both the 28KiB and 32KiB offsets: the function
     * pointers in the code decide. */
    len = 65536;
    img = vector_image(len, 0x20005000, 0x08009000, 0x08010000);
    fw_link_infer(f103, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_AMBIGUOUS);
    CHECK(l.ncandidates >= 2);
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t fn = 0x2000 + 64 * i;      /* offsets of functions in the image */
        img[fn] = 0x10, img[fn + 1] = 0xb5; /* push {r4, lr} */
        put32(img + 0x8000 + 4 * i, (0x08007000 + fn) | 1);
    }
    fw_link_infer(f103, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_INFERRED);
    CHECK_EQ(l.address, 0x08007000);
    free(img);

    /* RP2040 without a bootloader: the table follows boot stage 2. */
    const struct fw_mcu *rp = fw_mcu_find("rp2040");
    len = 8192;
    img = malloc(len);
    fill_pattern(img, len, 2);
    uint8_t *t = img + 256;
    uint8_t *table = vector_image(64, 0x20042000, 0x10000200, 0x10001ff0);
    memcpy(t, table, 64);
    free(table);
    fw_link_infer(rp, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_INFERRED);
    CHECK_EQ(l.address, 0x10000000);
    free(img);

    /* A board's own address is tried too. */
    len = 4096;
    img = vector_image(len, 0x20005000, 0x08003100, 0x08003ffe);
    fw_link_infer(f103, img, len, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_NO_VECTORS);
    uint32_t extra = 0x08003000;
    fw_link_infer(f103, img, len, &extra, 1, &l);
    CHECK_EQ(l.status, FW_LINK_INFERRED);
    CHECK_EQ(l.address, 0x08003000);
    free(img);

    /* No table on an AVR, and none in a short file. */
    fw_link_infer(fw_mcu_find("atmega2560"), (const uint8_t *)"abcd", 4, NULL, 0, &l);
    CHECK_EQ(l.status, FW_LINK_NO_VECTORS);
    CHECK(!fw_vectors_fit(f103, (const uint8_t *)"abcd", 4, 0x08000000));
}

int main(void)
{
    test_hex();
    test_uf2();
    test_elf();
    test_mcu_table();
    test_vectors();
    return check_report("test_firmware_formats");
}
