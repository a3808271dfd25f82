#!/bin/bash
# Virtual boards built from board definitions: only the bus and chip select
# the board wires to its card socket reach the card; --board errors and
# --board-file; make-firmware --board; the flash kept in --flash-state.
. "$MF_TESTS/lib/e2e.sh"

# reaches DEVICE BUS-OPTIONS...: the card answers there (exit 0), or not (7).
reaches() { dev=$1; shift; expect_rc 0 "$MCUFLASH" card ls "$T/$dev" "$@"; wait_up "$dev"; }
misses() {
    dev=$1; shift
    expect_rc 7 "$MCUFLASH" card ls "$T/$dev" "$@"
    expect_out 'No SD card answers'
    wait_up "$dev"
}

new_card "$T/card.img"

# --- SKR mini (spi1, CS PA4): the bus by any of its names, or the same pins -------
start_sim mini --board btt-skr-mini-e3-v2 --card "$T/card.img"
[ "$(field mini .board)" = btt-skr-mini ] && pass || fail "the alias did not resolve"
[ "$(field mini .mcu)" = stm32f103xe ] && pass || fail "the board's MCU was not taken"
reaches mini --spi-bus spi1 --cs-pin PA4
reaches mini --spi-bus spi1_PA6_PA7_PA5 --cs-pin PA4
reaches mini --spi-pins PA6,PA7,PA5 --cs-pin PA4
misses mini --spi-bus spi2 --cs-pin PA4
misses mini --spi-bus spi1 --cs-pin PA3
misses mini --spi-pins PB14,PB15,PB13 --cs-pin PA4
reaches mini btt-skr-mini
sim_ctl "$T/mini.ctl" quit >/dev/null

# --- LPC1768 (ssp1, CS P0.6) ------------------------------------------------------
start_sim lpc --board generic-lpc1768 --card "$T/card.img" --link uart:250000
reaches lpc --spi-bus ssp1 --cs-pin P0.6 -b 250000
misses lpc --spi-bus ssp0 --cs-pin P0.6 -b 250000
sim_ctl "$T/lpc.ctl" quit >/dev/null

# --- SDIO: only where the board's slot is an SDIO slot ----------------------------
start_sim oct --board btt-octopus-f446-v1 --card "$T/card.img"
reaches oct --sdio-bus sdio
reaches oct --spi-pins PC8,PD2,PC12 --cs-pin PC11
sim_ctl "$T/oct.ctl" quit >/dev/null
start_sim pro --board btt-skr-pro --card "$T/card.img"
reaches pro --spi-pins PA6,PB5,PA5 --cs-pin PA4
misses pro --spi-bus spi1 --cs-pin PA4
expect_rc 7 "$MCUFLASH" card ls "$T/pro" --sdio-bus sdio
wait_up pro
sim_ctl "$T/pro.ctl" quit >/dev/null

# --- Without a board every bus reaches the socket, and there is no bootloader -----
start_sim any --mcu stm32f103xe --card "$T/card.img"
reaches any --spi-bus spi2 --cs-pin PB12
[ "$(field any .bootloader)" = null ] && pass || fail "a board without definition has a bootloader"
sim_ctl "$T/any.ctl" quit >/dev/null

# --- Errors -----------------------------------------------------------------------
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --board btt-skr-mini-e3v2
expect_out "No board named 'btt-skr-mini-e3v2'.*did you mean.*btt-skr-mini-e3-v2"
expect_rc 2 "$MCUFLASH_SIM" make-firmware --board no-such-board -o "$T/x.bin"
expect_out "No board named 'no-such-board'"
cat >"$T/boards.cfg" <<'EOF'
[board test-g4]
mcu: stm32g474xx
spi_bus: spi1
cs_pin: PA4

[board test-mine]
description: a board of our own
mcu: stm32f103xe
spi_bus: spi2
cs_pin: PB12
firmware_path: mine.bin
current_firmware_path: MINE.OLD
EOF
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --board test-g4 --board-file "$T/boards.cfg"
expect_out 'MCU stm32g474xx, which the virtual board cannot model'
expect_rc 6 "$MCUFLASH_SIM" --path "$T/x" --board test-mine --board-file "$T/missing.cfg"
expect_out 'missing.cfg'
"$MCUFLASH_SIM" make-firmware --mcu stm32f407xx -o "$T/f407.bin" --dict-out "$T/f407.dict" >/dev/null
expect_rc 5 "$MCUFLASH_SIM" --path "$T/x" --board btt-skr-mini --dict "$T/f407.dict"
expect_out 'for MCU stm32f103xe but the firmware runs on stm32f407xx'
[ -L "$T/x" ] && fail "a failed start left a link" || pass

# --- A board from --board-file; make-firmware --board ------------------------------
expect_rc 0 "$MCUFLASH_SIM" make-firmware --board test-mine --board-file "$T/boards.cfg" \
    --version-string v5-mine -o "$T/mine.bin" --dict-out "$T/mine.dict"
grep -q '"MCU":"stm32f103xe"' "$T/mine.dict" && pass || fail "make-firmware --board took another MCU"
new_card "$T/mine.img"
mcopy -i "$T/mine.img" "$T/mine.bin" ::MINE.BIN
start_sim mine --board test-mine --board-file "$T/boards.cfg" --card "$T/mine.img" --flash-state "$T/flash.json"
[ "$(field mine .bootloader.result)" = "flashed MINE.BIN (32768 bytes, version v5-mine); renamed to MINE.OLD" ] &&
    pass || fail "custom board: $(field mine .bootloader.result)"
reaches mine --spi-bus spi2 --cs-pin PB12
misses mine --spi-bus spi1 --cs-pin PA4

# --- The flash outlives the process with --flash-state ------------------------------
sim_ctl "$T/mine.ctl" quit >/dev/null
for _ in $(seq 100); do [ -L "$T/mine" ] || break; sleep 0.05; done
jq -e '.flashes == 1 and (.dict | test("v5-mine"))' "$T/flash.json" >/dev/null && pass || fail "flash state: $(cat "$T/flash.json")"
start_sim mine2 --board test-mine --board-file "$T/boards.cfg" --card "$T/mine.img" --flash-state "$T/flash.json"
expect_rc 0 "$MCUFLASH" info "$T/mine2"
expect_out '^Version: +v5-mine$'
[ "$(field mine2 .bootloader.flashes)" = 1 ] && pass || fail "the flash count was not kept"
# The identity comes back byte for byte.
expect_rc 0 "$MCUFLASH" sdcard -c -f "$T/mine.bin" -d "$T/mine.dict" "$T/mine2" test-mine --board-file "$T/boards.cfg"
sim_ctl "$T/mine2.ctl" quit >/dev/null
echo '{"dict": 5}' >"$T/bad.json"
expect_rc 6 "$MCUFLASH_SIM" --path "$T/x" --board test-mine --board-file "$T/boards.cfg" --flash-state "$T/bad.json"
expect_out 'flash state file .* is not usable'

finish
