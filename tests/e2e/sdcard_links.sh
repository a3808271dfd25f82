#!/bin/bash
# mcuflash sdcard over each link (USB, UART) and each way to the card
# (hardware SPI, software SPI, SDIO), on FAT12, FAT16 and FAT32 cards that
# already hold the user's files, a firmware.bin left over and a FIRMWARE.CUR
# from an earlier flash: afterwards FIRMWARE.CUR holds the new image, every
# other file is byte-identical, and fsck.fat -n finds nothing to fix.
. "$MF_TESTS/lib/e2e.sh"

# The user's files, with free space between them so the new image has to
# fill a hole and go on past it.
mkdir -p "$T/tree/CONFIG/MACROS"
printf 'notes\r\n' >"$T/tree/NOTES.TXT"
printf '[printer]\nkinematics: cartesian\n' >"$T/tree/CONFIG/printer.cfg"
printf '[gcode_macro START]\n' >"$T/tree/CONFIG/MACROS/Start Macros.cfg"
head -c 150000 /dev/urandom >"$T/tree/My Long Print Job Name.gcode"
: >"$T/tree/empty.txt"
head -c 70000 /dev/urandom >"$T/tree/gap.dat"
head -c 90000 /dev/urandom >"$T/tree/after.dat"
KEPT=(NOTES.TXT CONFIG/printer.cfg "CONFIG/MACROS/Start Macros.cfg" "My Long Print Job Name.gcode" empty.txt after.dat)

# card IMG FATBITS KIB: a card of KIB KiB holding the user's files, an old
# firmware.bin and an old FIRMWARE.CUR.
card() {
    mkfs.fat -C -F "$2" -n CARD "$1" "$3" >/dev/null || fail "mkfs.fat -F $2"
    mcopy -s -i "$1" "$T/tree/NOTES.TXT" "$T/tree/CONFIG" "$T/tree/My Long Print Job Name.gcode" \
        "$T/tree/empty.txt" "$T/tree/gap.dat" "$T/tree/after.dat" :: || fail "mcopy to $1"
    mcopy -i "$1" "$T/old.bin" ::firmware.bin
    mcopy -i "$1" "$T/cur.bin" ::FIRMWARE.CUR
    mdel -i "$1" ::gap.dat
}
# kept IMG: every file of the user's reads back as it was.
kept() {
    for f in "${KEPT[@]}"; do
        same_file "$1" "$f" "$T/tree/$f"
    done
    [ "$(mdir -b -i "$1" ::CONFIG/MACROS | sed 's|.*/||')" = "Start Macros.cfg" ] && pass ||
        fail "CONFIG/MACROS changed on $(basename "$1")"
}
# link_case NAME BOARD FATBITS KIB BUS-REGEX SIM-ARGS -- MCUFLASH-ARGS
link_case() {
    n=$1 b=$2 bits=$3 kib=$4 bus=$5; shift 5
    sim_args=()
    while [ "$1" != -- ]; do sim_args+=("$1"); shift; done
    shift
    link_fw=()
    [ -n "${LINK:-}" ] && link_fw=(--link "$LINK")
    make_fw "$T/$n.bin" "$b" "v2-$n" --size 200000 "${link_fw[@]}"
    make_fw "$T/old.bin" "$b" v0-old --seed 7 "${link_fw[@]}"
    make_fw "$T/cur.bin" "$b" v1-cur --seed 8 "${link_fw[@]}"
    card "$T/$n.img" "$bits" "$kib"
    start_sim "$n" --board "$b" --card "$T/$n.img" "${sim_args[@]}"
    [ "$(field "$n" .link)" = "${LINK:-usb}" ] && pass || fail "$n link is $(field "$n" .link)"
    flash 0 "$n" "$b" "$T/$n.bin" "$@"
    expect_out "over $bus"
    expect_last "^Flashed: the board now runs v2-$n\\.\$"
    runs "$T/$n" "v2-$n"
    same_file "$T/$n.img" FIRMWARE.CUR "$T/$n.bin"
    files "$T/$n.img" CONFIG/ FIRMWARE.CUR "My Long Print Job Name.gcode" NOTES.TXT after.dat empty.txt
    kept "$T/$n.img"
    fsck_ok "$T/$n.img"
}

# USB, hardware SPI at the faster clock (-s), FAT32.
link_case mini btt-skr-mini-e3-v2 32 65536 'hardware SPI spi1 \(CS PA4\)' -- -s
# UART at 250000 baud (given as -b too), hardware SPI, FAT16.
LINK=uart:250000 link_case lpc btt-skr-v1.4 16 32768 'hardware SPI ssp1 \(CS P0\.6\)' \
    --link uart:250000 -- -b 250000
# UART at 115200, software SPI on an SPI-mode slot (flashed on a reset), FAT12.
LINK=uart:115200 link_case pro btt-skr-pro 12 8192 'software SPI \(MISO PA6, MOSI PB5, SCLK PA5, CS PA4\)' \
    --link uart:115200 -- -b 115200
# SDIO over USB and over a UART, FAT32.
link_case skr2 btt-skr2-f407 32 65536 'SDIO bus sdio \(SD mode\)' --
LINK=uart:250000 link_case skr2u btt-skr2-f407 32 65536 'SDIO bus sdio \(SD mode\)' --link uart:250000 --

# A build for another interface, or another baud rate, would leave the board
# unreachable once its bootloader flashed it: refused before the card is
# touched.
before=$(img_sum "$T/lpc.img")
make_fw "$T/lpc-usb.bin" btt-skr-v1.4 v3-usb
flash 5 lpc btt-skr-v1.4 "$T/lpc-usb.bin" -b 250000
expect_out "lpc-usb.bin is built to talk over USB, but the firmware it would replace talks over serial \(UART\), which is how mcuflash and Klipper reach this board; nothing was changed"
make_fw "$T/lpc-115k.bin" btt-skr-v1.4 v3-115k --link uart:115200
flash 5 lpc btt-skr-v1.4 "$T/lpc-115k.bin" -b 250000
expect_out "lpc-115k.bin is built for 115200 baud, but the firmware it would replace talks at 250000 baud"
[ "$(img_sum "$T/lpc.img")" = "$before" ] && pass || fail "a refused build changed the card"
runs "$T/lpc" v2-lpc

finish
