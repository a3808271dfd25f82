/* Katapult's block writes on the board's flash, with each family's page or
 * sector layout and typical erase and program times (docs/sim.md names the
 * datasheets). */
#include "katapult_flash.h"

#include <string.h>

#define KIB 1024u

static uint32_t unit_f0(uint32_t off, uint32_t flash_size)
{
    (void)off;
    return flash_size <= 64 * KIB ? 1 * KIB : 2 * KIB;
}

static uint32_t unit_f1(uint32_t off, uint32_t flash_size)
{
    (void)off;
    return flash_size < 256 * KIB ? 1 * KIB : 2 * KIB;
}

static uint32_t unit_2k(uint32_t off, uint32_t flash_size)
{
    (void)off, (void)flash_size;
    return 2 * KIB;
}

/* F2/F4: four 16 KiB sectors, one of 64 KiB, then 128 KiB. */
static uint32_t unit_f4(uint32_t off, uint32_t flash_size)
{
    (void)flash_size;
    return off < 0x10000 ? 16 * KIB : off < 0x20000 ? 64 * KIB : 128 * KIB;
}

static uint32_t unit_h7(uint32_t off, uint32_t flash_size)
{
    (void)off, (void)flash_size;
    return 128 * KIB;
}

/* LPC176x: sixteen 4 KiB sectors, then 32 KiB. */
static uint32_t unit_lpc(uint32_t off, uint32_t flash_size)
{
    (void)flash_size;
    return off < 0x10000 ? 4 * KIB : 32 * KIB;
}

static uint32_t unit_4k(uint32_t off, uint32_t flash_size)
{
    (void)off, (void)flash_size;
    return 4 * KIB;
}

static const struct flash_family families[] = {
    { "stm32f0", "stm32f0", 0x2000, unit_f0, { { 2 * KIB, 20000 } }, 2, 53500 },
    { "stm32f1", "stm32f1", 0x2000, unit_f1, { { 2 * KIB, 20000 } }, 2, 52500 },
    { "stm32g0", "stm32g0", 0x2000, unit_2k, { { 2 * KIB, 22000 } }, 8, 85000 },
    { "stm32g4", "stm32g4", 0x2000, unit_2k, { { 2 * KIB, 22000 } }, 8, 81700 },
    { "stm32f2", "stm32f2", 0x8000, unit_f4,
      { { 16 * KIB, 400000 }, { 64 * KIB, 1200000 }, { 128 * KIB, 2000000 } }, 4, 16000 },
    { "stm32f4", "stm32f4", 0x8000, unit_f4,
      { { 16 * KIB, 400000 }, { 64 * KIB, 1200000 }, { 128 * KIB, 2000000 } }, 4, 16000 },
    { "stm32h7", "stm32h7", 0x20000, unit_h7, { { 128 * KIB, 1100000 } }, 32, 16000 },
    { "lpc176x", "lpc176", 0x4000, unit_lpc, { { 4 * KIB, 100000 }, { 32 * KIB, 100000 } }, 256, 1000000 },
    { "rp2040", "rp2040", 0x4000, unit_4k, { { 4 * KIB, 45000 } }, 256, 400000 },
};

const struct flash_family *flash_family_for(const char *mcu)
{
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++)
        if (!strncmp(mcu, families[i].mcu_prefix, strlen(families[i].mcu_prefix)))
            return &families[i];
    return NULL;
}

static uint32_t erase_us(const struct flash_family *fam, uint32_t size)
{
    uint32_t us = fam->erase[0].us;
    for (int i = 0; i < 3 && fam->erase[i].size; i++) {
        us = fam->erase[i].us;
        if (fam->erase[i].size >= size)
            break;
    }
    return us;
}

static bool erased(const uint8_t *p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (p[i] != 0xff)
            return false;
    return true;
}

void flash_read_block(const struct sim_flash *f, uint32_t addr, uint8_t *out)
{
    for (uint32_t i = 0; i < KATAPULT_BLOCK_SIZE; i++) {
        uint32_t a = addr + i;
        out[i] = a >= f->mem_base && a - f->mem_base < f->mem_size ? f->mem[a - f->mem_base] : 0xff;
    }
}

int flash_write_block(struct sim_flash *f, const struct flash_family *fam, uint32_t addr, const uint8_t *data,
                      int flip_at, struct flash_write_stats *st)
{
    if (addr & (KATAPULT_BLOCK_SIZE - 1) || addr < f->mem_base ||
        addr - f->mem_base > f->mem_size - KATAPULT_BLOCK_SIZE)
        return -1;
    uint32_t off = addr - f->mem_base;
    uint32_t page_size = fam->unit_size(off, f->mem_size);
    uint32_t page = off - off % page_size;
    uint8_t *cell = f->mem + off;
    bool need_erase = false;
    if (page == off) {
        if (erased(cell, page_size)) {
            /* already erased */
        } else if (!memcmp(cell, data, KATAPULT_BLOCK_SIZE) &&
                   erased(cell + KATAPULT_BLOCK_SIZE, page_size - KATAPULT_BLOCK_SIZE)) {
            return 0; /* the same block again */
        } else {
            need_erase = true;
        }
        st->page_writes++;
    } else if (!erased(cell, KATAPULT_BLOCK_SIZE)) {
        return memcmp(cell, data, KATAPULT_BLOCK_SIZE) ? -2 : 0;
    }
    if (need_erase) {
        memset(f->mem + page, 0xff, page_size);
        st->erases++;
        st->busy_ns += (uint64_t)erase_us(fam, page_size) * 1000u;
    }
    /* Programming only clears bits, as on the chip. */
    for (uint32_t i = 0; i < KATAPULT_BLOCK_SIZE; i++)
        cell[i] &= data[i];
    if (flip_at >= 0 && flip_at < KATAPULT_BLOCK_SIZE)
        cell[flip_at] ^= 0x01;
    st->programmed = true;
    st->busy_ns += (uint64_t)fam->program_ns * KATAPULT_BLOCK_SIZE / fam->program_bytes;
    return memcmp(cell, data, KATAPULT_BLOCK_SIZE) ? -3 : 0;
}
