#!/bin/bash
# mcuflash flash on an SD-card board: the route is chosen from the board
# definition (and said), or forced with --route; the SD route refuses to
# guess the card's wiring; wrong routes and targets are refused before the
# board or its card is touched.
. "$MF_TESTS/lib/e2e.sh"

MINI=btt-skr-mini-e3-v2
make_fw "$T/v2.bin" $MINI v2-mini
new_card "$T/mini.img"
start_sim mini --board $MINI --card "$T/mini.img"
before=$(img_sum "$T/mini.img")

# Refused before anything is written: card image unchanged each time.
# Without a board definition only Katapult could work, and it is not there.
expect_rc 3 "$MCUFLASH" flash -f "$T/v2.bin" "$T/mini"
expect_out "Route: katapult \(no board definition was given"
expect_out "Katapult is not installed.*nothing was written.*--board NAME"
wait_up mini
expect_rc 2 "$MCUFLASH" flash --route sdcard -f "$T/v2.bin" "$T/mini"
expect_out "needs the board definition.*--board NAME"
expect_rc 2 "$MCUFLASH" flash --route floppy --board $MINI -f "$T/v2.bin" "$T/mini"
expect_out "no route called 'floppy'.*sdcard"
# No target: the one board waiting in a USB DFU bootloader; an STM32F103
# has none.
expect_rc 2 "$MCUFLASH" flash --board $MINI -f "$T/v2.bin"
expect_out "has no USB DFU bootloader; nothing was done"
expect_rc 2 "$MCUFLASH" flash --board $MINI -f "$T/v2.bin" "$T/mini" extra
expect_out "needs one target"
expect_rc 2 "$MCUFLASH" flash --canbus-uuid 12345 --board $MINI -f "$T/v2.bin"
expect_out "12 hex digits"
expect_rc 2 "$MCUFLASH" sdcard --route sdcard -f "$T/v2.bin" "$T/mini" $MINI
[ "$(img_sum "$T/mini.img")" = "$before" ] && pass || fail "a refused flash changed the card"

# Chosen from the board definition, and said why.
expect_rc 0 "$MCUFLASH" flash --board $MINI -f "$T/v2.bin" -d "$T/v2.bin.dict" "$T/mini"
expect_out "Route: sdcard \(board btt-skr-mini has its SD card wired to the MCU\)"
expect_last "^Flashed: the board now runs v2-mini\.$"
runs "$T/mini" v2-mini
fsck_ok "$T/mini.img"

# Forced, with JSON: the result names the route.
make_fw "$T/v3.bin" $MINI v3-mini
resets() { sim_ctl "$T/$1.ctl" status | jq .counters.resets; }
r0=$(resets mini)
"$MCUFLASH" flash --json --route sdcard --board $MINI -f "$T/v3.bin" -d "$T/v3.bin.dict" "$T/mini" >"$T/out" 2>&1 \
    && pass || fail "flash --route sdcard"
tail -n 1 "$T/out" | jq -e '.event == "result" and .ok and .route == "sdcard" and .verdict == "flashed"
                             and .version_after == "v3-mini"' >/dev/null && pass || { fail "json result"; cat "$T/out"; }
jq -se 'map(select(.event == "route")) | length == 1' "$T/out" >/dev/null && pass || fail "one route event"
# Another build ran before and the new one runs after the reset: the
# bootloader took the file, so the card is not opened again (which would
# cost a second reset).  The same build again proves nothing by its
# version, so the card is looked at, and the board reset once more after.
r1=$(resets mini)
[ $((r1 - r0)) = 1 ] && pass || fail "a flash of a new build reset the board $((r1 - r0)) times"
expect_rc 0 "$MCUFLASH" flash --board $MINI -f "$T/v3.bin" -d "$T/v3.bin.dict" "$T/mini"
expect_last "^Flashed: the board now runs v3-mini\.$"
r2=$(resets mini)
[ $((r2 - r1)) = 2 ] && pass || fail "a flash of the running build reset the board $((r2 - r1)) times"
[ "$(root "$T/mini.img" | grep -ci '^firmware.bin$')" = 0 ] && pass || fail "firmware.bin left on the card"

# The advice of the flash front end repeats its own command line.
OCT=btt-octopus-f446-v1
make_fw "$T/oct.bin" $OCT v2-oct
new_card "$T/oct.img"
start_sim oct --board $OCT --card "$T/oct.img"
expect_rc 9 "$MCUFLASH" flash --board $OCT -f "$T/oct.bin" -d "$T/oct.bin.dict" "$T/oct"
expect_out "Switch the board off.*'mcuflash flash -c --board $OCT -f $T/oct.bin -d $T/oct.bin.dict $T/oct'"
finish
