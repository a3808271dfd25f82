#!/bin/bash
# mcuflash sdcard on one virtual board of each SD-card bootloader family,
# through the real command: the exit status and the last line it prints,
# what the board runs afterwards (mcuflash info), the names on the card
# (mdir) and a clean filesystem (fsck.fat -n) after every run.
. "$MF_TESTS/lib/e2e.sh"

# judge NAME VERSION FILE...: the board runs VERSION, its card holds these
# files and is clean.
judge() {
    n=$1 v=$2; shift 2
    runs "$T/$n" "$v"; files "$T/$n.img" "$@"; fsck_ok "$T/$n.img"
}
flashed_line() { expect_last "^Flashed: the board now runs $1\\.\$"; }
verified_line() { expect_last "^Verified: the board runs $1, the build given\\.\$"; }
# check_only NAME BOARD FW: mcuflash sdcard -c, options after the operands.
check_only() { expect_rc 0 "$MCUFLASH" sdcard -c "$T/$1" "$2" -f "$3" -d "$3.dict"; }
# power_advice NAME BOARD CARDNAME: the exit-9 advice for a card left in SPI mode.
power_advice() {
    expect_last "^mcuflash: The firmware is on the card as $3, but this board's bootloader reads the card in SD mode"
    expect_out "Switch the board off, wait a few seconds and switch it on"
    expect_out "run 'mcuflash sdcard -c -f [^ ]+\\.bin -d [^ ]+\\.bin\\.dict $T/$1 $2' to verify; or use --wait"
}
# bxor(a, b): bitwise exclusive or, for an awk without one.
AWK_XOR='
    function bxor(a, b,  r, p) {
        r = 0; p = 1
        while (a > 0 || b > 0) {
            if (a % 2 != b % 2) r += p
            a = int(a / 2); b = int(b / 2); p *= 2
        }
        return r
    }'
