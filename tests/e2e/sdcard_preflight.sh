#!/bin/bash
# Every image is proven right for the board before anything is written:
# klipper.elf and Intel HEX files are flashed as the binary they hold; an
# image linked for another bootloader offset, one too big for the flash, an
# ELF that is no executable, are refused with their message while the card
# and the board's flash stay byte-identical; a file already encoded for MKS
# Robin is written as it is, not encoded twice; the virtual bootloader
# refuses an image linked for another address, as the chip would crash.
. "$MF_TESTS/lib/e2e.sh"

MINI=btt-skr-mini      # STM32F103, "28KiB bootloader": 0x08007000
ROBIN=mks-robin-e3     # STM32F103, "20KiB bootloader": 0x08005000, XOR-encoded Robin_e3.bin

# elf_of BIN ADDR OUT: an ELF executable whose one loadable segment holds BIN
# at ADDR, linked by the host's binutils.
elf_of() {
    printf 'SECTIONS { . = %s; .text : { *(.data) } }\n' "$2" >"$T/link.ld"
    objcopy -I binary -O elf32-i386 "$1" "$T/raw.o" && ld -m elf_i386 -T "$T/link.ld" "$T/raw.o" -o "$3" ||
        fail "making $3"
    cp "$1.dict" "$3.dict"
}
# unchanged NAME WANT CMD...: CMD exits WANT; card and flash of NAME byte-identical.
unchanged() {
    n=$1; shift
    flash_before=$(img_sum "$T/$n.flash")
    unchanged_after "$T/$n.img" "$@"
    [ "$(img_sum "$T/$n.flash")" = "$flash_before" ] && pass || fail "the flash of $n changed"
}

new_card "$T/mini.img"
make_fw "$T/v1.bin" $MINI v1-mini
start_sim mini --board $MINI --card "$T/mini.img" --flash-state "$T/mini.flash" --dict "$T/v1.bin.dict"
flash 0 mini $MINI "$T/v1.bin"
runs "$T/mini" v1-mini

# --- an ELF and an Intel HEX file flash as their binary ------------------------------
make_fw "$T/v2.bin" $MINI v2-elf
elf_of "$T/v2.bin" 0x08007000 "$T/v2.elf"
objcopy -O binary "$T/v2.elf" "$T/v2.objcopy" && cmp -s "$T/v2.objcopy" "$T/v2.bin" && pass ||
    fail "the test ELF does not hold v2.bin"
flash 0 mini $MINI "$T/v2.elf"
expect_last '^Flashed: the board now runs v2-elf\.$'
runs "$T/mini" v2-elf
same_file "$T/mini.img" FIRMWARE.CUR "$T/v2.bin"

make_fw "$T/v3.bin" $MINI v3-hex
objcopy -I binary -O ihex --change-addresses 0x08007000 "$T/v3.bin" "$T/v3.hex" || fail "objcopy ihex"
cp "$T/v3.bin.dict" "$T/v3.hex.dict"
flash 0 mini $MINI "$T/v3.hex"
runs "$T/mini" v3-hex
same_file "$T/mini.img" FIRMWARE.CUR "$T/v3.bin"
fsck_ok "$T/mini.img"

# --- refused before the board is touched ---------------------------------------------
# Built for the 20KiB offset, the board's bootloader needs 28KiB.
make_fw "$T/off20.bin" $MINI v4-20k --app-address 0x08005000
unchanged mini 5 "$MCUFLASH" sdcard -f "$T/off20.bin" -d "$T/off20.bin.dict" "$T/mini" $MINI
expect_last "^mcuflash: $T/off20.bin was linked for 0x08005000 \(\"20KiB bootloader\"\), but the bootloader of board $MINI starts the application at 0x08007000; nothing was changed; run 'make menuconfig' in ~/klipper, set \"Bootloader offset\" to \"28KiB bootloader\", rebuild and try again\.$"
# The same for an ELF linked there, and for the 32KiB offset.
elf_of "$T/off20.bin" 0x08005000 "$T/off20.elf"
unchanged mini 5 "$MCUFLASH" sdcard -f "$T/off20.elf" -d "$T/off20.elf.dict" "$T/mini" $MINI
expect_last 'off20\.elf was linked for 0x08005000 \("20KiB bootloader"\), but the bootloader of board btt-skr-mini'
make_fw "$T/off32.bin" $MINI v4-32k --app-address 0x08008000
unchanged mini 5 "$MCUFLASH" sdcard -f "$T/off32.bin" -d "$T/off32.bin.dict" "$T/mini" $MINI
expect_last 'linked for 0x08008000 \("32KiB bootloader"\), but .* at 0x08007000; .* "28KiB bootloader"'

# Bigger than the 512 KiB flash above 0x08007000.
make_fw "$T/big.bin" $MINI v5-big --size 600000
unchanged mini 5 "$MCUFLASH" sdcard -f "$T/big.bin" -d "$T/big.bin.dict" "$T/mini" $MINI
expect_last "^mcuflash: $T/big.bin is 600000 bytes, but the stm32f103xe has only 495616 bytes of flash from 0x08007000; nothing was changed;"

