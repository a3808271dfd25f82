#!/bin/bash
# Bad cards through a virtual board: each gives a clear error and leaves the
# card image exactly as it was.
. "$MF_TESTS/lib/e2e.sh"
BUS=(--spi-bus spi1 --cs-pin PA4)
head -c 4096 /dev/urandom >"$T/fw.bin"

# No card in the socket.
start_sim empty --mcu stm32f407xx
expect_rc 7 "$MCUFLASH" card ls "$T/empty" "${BUS[@]}"
expect_out 'No SD card answers on hardware SPI spi1'
expect_rc 7 "$MCUFLASH" card ls "$T/empty" --sdio-bus sdio
expect_out 'No SD card answers'

# A write-protected card: listed, but never written.
mkfs.fat -C -F 32 -n LOCKED "$T/wp.img" 65536 >/dev/null
start_sim wp --mcu stm32f407xx --card "$T/wp.img"
sim_ctl "$T/wp.ctl" card write-protect on >/dev/null
expect_rc 0 "$MCUFLASH" card ls "$T/wp" "${BUS[@]}"
expect_out 'write-protected'
unchanged_after "$T/wp.img" 7 "$MCUFLASH" card put "$T/wp" "${BUS[@]}" "$T/fw.bin"
expect_out 'write-protected by its own CSD register \(temporarily\); nothing was written; no lock switch'
expect_no_out 'slide|unlock'
unchanged_after "$T/wp.img" 7 "$MCUFLASH" card put "$T/wp" --sdio-bus sdio "$T/fw.bin"

# Unformatted (all zeros) and exFAT cards.
head -c $((32 << 20)) /dev/zero >"$T/zero.img"
start_sim zero --mcu stm32f407xx --card "$T/zero.img"
unchanged_after "$T/zero.img" 8 "$MCUFLASH" card put "$T/zero" "${BUS[@]}" "$T/fw.bin"
expect_out '[Uu]nformatted|no FAT|not formatted'

cp "$T/zero.img" "$T/exfat.img"
printf '\xeb\x76\x90EXFAT   ' | dd of="$T/exfat.img" conv=notrunc status=none
printf '\x55\xaa' | dd of="$T/exfat.img" bs=1 seek=510 conv=notrunc status=none
start_sim exfat --mcu stm32f407xx --card "$T/exfat.img"
unchanged_after "$T/exfat.img" 8 "$MCUFLASH" card ls "$T/exfat" "${BUS[@]}"
expect_out 'exFAT'
expect_out 'FAT32'

# A full card: the upload is refused before anything is written.
mkfs.fat -C -F 16 -n SMALL "$T/full.img" 20480 >/dev/null
head -c 19000000 /dev/urandom >"$T/filler.bin"
mcopy -i "$T/full.img" "$T/filler.bin" ::FILLER.BIN
free=$(mdir -i "$T/full.img" :: | sed -n 's/ *\([0-9 ]*\) bytes free/\1/p' | tr -d ' ')
head -c $((free + 1)) /dev/urandom >"$T/toobig.bin"
start_sim full --mcu stm32f407xx --card "$T/full.img"
unchanged_after "$T/full.img" 7 "$MCUFLASH" card put "$T/full" "${BUS[@]}" "$T/toobig.bin" firmware.bin
expect_out '[Ff]ull|not enough|free'
fsck.fat -n "$T/full.img" >/dev/null && pass || fail "fsck after refused put"

# A damaged FAT: a file whose cluster chain loops on itself.
mkfs.fat -C -F 16 -n BROKEN "$T/loop.img" 16384 >/dev/null
head -c 10000 /dev/urandom >"$T/victim.bin"
mcopy -i "$T/loop.img" "$T/victim.bin" ::VICTIM.BIN
first=$(mshowfat -i "$T/loop.img" ::VICTIM.BIN | sed -n 's/.*<\([0-9]*\)-.*/\1/p')
reserved=$(od -An -tu2 -j14 -N2 "$T/loop.img" | tr -d ' ')
# Point the file's second cluster back at its first (FAT16: 2 bytes each).
second=$((first + 1))
off=$((reserved * 512 + second * 2))
printf "\\x$(printf %02x $((first & 255)))\\x$(printf %02x $((first >> 8)))" |
    dd of="$T/loop.img" bs=1 seek=$off conv=notrunc status=none
start_sim loop --mcu stm32f407xx --card "$T/loop.img"
unchanged_after "$T/loop.img" 8 "$MCUFLASH" card get "$T/loop" "${BUS[@]}" VICTIM.BIN -o "$T/out.bin"
expect_out 'VICTIM.BIN'
[ ! -e "$T/out.bin" ] && pass || fail "a damaged file was downloaded"
unchanged_after "$T/loop.img" 8 "$MCUFLASH" card rm "$T/loop" "${BUS[@]}" VICTIM.BIN

finish
