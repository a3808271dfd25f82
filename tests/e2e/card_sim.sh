#!/bin/bash
# mcuflash card ls/get/put/rm through virtual boards over hardware SPI,
# software SPI and SDIO; dosfstools and mtools judge every image touched.
. "$MF_TESTS/lib/e2e.sh"

head -c 200000 /dev/urandom >"$T/big.bin"
head -c 1234 /dev/urandom >"$T/small.bin"
printf 'keep me\n' >"$T/notes.txt"

# One card per bus kind, each with a file of the user's that must survive.
for bus in spi swspi sdio lpc; do
    mkfs.fat -C -F 32 -n CARD "$T/$bus.img" 65536 >/dev/null
    mcopy -i "$T/$bus.img" "$T/notes.txt" ::NOTES.TXT
done
start_sim f4spi --mcu stm32f407xx --card "$T/spi.img"
start_sim f4sw --mcu stm32f407xx --card "$T/swspi.img"
start_sim f4sdio --mcu stm32f407xx --card "$T/sdio.img"
start_sim lpc --mcu lpc1768 --link uart:250000 --card "$T/lpc.img"

for case in "f4spi spi --spi-bus spi1 --cs-pin PA4" \
            "f4sw swspi --spi-pins PC8,PD2,PC12 --cs-pin PC11" \
            "f4sdio sdio --sdio-bus sdio" \
            "lpc lpc --spi-bus ssp1 --cs-pin P0.6"; do
    set -- $case
    dev=$T/$1; img=$T/$2.img; shift 2
    expect_rc 0 "$MCUFLASH" card ls "$dev" "$@"
    expect_out '^Card: +SanDisk'
    expect_out '^Filesystem: +FAT32, label "CARD"'
    expect_out 'NOTES.TXT'
    expect_rc 0 "$MCUFLASH" card put "$dev" "$@" "$T/big.bin" firmware.bin
    expect_rc 0 "$MCUFLASH" card put "$dev" "$@" "$T/small.bin" "Long Mixed Name.bin"
    fsck_ok "$img"
    same_file "$img" firmware.bin "$T/big.bin"
    same_file "$img" "Long Mixed Name.bin" "$T/small.bin"
    same_file "$img" NOTES.TXT "$T/notes.txt"
    # Replacing keeps one file, with the new content.
    expect_rc 0 "$MCUFLASH" card put "$dev" "$@" "$T/small.bin" firmware.bin
    same_file "$img" firmware.bin "$T/small.bin"
    expect_rc 0 "$MCUFLASH" card get "$dev" "$@" NOTES.TXT -o "$T/got.txt"
    if cmp -s "$T/got.txt" "$T/notes.txt"; then pass; else fail "get NOTES.TXT"; fi
    expect_rc 0 "$MCUFLASH" card ls "$dev" "$@" --json
    expect_out '^\{"event":"result","ok":true,"operation":"ls",.*"name":"Long Mixed Name.bin"'
    expect_rc 0 "$MCUFLASH" card rm "$dev" "$@" firmware.bin
    expect_rc 6 "$MCUFLASH" card rm "$dev" "$@" firmware.bin
    expect_out 'There is no /firmware.bin on the card; nothing was removed'
    fsck_ok "$img"
    same_file "$img" NOTES.TXT "$T/notes.txt"
    if mdir -i "$img" -b :: | grep -qi firmware; then fail "firmware.bin still listed"; else pass; fi
done

# A card that was used in SPI mode stays there until power is cut: the
# SD-mode path cannot see it, and says what to do.
expect_rc 0 "$MCUFLASH" card ls "$T/f4sdio" --spi-bus spi1 --cs-pin PA4
expect_rc 7 "$MCUFLASH" card ls "$T/f4sdio" --sdio-bus sdio
expect_out 'stays in SPI mode until it loses power'
sim_ctl "$T/f4sdio.ctl" power-cycle >/dev/null
expect_rc 0 "$MCUFLASH" card ls "$T/f4sdio" --sdio-bus sdio