# The MKS Robin key (reference: sdcard-fat.md 4.1), in decimal.
ROBIN_KEY="163 189 173 13 65 17 187 141 220 128 45 208 210 196 155 30 38 235 227 51 74 21 228 10 179 177 60 147 187 175 247 62"
# robin_encoded PLAIN IMG CARDNAME: the card's file is PLAIN with bytes
# [320, 31040) XORed with the key, every other byte unchanged.
robin_encoded() {
    rm -f "$T/enc"
    mcopy -n -i "$2" "::$3" "$T/enc" 2>/dev/null || { fail "no $3 on $(basename "$2")"; return; }
    [ "$(stat -c %s "$T/enc")" = "$(stat -c %s "$1")" ] || { fail "$3 is not the size of $1"; return; }
    cmp -l "$1" "$T/enc" | awk -v keys="$ROBIN_KEY" -v size="$(stat -c %s "$1")" "$AWK_XOR"'
        function oct(s,  v, i) { v = 0; for (i = 1; i <= length(s); i++) v = v * 8 + substr(s, i, 1); return v }
        BEGIN { split(keys, key, " ") }
        { i = $1 - 1; n++; if (i < 320 || i >= 31040 || bxor(oct($2), oct($3)) != key[i % 32 + 1]) bad++ }
        END { exit !(bad == 0 && n == (size < 31040 ? size : 31040) - 320) }' &&
        pass || fail "$3 is not $1 encoded for MKS Robin"
}
# chitu_encoded PLAIN IMG CARDNAME: a Chitu .cbd of PLAIN (reference 4.2):
# magic, the key from PLAIN's MD5, the padded length and the checksum.
chitu_encoded() {
    rm -f "$T/cbd"
    mcopy -n -i "$2" "::$3" "$T/cbd" 2>/dev/null || { fail "no $3 on $(basename "$2")"; return; }
    len=$(stat -c %s "$1")
    pad=$(( (2048 - len % 2048) % 2048 ))
    magic=$(od -An -tx1 -N4 "$T/cbd" | tr -d ' ')
    key=$(od -An -tx1 -j4 -N4 "$T/cbd" | awk '{ print $4 $3 $2 $1 }')
    sum=$(od -An -tu4 -j8 -N4 "$T/cbd" | tr -d ' ')
    words=$(od -An -tu4 -v -j12 "$T/cbd" | awk "$AWK_XOR"'
        BEGIN { x = 4013769507 }  # 0xEF3D4323
        { for (i = 1; i <= NF; i++) x = bxor(x, $i) }
        END { printf "%d", x }')
    [ "$magic" = 443d2d3f ] && [ "$key" = "$(md5sum "$1" | cut -c1-8)" ] && [ "$sum" = "$words" ] &&
        [ "$(stat -c %s "$T/cbd")" = $((12 + len + pad)) ] && pass ||
        fail "$3 is not a Chitu file of $1 (magic $magic, key $key, sum $sum/$words)"
}

# board NAME BOARD [SIM ARGS...]: an empty card, the image NAME.bin (version
# v2-NAME, built for the board's link) and the virtual board NAME running
# the stock firmware.
board() {
    new_card "$T/$1.img"
    n=$1 b=$2; shift 2
    link=()
    [ "${1:-}" = --link ] && link=(--link "$2")
    make_fw "$T/$n.bin" "$b" "v2-$n" "${link[@]}"
    start_sim "$n" --board "$b" --card "$T/$n.img" "$@"
}
# renames NAME BOARD CUR BUS [SIM ARGS...]: flashed at once over BUS (a
# regex), the image renamed to CUR.
renames() {
    n=$1 b=$2 cur=$3 bus=$4; shift 4
    board "$n" "$b" "$@"
    flash 0 "$n" "$b" "$T/$n.bin"
    flashed_line "v2-$n"
    expect_out "over $bus"
    judge "$n" "v2-$n" "$cur"
    same_file "$T/$n.img" "$cur" "$T/$n.bin"
}

# --- Renaming bootloaders on SPI slots -------------------------------------------------
# LPC176x (BTT SKR 1.4) on a UART; BTT SKR mini E3 v2; Mellow Fly; Elegoo ZNP; QIDI.
renames lpc btt-skr-v1.4 FIRMWARE.CUR 'hardware SPI ssp1 \(CS P0\.6\)' --link uart:250000
renames mini btt-skr-mini-e3-v2 FIRMWARE.CUR 'hardware SPI spi1 \(CS PA4\)'
renames fly flyboard-mini FLY.CUR 'hardware SPI spi2 \(CS PB12\)'
renames znp znp-robin-nano-dw-v2.2 ZNP_ROBIN_NANO.CUR 'hardware SPI spi2'
renames qidi qidi-x-plus3 X_4.CUR 'hardware SPI spi2'

# --- BTT SDIO slot, SDIO in the firmware (SKR 2 F407): flashed on a warm reset ------
board skr2 btt-skr2-f407
flash 0 skr2 btt-skr2-f407 "$T/skr2.bin"
flashed_line v2-skr2
expect_out 'over SDIO bus sdio \(SD mode\)'
judge skr2 v2-skr2 FIRMWARE.CUR
[ "$(field skr2 .counters.power_cycles)/$(field skr2 .bootloader.flashes)" = 0/1 ] && pass ||
    fail "SKR 2 not flashed once on a warm reset"

# --- BTT SDIO slot reached only by software SPI (Octopus F446): power cycle needed --
board oct btt-octopus-f446-v1
flash 9 oct btt-octopus-f446-v1 "$T/oct.bin"
expect_out 'over software SPI \(MISO PC8, MOSI PD2, SCLK PC12, CS PC11\)'
power_advice oct btt-octopus-f446-v1 firmware.bin
expect_no_out '^Flashed'
judge oct v0.13.0-123-gabcdef12-sim firmware.bin
same_file "$T/oct.img" firmware.bin "$T/oct.bin"
power_cycle oct
check_only oct btt-octopus-f446-v1 "$T/oct.bin"
verified_line v2-oct
judge oct v2-oct FIRMWARE.CUR

# --- FYSETC Spider: OLD.BIN; one left from an earlier flash must go first ---------
board spider fysetc-spider
make_fw "$T/spider0.bin" fysetc-spider v1-spider --seed 5
mcopy -i "$T/spider.img" "$T/spider0.bin" ::OLD.BIN
flash 0 spider fysetc-spider "$T/spider.bin"
flashed_line v2-spider
judge spider v2-spider OLD.BIN
same_file "$T/spider.img" OLD.BIN "$T/spider.bin"
# The rename worked, so the next boots do not flash it again.
flashes=$(field spider .bootloader.flashes)
power_cycle spider
[ "$(field spider .bootloader.flashes)" = "$flashes" ] && pass || fail "Spider flashed again at a power cycle"

# --- MKS Robin E3: the card holds the XOR-encoded image -----------------------------
board e3 mks-robin-e3
flash 0 e3 mks-robin-e3 "$T/e3.bin"
flashed_line v2-e3
judge e3 v2-e3 Robin_e3.cur
robin_encoded "$T/e3.bin" "$T/e3.img" Robin_e3.cur

# --- MKS Robin Nano v1.2: encoded, never renamed: removed once verified -------------
board nano mks-robin-v12
flash 9 nano mks-robin-v12 "$T/nano.bin"
power_advice nano mks-robin-v12 ROBIN_NANO35.BIN
robin_encoded "$T/nano.bin" "$T/nano.img" ROBIN_NANO35.BIN
power_cycle nano
check_only nano mks-robin-v12 "$T/nano.bin"
verified_line v2-nano
expect_out 'Removed ROBIN_NANO35.BIN from the card so the bootloader does not flash it again at every boot'
judge nano v2-nano
power_cycle nano
[ "$(field nano .bootloader.flashes)" = 1 ] && pass || fail "Robin Nano flashed again at a power cycle"

# --- Creality v4.2.2: a new time-stamped name each time; older .bin files go --------
new_card "$T/cr.img"
make_fw "$T/cr.bin" creality-v4.2.2 v2-cr
make_fw "$T/cr3.bin" creality-v4.2.2 v3-cr --seed 3
printf 'settings\n' >"$T/eeprom.dat"
mcopy -i "$T/cr.img" "$T/cr3.bin" ::20250101000000firmware.bin
mcopy -i "$T/cr.img" "$T/cr3.bin" ::Older.BIN
mcopy -i "$T/cr.img" "$T/eeprom.dat" ::EEPROM.DAT
start_sim cr --board creality-v4.2.2 --card "$T/cr.img"
flash 9 cr creality-v4.2.2 "$T/cr.bin"
expect_out 'Removed the older firmware file 20250101000000firmware.bin, so the bootloader cannot pick it'
expect_out 'Removed the older firmware file Older.BIN'
first=$(root "$T/cr.img" | grep -E '^[0-9]{14}firmware\.bin$')
[ -n "$first" ] && pass || fail "no time-stamped firmware file: $(root "$T/cr.img" | tr '\n' ' ')"
power_advice cr creality-v4.2.2 "$first"
files "$T/cr.img" EEPROM.DAT "$first"
same_file "$T/cr.img" "$first" "$T/cr.bin"
same_file "$T/cr.img" EEPROM.DAT "$T/eeprom.dat"
fsck_ok "$T/cr.img"
power_cycle cr
check_only cr creality-v4.2.2 "$T/cr.bin"
verified_line v2-cr
judge cr v2-cr EEPROM.DAT "$first"
# Again: the name differs from the one the bootloader remembers, so it flashes.
# Names are stamped to the second: start in the next one.
while [ "$(date +%Y%m%d%H%M%S)" = "${first:0:14}" ]; do sleep 0.1; done
flash 9 cr creality-v4.2.2 "$T/cr3.bin"
expect_out "Removed the older firmware file $first"
second=$(root "$T/cr.img" | grep -E '^[0-9]{14}firmware\.bin$')
[ -n "$second" ] && [ "$second" != "$first" ] && pass || fail "second name '$second' after '$first'"
power_cycle cr
check_only cr creality-v4.2.2 "$T/cr3.bin"
verified_line v3-cr
judge cr v3-cr EEPROM.DAT "$second"
[ "$(field cr .bootloader.last_name)" = "$second" ] && pass || fail "Creality remembers $(field cr .bootloader.last_name)"

# --- Chitu v6: update.cbd, encoded; an SD-mode slot reached by software SPI ---------
new_card "$T/chitu.img"
make_fw "$T/chitu.bin" chitu-v6 v2-chitu --size 30000
start_sim chitu --board chitu-v6 --card "$T/chitu.img"
flash 9 chitu chitu-v6 "$T/chitu.bin"
power_advice chitu chitu-v6 update.cbd
chitu_encoded "$T/chitu.bin" "$T/chitu.img" update.cbd
judge chitu v0.13.0-123-gabcdef12-sim update.cbd
power_cycle chitu
check_only chitu chitu-v6 "$T/chitu.bin"
verified_line v2-chitu
runs "$T/chitu" v2-chitu
fsck_ok "$T/chitu.img"

finish