# An ELF object file is not an image: the message names the file to use.
objcopy -I binary -O elf32-i386 "$T/v2.bin" "$T/obj.elf"
cp "$T/v2.bin.dict" "$T/obj.elf.dict"
unchanged mini 6 "$MCUFLASH" sdcard -f "$T/obj.elf" -d "$T/obj.elf.dict" "$T/mini" $MINI
expect_last "^mcuflash: $T/obj.elf is not a usable elf file: it is an ELF object file, not a linked executable; nothing was changed; give $T/klipper.bin instead"
# A HEX file cut off before its end record.
head -n 5 "$T/v3.hex" >"$T/cut.hex"
cp "$T/v3.bin.dict" "$T/cut.hex.dict"
unchanged mini 6 "$MCUFLASH" sdcard -f "$T/cut.hex" -d "$T/cut.hex.dict" "$T/mini" $MINI
expect_last 'cut\.hex is not a usable hex file: it has no end record \(the file is cut off\); nothing was changed'
runs "$T/mini" v3-hex

# --- the virtual bootloader refuses an image linked elsewhere -------------------------
# Put there by hand, as a user copying files would.
mcopy -o -i "$T/mini.img" "$T/off20.bin" ::firmware.bin
power_cycle mini
got=$(field mini .bootloader.result)
printf '%s\n' "$got" | grep -q '^image linked for 0x08005000 refused: firmware.bin is left on the card (this board starts applications at 0x08007000' &&
    pass || fail "bootloader result: $got"
runs "$T/mini" v3-hex
mdel -i "$T/mini.img" ::firmware.bin

# --- MKS Robin: a file already encoded is written as it is ---------------------------
new_card "$T/robin.img"
make_fw "$T/r1.bin" $ROBIN r1
make_fw "$T/r2.bin" $ROBIN r2
start_sim robin --board $ROBIN --card "$T/robin.img" --flash-state "$T/robin.flash" --dict "$T/r1.bin.dict"
flash 0 robin $ROBIN "$T/r2.bin"
runs "$T/robin" r2
mcopy -n -i "$T/robin.img" ::Robin_e3.cur "$T/Robin_e3_r2.bin"
[ "$(stat -c %s "$T/Robin_e3_r2.bin")" = "$(stat -c %s "$T/r2.bin")" ] && ! cmp -s "$T/Robin_e3_r2.bin" "$T/r2.bin" &&
    pass || fail "Robin_e3.cur is not an encoding of r2.bin"
cp "$T/r2.bin.dict" "$T/Robin_e3_r2.bin.dict"
expect_rc 0 "$MCUFLASH" fwinfo "$T/Robin_e3_r2.bin"
expect_out '^encoding: +MKS Robin'
expect_out '^version: +r2$'
expect_out '^link address: +0x08005000 \("20KiB bootloader" in make menuconfig\)'
expect_out "^boards: +$ROBIN\$"
make_fw "$T/r3.bin" $ROBIN r3
flash 0 robin $ROBIN "$T/r3.bin"
runs "$T/robin" r3
flash 0 robin $ROBIN "$T/Robin_e3_r2.bin"
runs "$T/robin" r2
same_file "$T/robin.img" Robin_e3.cur "$T/Robin_e3_r2.bin"
# The encoded file is checked like any other: linked for 20KiB, not for the mini.
unchanged mini 5 "$MCUFLASH" sdcard -f "$T/Robin_e3_r2.bin" -d "$T/Robin_e3_r2.bin.dict" "$T/mini" $MINI
expect_last 'Robin_e3_r2\.bin was linked for 0x08005000'
fsck_ok "$T/robin.img"

# --- Chitu: a .cbd is written as it is and flashes after the power cycle -------------
new_card "$T/chitu.img"
make_fw "$T/c1.bin" chitu-v6 c1
make_fw "$T/c2.bin" chitu-v6 c2
start_sim chitu --board chitu-v6 --card "$T/chitu.img" --dict "$T/c1.bin.dict"
flash 9 chitu chitu-v6 "$T/c2.bin"
mcopy -n -i "$T/chitu.img" ::update.cbd "$T/c2.cbd" || fail "no update.cbd"
cp "$T/c2.bin.dict" "$T/c2.cbd.dict"
power_cycle chitu
runs "$T/chitu" c2
make_fw "$T/c3.bin" chitu-v6 c3
flash 9 chitu chitu-v6 "$T/c3.bin"
power_cycle chitu
runs "$T/chitu" c3
flash 9 chitu chitu-v6 "$T/c2.cbd"
same_file "$T/chitu.img" update.cbd "$T/c2.cbd"
power_cycle chitu
runs "$T/chitu" c2

# --- every offset against boards of the same MCU with another ------------------------
# BOARD OTHER-ADDRESS: an image linked for OTHER-ADDRESS is refused for BOARD
# (the same check as above, through fwinfo --board), and one made for BOARD fits.
while read -r board other; do
    make_fw "$T/$board.bin" "$board" "v-$board"
    expect_rc 0 "$MCUFLASH" fwinfo "$T/$board.bin" --board "$board"
    expect_out "^fits $board: yes\$"
    make_fw "$T/$board-other.bin" "$board" "v-other" --app-address "$other"
    expect_rc 5 "$MCUFLASH" fwinfo "$T/$board-other.bin" --board "$board"
    expect_out "^fits $board: no: .* was linked for $other .*, but the bootloader of board $board starts the application at"
done <<'BOARDS'
btt-skr-mini-v3 0x08000000
btt-octopus-f446-v1 0x08010000
monster8 0x08008000
btt-skr-3-h743 0x08008000
generic-lpc1768 0x00000000
chitu-v6 0x08007000
mks-robin-e3 0x08007000
fysetc-spider 0x0800c000
fysetc-s6 0x08008000
BOARDS

finish
