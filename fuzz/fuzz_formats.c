/* Firmware-file fuzzing: arbitrary bytes read as ELF, Intel HEX and UF2,
 * and the result's vector table read for every MCU type. */
#include <stddef.h>
#include <stdint.h>

#include "firmware/format.h"
#include "firmware/mcu.h"
#include "firmware/vectors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum fw_format formats[] = { FW_FORMAT_ELF, FW_FORMAT_HEX, FW_FORMAT_UF2 };
    (void)fw_format_detect(data, size);
    for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
        struct fw_binary b;
        struct mf_err err;
        if (fw_to_binary(formats[f], "fuzz", data, size, &b, &err) < 0)
            continue;
        for (size_t i = 0; i < fw_mcu_count(); i++) {
            struct fw_link link;
            fw_link_check(fw_mcu_at(i), b.data, b.size, b.base, &link);
            fw_link_infer(fw_mcu_at(i), b.data, b.size, &b.base, 1, &link);
        }
        fw_binary_free(&b);
    }
    struct fw_link link;
    fw_link_infer(fw_mcu_find("stm32f407xx"), data, size, NULL, 0, &link);
    return 0;
}
