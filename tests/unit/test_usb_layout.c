/* DfuSe memory layout strings: the STM32 ROMs' forms, every unit and type,
 * several regions, malformed strings, and which ranges may be written. */
#include "check.h"
#include "usb/layout.h"

static void test_f4(void)
{
    struct dfu_layout l;
    struct mf_err err;
    CHECK_EQ(dfu_layout_parse("@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg", &l, &err), 0);
    CHECK_STR(l.name, "Internal Flash");
    CHECK_EQ(l.count, 3);
    CHECK_EQ(l.seg[0].start, 0x08000000);
    CHECK_EQ(l.seg[0].end, 0x08010000);
    CHECK_EQ(l.seg[0].page_size, 16 * 1024);
    CHECK_EQ(l.seg[1].start, 0x08010000);
    CHECK_EQ(l.seg[1].page_size, 64 * 1024);
    CHECK_EQ(l.seg[2].end, 0x08100000);
    CHECK_EQ(l.seg[2].attrs, DFU_MEM_READABLE | DFU_MEM_ERASABLE | DFU_MEM_WRITABLE);
    const struct dfu_segment *s = dfu_layout_find(&l, 0x08023456);
    CHECK(s == &l.seg[2]);
    CHECK_EQ(dfu_layout_page_start(s, 0x08023456), 0x08020000);
    CHECK_EQ(dfu_layout_page_start(&l.seg[0], 0x0800c001), 0x0800c000);
    CHECK(dfu_layout_find(&l, 0x08100000) == NULL);
    CHECK(dfu_layout_find(&l, 0x07ffffff) == NULL);
    CHECK_EQ(dfu_layout_check_write(&l, 0x08008000, 0x40000, &err), 0);
    CHECK_EQ(dfu_layout_check_write(&l, 0x080f0000, 0x10001, &err), -1);
    CHECK_EQ(err.code, MF_E_MISMATCH);
    CHECK(strstr(err.msg, "nothing at 0x08100000") != NULL);
}

static void test_units_and_types(void)
{
    struct dfu_layout l;
    struct mf_err err;
    /* Option bytes: a space for bytes, type e (readable, writable). */
    CHECK_EQ(dfu_layout_parse("@Option Bytes  /0x1FFFC000/01*016 e", &l, &err), 0);
    CHECK_EQ(l.count, 1);
    CHECK_EQ(l.seg[0].end - l.seg[0].start, 16);
    CHECK_EQ(l.seg[0].attrs, DFU_MEM_READABLE | DFU_MEM_WRITABLE);
    CHECK_EQ(dfu_layout_check_write(&l, 0x1FFFC000, 4, &err), -1);
    CHECK(strstr(err.msg, "cannot be erased") != NULL);
    /* A protected bootloader area (readable only) before the application. */
    CHECK_EQ(dfu_layout_parse("@Internal Flash /0x08000000/8*02Ka,248*02Kg", &l, &err), 0);
    CHECK_EQ(l.seg[1].start, 0x08004000);
    CHECK_EQ(dfu_layout_check_write(&l, 0x08002000, 0x100, &err), -1);
    CHECK(strstr(err.msg, "0x08002000 cannot be written") != NULL);
    CHECK_EQ(dfu_layout_check_write(&l, 0x08004000, 0x100, &err), 0);
    /* Megabytes, bytes and two regions. */
    CHECK_EQ(dfu_layout_parse("@Mixed/0x90000000/2*1Mg/0x20000000/64*512Bg", &l, &err), 0);
    CHECK_EQ(l.count, 2);
    CHECK_EQ(l.seg[0].end, 0x90200000);
    CHECK_EQ(l.seg[1].start, 0x20000000);
    CHECK_EQ(l.seg[1].page_size, 512);
    /* G0 style without zero padding. */
    CHECK_EQ(dfu_layout_parse("@Internal Flash   /0x08000000/256*02Kg", &l, &err), 0);
    CHECK_EQ(l.seg[0].end, 0x08080000);
}

static void test_malformed(void)
{
    static const char *const bad[] = {
        "Internal Flash /0x08000000/04*016Kg", "@Flash", "@Flash/0x08000000/", "@Flash/zz/04*016Kg",
        "@Flash/0x08000000/04*016Kz", "@Flash/0x08000000/*016Kg", "@Flash/0x08000000/04*Kg",
        "@Flash/0x08000000/04*016Kg;", "@Flash/0xFFFFF000/2*4Kg",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct dfu_layout l;
        struct mf_err err;
        CHECK_EQ(dfu_layout_parse(bad[i], &l, &err), -1);
        CHECK_EQ(err.code, MF_E_PROTOCOL);
    }
}

int main(void)
{
    test_f4();
    test_units_and_types();
    test_malformed();
    return check_report("test_usb_layout");
}
