#!/bin/bash
# mcuflash flash of a CAN node through Katapult, on the virtual CAN bus: two
# toolheads on one bus, one flashed and verified, the other untouched;
# `can scan`; a USB build, a wrong bus speed, an unknown UUID and a missing
# interface refused before anything is written; a node with an older
# build's 96-byte transmit buffer on a bus with real frame times.
. "$MF_TESTS/lib/e2e.sh"

EBB=stm32g0b1xx
. "$MF_TESTS/lib/e2e_can.sh"
start_bus can0 --bitrate 1000000
BUS="$T/can0"
start_can_board th1 can0 0a1b2c3d4e5f --mcu $EBB --bootloader katapult
start_can_board th2 can0 112233445566 --mcu $EBB --bootloader katapult
th2_version=$(field th2 .version)

# Both nodes answer a scan.
expect_rc 0 "$MCUFLASH" can scan --canbus-interface "sim:$BUS"
expect_out "^0a1b2c3d4e5f +Klipper$"
expect_out "^112233445566 +Klipper$"

make_fw_mcu $EBB v2-can "$T/can.bin" --app-address 0x08002000 --link can
expect_rc 0 "$MCUFLASH" flash -f "$T/can.bin" -d "$T/can.bin.dict" --canbus-uuid 0a1b2c3d4e5f \
    --canbus-interface "sim:$BUS"
expect_out "Route: katapult \(a CAN node is flashed through Katapult\)"
expect_out "In Katapult .*application at 0x08002000"
expect_last "^Flashed: the board now runs v2-can\.$"
[ "$(field th1 .version)" = v2-can ] && [ "$(kp th1 completes)" = 1 ] && pass || fail "th1 not flashed"
[ "$(field th2 .version)" = "$th2_version" ] && [ "$(kp th2 blocks_written)" = 0 ] && pass || fail "th2 was touched"

# A node that kept a node id (as after a Klipper host let go of it) does not
# answer the query, but takes the bootloader request by its UUID.
[ "$(field th1 .nodeid)" != null ] && pass || fail "th1 should hold the node id its verification gave it"
make_fw_mcu $EBB v3-can "$T/can3.bin" --app-address 0x08002000 --link can
expect_rc 0 "$MCUFLASH" flash -f "$T/can3.bin" -d "$T/can3.bin.dict" --canbus-uuid 0a1b2c3d4e5f \
    --canbus-interface "sim:$BUS"
expect_out "did not answer as a node without an id.*asking it by its UUID"
expect_last "^Flashed: the board now runs v3-can\.$"

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

# A node running a build from before May 2026 (the virtual board's default
# version), whose CAN transmit buffer holds 96 bytes and which makes a reply
# only if its largest size fits, on a bus where frames take their bit time:
# mcuflash never asks it, nor Katapult (96 bytes too), for more answers at
# once than fit, so it drops none.
start_bus slow --bitrate 1000000 --timing realistic
start_can_board old slow 0a1b2c3d4e5f --mcu $EBB --bootloader katapult --timing realistic
expect_rc 0 "$MCUFLASH" flash -f "$T/can.bin" -d "$T/can.bin.dict" --canbus-uuid 0a1b2c3d4e5f \
    --canbus-interface "sim:$T/slow"
expect_last "^Flashed: the board now runs v2-can\.$"
[ "$(field old .counters.tx_dropped)" = 0 ] && pass || fail "the old node dropped $(field old .counters.tx_dropped) answers"
finish