# Bus options that do not fit the board's firmware.
expect_rc 5 "$MCUFLASH" card ls "$T/f4spi" --spi-bus ssp9 --cs-pin PA4
expect_out "no bus named 'ssp9'"
expect_rc 5 "$MCUFLASH" card ls "$T/f4spi" --spi-bus spi1 --cs-pin PZ99
expect_out "no pin named 'PZ99'"
expect_rc 2 "$MCUFLASH" card ls "$T/f4spi" --spi-bus spi1
expect_out 'together with --cs-pin'
expect_rc 2 "$MCUFLASH" card frob "$T/f4spi" --spi-bus spi1 --cs-pin PA4
expect_rc 2 "$MCUFLASH" card ls "$T/f4spi" no-such-board
expect_out "No board named 'no-such-board'"

# Local file missing: refused before the board is touched.
before=$(img_sum "$T/spi.img")
expect_rc 6 "$MCUFLASH" card put "$T/f4spi" --spi-bus spi1 --cs-pin PA4 "$T/missing.bin"
expect_out 'Cannot read .*missing.bin: No such file or directory; nothing was put on the card'
[ "$(img_sum "$T/spi.img")" = "$before" ] && pass || fail "image changed by a failed put"

# Where 'get' writes: a link is followed and stays a link, a folder gets the
# card file's name, "-" and a pipe are written to as they are.
SPI=(--spi-bus spi1 --cs-pin PA4)
: >"$T/target.txt"
ln -s target.txt "$T/link.txt"
expect_rc 0 "$MCUFLASH" card get "$T/f4spi" "${SPI[@]}" NOTES.TXT -o "$T/link.txt"
[ -L "$T/link.txt" ] && cmp -s "$T/target.txt" "$T/notes.txt" && pass || fail "get -o LINK replaced the link"
mkdir "$T/into"
expect_rc 0 "$MCUFLASH" card get "$T/f4spi" "${SPI[@]}" NOTES.TXT -o "$T/into"
cmp -s "$T/into/NOTES.TXT" "$T/notes.txt" && pass || fail "get -o DIR"
"$MCUFLASH" card get "$T/f4spi" "${SPI[@]}" NOTES.TXT -o - 2>/dev/null >"$T/stdout.txt"
cmp -s "$T/stdout.txt" "$T/notes.txt" && pass || fail "get -o -"
mkfifo "$T/pipe"
timeout 30 cat "$T/pipe" >"$T/piped.txt" &
reader=$!
expect_rc 0 "$MCUFLASH" card get "$T/f4spi" "${SPI[@]}" NOTES.TXT -o "$T/pipe"
wait "$reader"
[ -p "$T/pipe" ] && cmp -s "$T/piped.txt" "$T/notes.txt" && pass || fail "get -o FIFO"
expect_rc 2 "$MCUFLASH" card get "$T/f4spi" "${SPI[@]}" NOTES.TXT -o - --json
expect_out 'where --json writes its events'

# put into a folder goes into it; a name the card cannot hold, or a folder
# where the file is to go, is refused before anything is written, and no
# temporary file is left behind.
mmd -i "$T/spi.img" ::SUBDIR ::firmware.bin
expect_rc 0 "$MCUFLASH" card put "$T/f4spi" "${SPI[@]}" "$T/notes.txt" SUBDIR
same_file "$T/spi.img" SUBDIR/notes.txt "$T/notes.txt"
before=$(img_sum "$T/spi.img")
expect_rc 6 "$MCUFLASH" card put "$T/f4spi" "${SPI[@]}" "$T/notes.txt" 'a:b'
expect_out 'The name "a:b" cannot be used on a FAT card'
make_fw "$T/f4.bin" btt-skr-pro v2-f4
expect_rc 6 "$MCUFLASH" sdcard -f "$T/f4.bin" "$T/f4spi" btt-skr-pro
expect_out '"/firmware.bin" on the card is a folder, where a file is to go; nothing was changed; remove or rename that folder on the card and try again\.'
[ "$(img_sum "$T/spi.img")" = "$before" ] && pass || fail "a refused put changed the card"
if mdir -i "$T/spi.img" -b :: | grep -qi MCUFLASH; then fail "a temporary file was left"; else pass; fi

finish
