#!/bin/bash
# mcuflash flash through Katapult on virtual boards: entered from running
# Klipper over USB (1200-baud touch), UART (request string) and CAN (admin
# frame), written, read back, started and verified; both protocol versions;
# line faults; failures that must leave the board in Katapult without
# COMPLETE; images refused before anything is written.
. "$MF_TESTS/lib/e2e.sh"

OCT=btt-octopus-f446-v1          # STM32F446: Katapult starts the application at 0x08008000

# --- USB, protocol 1.1.0 ---------------------------------------------------
make_fw "$T/usb2.bin" $OCT v2-usb --app-address 0x08008000
start_sim usb --board $OCT --bootloader katapult
expect_rc 0 "$MCUFLASH" flash -f "$T/usb2.bin" -d "$T/usb2.bin.dict" "$T/usb"
expect_out "Route: katapult \(no board definition was given"
expect_out "Asking the firmware to start Katapult"
expect_out "In Katapult .*\(protocol 1\.1\.0\), application at 0x08008000"
expect_out "read them back: identical"
expect_last "^Flashed: the board now runs v2-usb\.$"
runs "$T/usb" v2-usb
[ "$(mode usb)" = klipper ] && [ "$(kp usb completes)" = 1 ] && pass || fail "usb: one COMPLETE, back in Klipper"

# Already in Katapult (double-tap), with JSON.
sim_ctl "$T/usb.ctl" double-tap >/dev/null; wait_up usb
[ "$(mode usb)" = katapult ] && pass || fail "double-tap did not enter Katapult"
make_fw "$T/usb3.bin" $OCT v3-usb --app-address 0x08008000
"$MCUFLASH" flash --json -f "$T/usb3.bin" -d "$T/usb3.bin.dict" "$T/usb" >"$T/out" 2>&1 && pass || fail "flash from Katapult"
tail -n 1 "$T/out" | jq -e '.ok and .route == "katapult" and .version_before == "Katapult" and .version_after == "v3-usb"
                             and (.bootloader | test("protocol 1.1.0"))' >/dev/null && pass || { fail "json"; cat "$T/out"; }

# --- UART, protocol 1.0.0, line faults ---------------------------------------
make_fw "$T/uart.bin" $OCT v2-uart --app-address 0x08008000 --link uart:250000
start_sim uart --board $OCT --link uart:250000 --bootloader katapult --katapult-proto 1.0.0
sim_ctl "$T/uart.ctl" faults corrupt=0.0002,drop=0.0002,seed=3 >/dev/null
expect_rc 0 "$MCUFLASH" flash -f "$T/uart.bin" -d "$T/uart.bin.dict" "$T/uart"
expect_out "protocol 1\.0\.0"
runs "$T/uart" v2-uart
sim_ctl "$T/uart.ctl" faults >/dev/null

# --- a write that fails: never COMPLETE, the board stays in Katapult -------
# (faults are set once the board is in Katapult: a reset clears them)
into_katapult() { sim_ctl "$T/$1.ctl" double-tap >/dev/null; wait_up "$1"; [ "$(mode "$1")" = katapult ] || fail "$1 not in Katapult"; }
into_katapult usb
before=$(kp usb completes)
sim_ctl "$T/usb.ctl" katapult refuse-write 5 >/dev/null
expect_rc 4 "$MCUFLASH" flash -f "$T/usb2.bin" -d "$T/usb2.bin.dict" "$T/usb"
expect_out "failed twice.*stays safe in Katapult.*'mcuflash flash -f $T/usb2.bin -d $T/usb2.bin.dict $T/usb'"
[ "$(mode usb)" = katapult ] && [ "$(kp usb completes)" = "$before" ] && pass || fail "COMPLETE after a failed write"
# Refused once: the block is sent again and the flash goes on.
sim_ctl "$T/usb.ctl" katapult refuse-write 3 once >/dev/null
expect_rc 0 "$MCUFLASH" flash -f "$T/usb2.bin" -d "$T/usb2.bin.dict" "$T/usb"
expect_no_out "once more"
runs "$T/usb" v2-usb
# Refused for longer than one block's tries: the whole write starts over
# once (from Katapult, where the board stayed) and then succeeds.
into_katapult usb
sim_ctl "$T/usb.ctl" katapult refuse-write 7 times 5 >/dev/null
expect_rc 0 "$MCUFLASH" flash -f "$T/usb3.bin" -d "$T/usb3.bin.dict" "$T/usb"
expect_out "SEND_BLOCK for address 0x08008180 after 5 tries.*the board stays in Katapult; writing everything once more"
runs "$T/usb" v3-usb
# A read-back that differs is caught by mcuflash, and nothing is started.
into_katapult usb
before=$(kp usb completes)
sim_ctl "$T/usb.ctl" katapult corrupt-read 0x08008400 >/dev/null
expect_rc 10 "$MCUFLASH" flash -f "$T/usb3.bin" -d "$T/usb3.bin.dict" "$T/usb"
expect_out "0x08008400"
[ "$(mode usb)" = katapult ] && [ "$(kp usb completes)" = "$before" ] && pass || fail "COMPLETE after a bad read-back"
sim_ctl "$T/usb.ctl" reset >/dev/null; wait_up usb
expect_rc 0 "$MCUFLASH" flash -f "$T/usb2.bin" -d "$T/usb2.bin.dict" "$T/usb"

# --- refused before anything is written -------------------------------------
written=$(kp usb blocks_written)
make_fw "$T/f407.bin" btt-skr-2-f407 v2-f407
expect_rc 5 "$MCUFLASH" flash -f "$T/f407.bin" -d "$T/f407.bin.dict" "$T/usb"
expect_out "stm32f407xx.*stm32f446xx|stm32f446xx.*stm32f407xx"
make_fw "$T/at0.bin" $OCT v2-at0 --app-address 0x08000000
expect_rc 5 "$MCUFLASH" flash -f "$T/at0.bin" -d "$T/at0.bin.dict" "$T/usb"
expect_out "0x08000000.*0x08008000|0x08008000.*0x08000000"
make_fw "$T/canbuild.bin" $OCT v2-can --app-address 0x08008000 --link can
expect_rc 5 "$MCUFLASH" flash -f "$T/canbuild.bin" -d "$T/canbuild.bin.dict" "$T/usb"
expect_out "CAN bus.*reached over USB.*Communication interface"
[ "$(kp usb blocks_written)" = "$written" ] && pass || fail "a refused image was written"
wait_up usb
[ "$(mode usb)" = klipper ] && pass || fail "a refused flash left the board in Katapult"

# --- no Katapult on the board ----------------------------------------------
start_sim plain --board $OCT
expect_rc 3 "$MCUFLASH" flash --route katapult --board $OCT -f "$T/usb2.bin" -d "$T/usb2.bin.dict" "$T/plain"
expect_out "Katapult did not answer.*Klipper.*not installed.*nothing was written.*--route sdcard --board"
finish
