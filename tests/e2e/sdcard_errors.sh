#!/bin/bash
# Every error a user of mcuflash sdcard can meet: the exit status, the key
# words of its message, and a card image byte-identical afterwards (and the
# board still running what it ran).
. "$MF_TESTS/lib/e2e.sh"

MINI=btt-skr-mini-e3-v2
STOCK=v0.13.0-123-gabcdef12-sim
make_fw "$T/fw.bin" $MINI v2-mini
make_fw "$T/other.bin" $MINI v3-mini --seed 3
make_fw "$T/lpc.bin" btt-skr-v1.4 v2-lpc
: >"$T/empty.bin"
new_card "$T/mini.img"
printf 'keep\n' >"$T/keep.txt"
mcopy -i "$T/mini.img" "$T/keep.txt" ::KEEP.TXT
mcopy -i "$T/mini.img" "$T/other.bin" ::FIRMWARE.CUR
start_sim mini --board $MINI --card "$T/mini.img"

# refused WANT ARGS...: mcuflash sdcard ARGS fails with WANT, does not claim
# success, and the card image is unchanged.
refused() {
    want=$1; shift
    unchanged_after "$T/mini.img" "$want" "$MCUFLASH" sdcard "$@"
    expect_no_out '^Flashed'
}

# --- Device ---------------------------------------------------------------------------
refused 3 -f "$T/fw.bin" "$T/nodevice" $MINI
expect_last "^mcuflash: No device at $T/nodevice; nothing was sent"
refused 2 -f "$T/fw.bin" "$T/mini.img" $MINI
expect_last 'is a regular file, not a serial port; nothing was sent'
# Held by another program: the message names it.
sleep 30 <"$T/mini" &
holder=$!
for _ in $(seq 100); do
    [ "$(readlink "/proc/$holder/fd/0")" = "$(readlink -f "$T/mini")" ] && break
    sleep 0.05
done
refused 3 -f "$T/fw.bin" "$T/mini" $MINI
expect_last "is in use by pid $holder \\(sleep 30\\); nothing was sent to the board; stop that program first"
kill "$holder"; wait "$holder" 2>/dev/null

# --- Board ----------------------------------------------------------------------------
refused 2 -f "$T/fw.bin" "$T/mini" btt-skr-mini-e3-v9
expect_last "No board named 'btt-skr-mini-e3-v9'; nothing was done; did you mean .*btt-skr-mini-e3-v2"
# The right image for the board named, but the board at the port is another.
refused 5 -f "$T/lpc.bin" -d "$T/lpc.bin.dict" "$T/mini" btt-skr-v1.4
expect_last 'has a stm32f103xe, but board definition generic-lpc1768 is for a lpc1768; nothing was changed'
expect_out "mcuflash boards stm32f103xe\\*"
expect_rc 0 "$MCUFLASH" boards 'stm32f103xe*'
expect_out '^btt-skr-mini '

# --- Firmware and dictionary ------------------------------------------------------------
refused 5 -f "$T/lpc.bin" "$T/mini" $MINI
expect_last 'lpc.bin was built for a lpc1768, but board btt-skr-mini has a stm32f103xe; nothing was changed'
expect_out 'make menuconfig'
refused 5 -f "$T/fw.bin" -d "$T/other.bin.dict" "$T/mini" $MINI
expect_last 'other.bin.dict does not belong to .*fw.bin \(their data dictionaries differ\); nothing was changed'
refused 5 -f "$T/fw.bin" -d "$T/lpc.bin.dict" "$T/mini" $MINI
expect_last 'describes a lpc1768 build, but board btt-skr-mini has a stm32f103xe; nothing was changed'
refused 6 -f "$T/fw.bin" -d "$T/missing.dict" "$T/mini" $MINI
expect_last 'missing.dict does not exist; nothing was changed'
refused 6 -f "$T/missing.bin" "$T/mini" $MINI
expect_last 'Firmware file .*missing.bin does not exist; nothing was changed'
refused 6 -f "$T/empty.bin" "$T/mini" $MINI
expect_last 'Firmware file .*empty.bin is empty; nothing was changed'

# --- The card in the socket ---------------------------------------------------------------
sim_ctl "$T/mini.ctl" card remove >/dev/null || fail "card remove"
refused 7 -f "$T/fw.bin" "$T/mini" $MINI
expect_last 'No SD card answers on hardware SPI spi1 \(CS PA4\); nothing was changed; check that a card is inserted'
sim_ctl "$T/mini.ctl" card insert >/dev/null || fail "card insert"
sim_ctl "$T/mini.ctl" card write-protect on >/dev/null || fail "write-protect on"
refused 7 -f "$T/fw.bin" "$T/mini" $MINI
expect_out 'Card: .*write-protected'
expect_last 'The SD card is write-protected by its own CSD register \(temporarily\); nothing was written; no lock switch is involved \(microSD cards have none'
expect_no_out 'slide|unlock'

sim_ctl "$T/mini.ctl" card write-protect off >/dev/null || fail "write-protect off"
runs "$T/mini" $STOCK
fsck_ok "$T/mini.img"
# With the card back and unlocked, the same board flashes.
flash 0 mini $MINI "$T/fw.bin"
runs "$T/mini" v2-mini

