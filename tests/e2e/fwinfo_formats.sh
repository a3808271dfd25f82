#!/bin/bash
# mcuflash fwinfo on ELF and Intel HEX files and on a Chitu .cbd a board's
# card holds: the format, the link address, the boards that start it, the
# flash it takes, and with --board whether it fits that board and why not.
. "$MF_TESTS/lib/e2e.sh"

fwinfo() { expect_rc "$1" "$MCUFLASH" fwinfo "${@:2}"; }

make_fw "$T/mini.bin" btt-skr-mini v1-mini
printf 'SECTIONS { . = 0x08007000; .text : { *(.data) } }\n' >"$T/link.ld"
objcopy -I binary -O elf32-i386 "$T/mini.bin" "$T/raw.o" && ld -m elf_i386 -T "$T/link.ld" "$T/raw.o" -o "$T/klipper.elf" ||
    fail "linking klipper.elf"
objcopy -I binary -O ihex --change-addresses 0x08007000 "$T/mini.bin" "$T/klipper.hex" || fail "objcopy ihex"

# --- a raw image: link address from its vector table ---------------------------------
fwinfo 0 "$T/mini.bin"
expect_out '^format: +bin$'
expect_out '^link address: +0x08007000 \("28KiB bootloader" in make menuconfig\), from the vector table$'
expect_out '^vectors: +stack pointer 0x20010000, reset handler 0x08007101$'
# Every built-in STM32F103 board with the 28KiB bootloader, and no other.
expect_out '^boards: +btt-skr-mini, creality-v4\.2\.2, mks-robin-v12$'
expect_out '^flash: +32768 of 495616 bytes from 0x08007000 on the stm32f103xe \(fits\)$'

# --- ELF and HEX: converted, placed where the file says ------------------------------
for f in klipper.elf klipper.hex; do
    fwinfo 0 "$T/$f"
    expect_out "^format: +${f#klipper.} \\(32768 bytes to flash at 0x08007000\\)\$"
    expect_out '^version: +v1-mini$'
    expect_out '^link address: +0x08007000 \("28KiB bootloader" in make menuconfig\), as the file places it$'
    expect_out '^boards: +btt-skr-mini, creality-v4\.2\.2, mks-robin-v12$'
done

# --- --board: fits, or why not, with the exit status of the refusal -------------------
fwinfo 0 "$T/klipper.elf" --board btt-skr-mini-e3-v2
expect_out '^fits btt-skr-mini: yes$'
fwinfo 5 "$T/klipper.hex" --board mks-robin-e3
expect_out "^fits mks-robin-e3: no: $T/klipper.hex was linked for 0x08007000 \\(\"28KiB bootloader\"\\), but the bootloader of board mks-robin-e3 starts the application at 0x08005000; nothing was changed; run 'make menuconfig' in ~/klipper, set \"Bootloader offset\" to \"20KiB bootloader\", rebuild and try again\\.\$"
fwinfo 5 "$T/mini.bin" --board btt-octopus-f446-v1
expect_out '^fits btt-octopus-f446-v1: no: .* was built for a stm32f103xe, but board btt-octopus-f446-v1 has a stm32f446xx'
fwinfo 0 "$T/mini.bin" --board flyboard-mini
expect_out '^fits flyboard-mini: yes; flyboard-mini gives no application address, so the bootloader offset was not checked\.$'
fwinfo 2 "$T/mini.bin" --board no-such-board
expect_out 'no-such-board'

fwinfo 5 --json "$T/klipper.elf" --board mks-robin-e3
expect_out '"format":"elf"'
expect_out '"link":\{"status":"known","address":"0x08007000","candidates":\[\],"boards":\["btt-skr-mini","creality-v4.2.2","mks-robin-v12"\],"flash_room":495616\}'
expect_out '"board_check":\{"board":"mks-robin-e3","fits":false,"reason":"[^"]*klipper.elf was linked for 0x08007000'

# --- a Chitu .cbd from a board's card: decoded, linked for 0x08008800 -----------------
new_card "$T/chitu.img"
make_fw "$T/chitu.bin" chitu-v6 v2-chitu
start_sim chitu --board chitu-v6 --card "$T/chitu.img"
flash 9 chitu chitu-v6 "$T/chitu.bin"
mcopy -n -i "$T/chitu.img" ::update.cbd "$T/update.cbd" || fail "no update.cbd on the card"
fwinfo 0 "$T/update.cbd" --board chitu-v6
expect_out '^encoding: +Chitu \.cbd \(decoded to read it\)$'
expect_out '^version: +v2-chitu$'
expect_out '^link address: +0x08008800 \("34KiB bootloader" in make menuconfig\), from the vector table$'
expect_out '^boards: +chitu-v6$'
expect_out '^fits chitu-v6: yes$'

finish
