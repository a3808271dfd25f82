/* MCU flash and RAM table.  Flash and RAM bases and RAM sizes follow
 * Klipper's src/stm32, src/lpc176x, src/rp2040 and src/avr Kconfig files;
 * flash sizes are each type's largest part in its datasheet. */
#include "firmware/mcu.h"

#include <stdio.h>
#include <strings.h>

#define KIB(n) ((uint32_t)(n) << 10)
#define STM32(name, flash_kib, ram_kib) \
    { name, FW_ARCH_CORTEX_M, 0x08000000, KIB(flash_kib), 0x20000000, 0x20000000 + KIB(ram_kib), 0, 0, 0 }
/* Klipper puts the stack in DTCM; AXI SRAM is the second choice. */
#define STM32H7(name, flash_kib, axi_kib) \
    { name, FW_ARCH_CORTEX_M, 0x08000000, KIB(flash_kib), 0x20000000, 0x20020000, \
      0x24000000, 0x24000000 + KIB(axi_kib), 0 }

static const struct fw_mcu mcus[] = {
    STM32("stm32f031x6", 32, 4),
    STM32("stm32f042x6", 32, 6),
    STM32("stm32f070xb", 128, 16),
    STM32("stm32f072xb", 128, 16),
    STM32("stm32f103xe", 512, 64),
    STM32("stm32f207xx", 1024, 128),
    STM32("stm32f401xc", 256, 64),
    STM32("stm32f405xx", 1024, 128),
    STM32("stm32f407xx", 1024, 128),
    STM32("stm32f429xx", 2048, 192),
    STM32("stm32f446xx", 512, 128),
    STM32("stm32f765xx", 2048, 512),
    STM32("stm32g070xx", 128, 36),
    STM32("stm32g071xx", 128, 36),
    STM32("stm32g0b0xx", 512, 144),
    STM32("stm32g0b1xx", 512, 144),
    STM32("stm32g431xx", 128, 32),
    STM32("stm32g474xx", 512, 128),
    STM32H7("stm32h723xx", 1024, 320),
    STM32H7("stm32h743xx", 2048, 512),
    STM32H7("stm32h750xx", 128, 512),
    STM32("stm32l412xx", 128, 40),
    { "lpc1768", FW_ARCH_CORTEX_M, 0x00000000, KIB(512), 0x10000000, 0x10008000, 0, 0, 0 },
    { "lpc1769", FW_ARCH_CORTEX_M, 0x00000000, KIB(512), 0x10000000, 0x10008000, 0, 0, 0 },
    /* Boot stage 2 takes the first 256 bytes when there is no bootloader. */
    { "rp2040", FW_ARCH_CORTEX_M, 0x10000000, KIB(2048), 0x20000000, 0x20042000, 0, 0, 256 },
    { "rp2350", FW_ARCH_CORTEX_M, 0x10000000, KIB(2048), 0x20000000, 0x20082000, 0, 0, 0 },
    { "atmega2560", FW_ARCH_OTHER, 0, KIB(256), 0, 0, 0, 0, 0 },
    { "atmega1284p", FW_ARCH_OTHER, 0, KIB(128), 0, 0, 0, 0, 0 },
    { "atmega644p", FW_ARCH_OTHER, 0, KIB(64), 0, 0, 0, 0, 0 },
    { "atmega328p", FW_ARCH_OTHER, 0, KIB(32), 0, 0, 0, 0, 0 },
};
#define NMCUS (sizeof(mcus) / sizeof(mcus[0]))

const struct fw_mcu *fw_mcu_find(const char *name)
{
    for (size_t i = 0; name && i < NMCUS; i++)
        if (!strcasecmp(mcus[i].name, name))
            return &mcus[i];
    return NULL;
}

size_t fw_mcu_count(void)
{
    return NMCUS;
}

const struct fw_mcu *fw_mcu_at(size_t i)
{
    return i < NMCUS ? &mcus[i] : NULL;
}

bool fw_mcu_stack_ok(const struct fw_mcu *m, uint32_t sp)
{
    return (sp > m->ram_start && sp <= m->ram_end) || (sp > m->ram2_start && sp <= m->ram2_end);
}

uint32_t fw_mcu_room(const struct fw_mcu *m, uint32_t addr)
{
    uint64_t end = (uint64_t)m->flash_base + m->flash_size;
    return addr >= m->flash_base && addr < end ? (uint32_t)(end - addr) : 0;
}

const char *fw_mcu_offset_choice(const struct fw_mcu *m, uint32_t addr, char *buf, size_t cap)
{
    uint32_t off = addr - m->flash_base;
    if (addr < m->flash_base || off <= m->boot_stage_bytes)
        snprintf(buf, cap, "No bootloader");
    else if (off % 1024 == 0)
        snprintf(buf, cap, "%uKiB bootloader", (unsigned)(off / 1024));
    else if (off % 1024 == 512)
        snprintf(buf, cap, "%uKiB bootloader with 512 byte offset", (unsigned)(off / 1024));
    else
        snprintf(buf, cap, "a bootloader offset of 0x%x", (unsigned)off);
    return buf;
}
