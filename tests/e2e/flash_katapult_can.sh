#!/bin/bash
# mcuflash flash of a CAN node through Katapult, on the virtual CAN bus: two
# toolheads on one bus, one flashed and verified, the other untouched;
# `can scan`; a USB build, a wrong bus speed, an unknown UUID and a missing
# interface refused before anything is written.
. "$MF_TESTS/e2e/sdcard_lib.sh"

EBB=stm32g0b1xx
kp() { field "$1" ".katapult.$2"; }
BUS="$T/can0"
"$MCUFLASH_SIM" canbus --path "$BUS" --bitrate 1000000 >"$T/bus.log" 2>&1 &
SIM_PIDS="$SIM_PIDS $!"
for _ in $(seq 100); do [ -S "$BUS" ] && break; sleep 0.05; done
[ -S "$BUS" ] && pass || { fail "the virtual CAN bus did not start"; cat "$T/bus.log"; }

# start_node NAME ARGS...: a board on the bus (no serial device: wait for its
# control socket and for it to run).
start_node() {
    name=$1; shift
    "$MCUFLASH_SIM" --path "$T/$name" --control "$T/$name.ctl" "$@" >"$T/$name.log" 2>&1 &
    SIM_PIDS="$SIM_PIDS $!"
    for _ in $(seq 100); do [ -S "$T/$name.ctl" ] && break; sleep 0.05; done
    [ -S "$T/$name.ctl" ] || { echo "CAN node $name did not start:"; cat "$T/$name.log"; exit 1; }
    for _ in $(seq 100); do [ "$(field "$name" .state)" = running ] && return 0; sleep 0.05; done
}
start_node th1 --mcu $EBB --link "can:$BUS" --canbus-uuid 0a1b2c3d4e5f --bootloader katapult
start_node th2 --mcu $EBB --link "can:$BUS" --canbus-uuid 112233445566 --bootloader katapult
th2_version=$(field th2 .version)

# Both nodes answer a scan.
expect_rc 0 "$MCUFLASH" can scan --canbus-interface "sim:$BUS"
expect_out "^0a1b2c3d4e5f +Klipper$"
expect_out "^112233445566 +Klipper$"

make_fw_mcu() { "$MCUFLASH_SIM" make-firmware --mcu "$1" --version-string "$2" -o "$3" --dict-out "$3.dict" "${@:4}" \
                >/dev/null || fail "make-firmware $*"; }
make_fw_mcu $EBB v2-can "$T/can.bin" --app-address 0x08002000 --link can
expect_rc 0 "$MCUFLASH" flash -f "$T/can.bin" -d "$T/can.bin.dict" --canbus-uuid 0a1b2c3d4e5f \
    --canbus-interface "sim:$BUS"
expect_out "Route: katapult \(a CAN node is flashed through Katapult\)"
expect_out "In Katapult .*application at 0x08002000"
expect_last "^Flashed: the board now runs v2-can\.$"
[ "$(field th1 .version)" = v2-can ] && [ "$(kp th1 completes)" = 1 ] && pass || fail "th1 not flashed"
[ "$(field th2 .version)" = "$th2_version" ] && [ "$(kp th2 blocks_written)" = 0 ] && pass || fail "th2 was touched"

# Refused before anything is written.
make_fw_mcu $EBB v2-usb "$T/usb.bin" --app-address 0x08002000
expect_rc 5 "$MCUFLASH" flash -f "$T/usb.bin" -d "$T/usb.bin.dict" --canbus-uuid 112233445566 \
    --canbus-interface "sim:$BUS"
expect_out "built to talk over USB.*reached over CAN"
make_fw_mcu $EBB v2-500k "$T/500k.bin" --app-address 0x08002000 --link can --canbus-frequency 500000
expect_rc 5 "$MCUFLASH" flash -f "$T/500k.bin" -d "$T/500k.bin.dict" --canbus-uuid 112233445566 \
    --canbus-interface "sim:$BUS"
expect_out "500000 bit/s.*1000000 bit/s"
expect_rc 3 "$MCUFLASH" flash -f "$T/can.bin" -d "$T/can.bin.dict" --canbus-uuid 665544332211 \
    --canbus-interface "sim:$BUS"
expect_out "665544332211 did not answer"
expect_rc 3 "$MCUFLASH" flash -f "$T/can.bin" -d "$T/can.bin.dict" --canbus-uuid 112233445566 \
    --canbus-interface "sim:$T/nothing"
[ "$(kp th2 blocks_written)" = 0 ] && [ "$(field th2 .version)" = "$th2_version" ] && pass || fail "th2 was touched"
finish
