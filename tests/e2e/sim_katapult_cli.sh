# mcuflash-sim's Katapult and CAN options: --help, usage errors (exit 2,
# nothing started), the control commands' errors, and status.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_can.sh"

expect_rc 0 "$MCUFLASH_SIM" --help
for word in '--bootloader katapult' '--katapult-proto' '--katapult-start' '--canbus-uuid' \
    '--canbus-frequency' '--empty-flash' 'mcuflash-sim canbus' 'double-tap' 'katapult corrupt-read'; do
    expect_out "$word"
done

expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f446xx --bootloader dfu
expect_out 'bootloader takes katapult'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f446xx --bootloader katapult --katapult-proto 2.0.0
expect_out 'katapult-proto must be 1.0.0 or 1.1.0'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f446xx --bootloader katapult --katapult-start 0x08008010
expect_out 'multiple of the 64-byte block'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f446xx --katapult-version v1
expect_out 'go with --bootloader katapult'
expect_rc 2 "$MCUFLASH_SIM" --mcu stm32f446xx --link "can:$T/bus"
expect_out 'needs --canbus-uuid'
expect_rc 2 "$MCUFLASH_SIM" --mcu stm32f446xx --link "can:$T/bus" --canbus-uuid 12345
expect_out '12 hex digits'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f446xx --canbus-uuid 0102030405ff
expect_out 'goes with --link can'
expect_rc 3 "$MCUFLASH_SIM" --mcu stm32f446xx --link "can:$T/nobus" --canbus-uuid 0102030405ff
expect_out 'Could not join the CAN bus'
expect_rc 2 "$MCUFLASH_SIM" canbus --path "$T/bus" --bitrate 5
expect_out 'bitrate takes'
[ ! -e "$T/x" ] && pass || fail "a usage error left $T/x behind"

# Control commands.
start_sim plain --mcu stm32f446xx
expect_rc 1 sim_ctl "$T/plain.ctl" katapult corrupt 0x08008000
expect_out 'no Katapult'
start_sim kat --mcu stm32f446xx --bootloader katapult --katapult-version v0.0.3-test
expect_rc 0 sim_ctl "$T/kat.ctl" status
expect_out '"mode":"klipper"'
expect_out '"katapult":\{"app_valid":true,"block_size":64,'
expect_out '"start_address":134250496'
expect_out '"version":"v0.0.3-test"'
expect_rc 1 sim_ctl "$T/kat.ctl" katapult corrupt nowhere
expect_out 'needs a flash address'
expect_rc 1 sim_ctl "$T/kat.ctl" katapult refuse-write 3 twice
expect_out "'once' or 'times K'"
expect_rc 0 sim_ctl "$T/kat.ctl" double-tap
for _ in $(seq 100); do
    sim_ctl "$T/kat.ctl" status | grep -q '"mode":"katapult".*"state":"running"' && break
    sleep 0.05
done
expect_rc 0 sim_ctl "$T/kat.ctl" status
expect_out '"mode":"katapult"'

# A CAN board reports its side of the bus.
start_bus bus --bitrate 250000
start_can_board node bus 0a0b0c0d0e0f --mcu stm32g0b1xx --canbus-frequency 250000
expect_rc 0 sim_ctl "$T/node.ctl" status
expect_out '"link":"can"'
expect_out '"uuid":"0a0b0c0d0e0f"'
expect_out '"nodeid":null'
expect_out "\"bus\":\"$T/bus\""
expect_out '"canbus_frequency":250000'
finish