# A small FAT16 card, nearly full: 16 KiB free for a 32 KiB image; then full.
mkfs.fat -C -F 16 -n SMALL "$T/small.img" 20480 >/dev/null
free=$(mdir -i "$T/small.img" :: | sed -n 's/ *\([0-9 ]*\) bytes free/\1/p' | tr -d ' ')
head -c $((free - 16384)) /dev/urandom >"$T/filler.bin"
mcopy -i "$T/small.img" "$T/filler.bin" ::FILLER.BIN
start_sim small --board $MINI --card "$T/small.img"
unchanged_after "$T/small.img" 7 "$MCUFLASH" sdcard -f "$T/fw.bin" "$T/small" $MINI
expect_last 'The card is full: 32 KiB more space is needed but only 16 KiB is free; nothing was changed; delete files'
head -c 16384 /dev/urandom >"$T/last.bin"
mcopy -i "$T/small.img" "$T/last.bin" ::LAST.BIN
[ "$(mdir -i "$T/small.img" :: | sed -n 's/ *\([0-9 ]*\) bytes free/\1/p' | tr -d ' ')" = 0 ] && pass ||
    fail "the small card is not full"
unchanged_after "$T/small.img" 7 "$MCUFLASH" sdcard -f "$T/fw.bin" "$T/small" $MINI
expect_last 'The card is full: 32 KiB more space is needed but only 0 KiB is free; nothing was changed'
fsck_ok "$T/small.img"
runs "$T/small" $STOCK

# Unformatted (zeros) and exFAT.
head -c $((32 << 20)) /dev/zero >"$T/zero.img"
cp "$T/zero.img" "$T/exfat.img"
printf '\xeb\x76\x90EXFAT   ' | dd of="$T/exfat.img" conv=notrunc status=none
printf '\x55\xaa' | dd of="$T/exfat.img" bs=1 seek=510 conv=notrunc status=none
start_sim zero --board $MINI --card "$T/zero.img"
start_sim exfat --board $MINI --card "$T/exfat.img"
unchanged_after "$T/zero.img" 8 "$MCUFLASH" sdcard -f "$T/fw.bin" "$T/zero" $MINI
expect_last 'No FAT filesystem was found on the card .*; nothing was changed; format it as FAT32'
unchanged_after "$T/exfat.img" 8 "$MCUFLASH" sdcard -f "$T/fw.bin" "$T/exfat" $MINI
expect_last 'The card is formatted as exFAT, which the board.s bootloader cannot read; nothing was changed; reformat it as FAT32'
runs "$T/exfat" $STOCK

# --- Command line ------------------------------------------------------------------------
expect_rc 0 "$MCUFLASH" sdcard -l
expect_out '^NAME +MCU'
expect_out '^btt-skr-mini +stm32f103xe .*btt-skr-mini-e3-v2'
expect_out '^generic-lpc1768 +lpc1768'
refused 2 -b abc -f "$T/fw.bin" "$T/mini" $MINI
expect_last "-b needs a whole number .*, not 'abc'; nothing was done"
refused 2 --wait=soon -f "$T/fw.bin" "$T/mini" $MINI
expect_last "--wait needs a whole number .*, not 'soon'"
refused 2 -f "$T/fw.bin" "$T/mini"
expect_last 'sdcard needs DEVICE and BOARD \(got 1 argument\); nothing was done'
refused 2 --frobnicate -f "$T/fw.bin" "$T/mini" $MINI
expect_last "^mcuflash: '--frobnicate' is not an option of 'mcuflash sdcard'; nothing was done; see 'mcuflash sdcard --help'\.$"
expect_no_out '^usage:'
expect_rc 0 "$MCUFLASH" sdcard --help
expect_out '^usage: mcuflash sdcard'
runs "$T/mini" v2-mini
fsck_ok "$T/mini.img"
same_file "$T/mini.img" KEEP.TXT "$T/keep.txt"

# A step after the new file took its name fails (the last flash's renamed
# file cannot be removed: here a folder of that name, with a file in it):
# the message says the new firmware is on the card, whole, and the reset
# lets the bootloader flash it.
mdel -i "$T/mini.img" ::FIRMWARE.CUR 2>/dev/null
mmd -i "$T/mini.img" ::FIRMWARE.CUR
mcopy -i "$T/mini.img" "$T/keep.txt" ::FIRMWARE.CUR/KEEP.TXT
make_fw "$T/v4.bin" $MINI v4-mini --seed 4
expect_rc 1 "$MCUFLASH" sdcard -f "$T/v4.bin" "$T/mini" $MINI
expect_last "The new firmware is on the card as firmware.bin, written and read back whole, but removing the last flash's renamed file failed \(.*\); the board is reset so that its bootloader flashes it; check the result with 'mcuflash sdcard -c -f $T/v4.bin "
expect_no_out 'nothing was changed'
wait_up mini
runs "$T/mini" v4-mini
same_file "$T/mini.img" FIRMWARE.CUR/KEEP.TXT "$T/keep.txt"
fsck_ok "$T/mini.img"

finish
