/* The MCU types Klipper builds for: where their flash and RAM are and how
 * big the flash is, so an image can be checked against the chip before it
 * is written.  Sizes are the largest part of each type the datasheets list
 * (Klipper's Kconfig defaults are the smallest: an image that fits Kconfig
 * fits here). */
#ifndef MF_FIRMWARE_MCU_H
#define MF_FIRMWARE_MCU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fw_arch {
    FW_ARCH_CORTEX_M,  /* the image starts with a vector table */
    FW_ARCH_OTHER,     /* AVR and the like: nothing to read the link address from */
};

struct fw_mcu {
    const char *name;        /* Klipper's MCU constant, e.g. "stm32f407xx" */
    enum fw_arch arch;
    uint32_t flash_base;
    uint32_t flash_size;
    /* The initial stack pointer lies in (ram_start, ram_end] or, where a
     * chip has a second RAM a build may put the stack in, (ram2_start, ram2_end]. */
    uint32_t ram_start, ram_end;
    uint32_t ram2_start, ram2_end;
    /* Bytes in front of the vector table when the image is linked at
     * flash_base (the RP2040's boot stage 2); 0 elsewhere. */
    uint32_t boot_stage_bytes;
};

/* NULL if Klipper builds for no MCU of that name (case-insensitive). */
const struct fw_mcu *fw_mcu_find(const char *name);
size_t fw_mcu_count(void);
const struct fw_mcu *fw_mcu_at(size_t i);

/* True if sp is a plausible initial stack pointer for the chip. */
bool fw_mcu_stack_ok(const struct fw_mcu *m, uint32_t sp);
/* Bytes of flash from addr to the end, 0 if addr is outside it. */
uint32_t fw_mcu_room(const struct fw_mcu *m, uint32_t addr);
/* The "make menuconfig" choice that links for addr, e.g. "28KiB bootloader",
 * "No bootloader", "128KiB bootloader with 512 byte offset". */
const char *fw_mcu_offset_choice(const struct fw_mcu *m, uint32_t addr, char *buf, size_t cap);

#endif
