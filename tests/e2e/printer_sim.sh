#!/bin/bash
# The virtual printer: `mcuflash-sim printer` brings up a main board on USB
# with an SD card, a UART board, a USB to CAN bridge and two CAN toolheads
# behind it, all with Katapult, and writes the printer.cfg that reaches
# them; status sees them all, update flashes them all; SIGTERM stops every
# board.  Then the demo's printer-wide scene, which runs the same with
# realistic timing.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
VP=$T/vp
"$MCUFLASH_SIM" printer --dir "$VP" >"$T/vp.log" 2>&1 &
vp_pid=$!
SIM_PIDS="$SIM_PIDS $vp_pid"
for _ in $(seq 200); do [ -e "$VP/printer.cfg" ] && break; sleep 0.05; done
[ -e "$VP/printer.cfg" ] && pass || { fail "virtual printer did not come up"; cat "$T/vp.log"; finish; exit; }

# The bridge is seen on its emulated USB bus (usb.env).
on_bus() {
    # shellcheck disable=SC2046
    env $(grep -v '^#' "$VP/usb.env") ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
expect_rc 0 on_bus "$MCUFLASH" status --config "$VP/printer.cfg"
expect_out "^mcu +$VP/mcu +stm32f446xx +v0\.13\.0-123-gabcdef12-sim "
expect_out "^uartboard +$VP/uartboard +stm32g0b1xx +v0\.13\.0-123-gabcdef12-sim "
expect_out "^toolhead +CAN node $TH1 on sim:$VP/can0 +stm32g0b1xx +v0\.13\.0-123-gabcdef12-sim "
expect_out "^toolhead2 +CAN node $TH2 on sim:$VP/can0 +stm32g0b1xx "
expect_out "^bridge +CAN node [0-9a-f]{12} on sim:$VP/can0 +stm32g0b1xx +v0\.13\.0-123-gabcdef12-sim "
sim_ctl "$VP/mcu.ctl" status | jq -e '.card_present and .katapult != null' >/dev/null && pass || fail "main board"
[ "$(sim_ctl "$VP/uartboard.ctl" status | jq -r .link)" = uart:250000 ] && pass || fail "uart board link"

# Every board updated in one run.
for b in "mcu --board $OCT" "uartboard --board $MINI --link uart:250000" "toolhead --mcu $EBB --link can" \
         "toolhead2 --mcu $EBB --link can" "bridge --mcu $EBB --link usb-can"; do
    set -- $b
    "$MCUFLASH_SIM" make-firmware "${@:2}" --bootloader katapult --version-string "v2-$1" -o "$T/$1.bin" >/dev/null ||
        fail "make-firmware $1"
done
expect_rc 0 on_bus "$MCUFLASH" update --config "$VP/printer.cfg" --no-service -f mcu="$T/mcu.bin" \
    -f uartboard="$T/uartboard.bin" -f toolhead="$T/toolhead.bin" -f toolhead2="$T/toolhead2.bin" \
    -f bridge="$T/bridge.bin"
for b in mcu uartboard toolhead toolhead2 bridge; do
    expect_out "^$b +v0\.13\.0-123-gabcdef12-sim +v2-$b +flashed$"
done
for b in mcu uartboard toolhead toolhead2 bridge; do
    [ "$(sim_ctl "$VP/$b.ctl" status | jq -r .version)" = "v2-$b" ] && pass || fail "$b not flashed"
done

# SIGTERM stops the bus and every board, and takes printer.cfg away.
kill "$vp_pid"; wait "$vp_pid"
[ $? = 0 ] && pass || fail "virtual printer exit status"
[ ! -e "$VP/printer.cfg" ] && [ ! -e "$VP/usb.env" ] && [ ! -e "$VP/mcu" ] && [ ! -S "$VP/can0" ] &&
    [ ! -S "$VP/canbus" ] && [ ! -S "$VP/toolhead.ctl" ] && pass ||
    fail "virtual printer left devices behind: $(ls "$VP")"
pgrep -f -- "$VP/" >/dev/null && fail "virtual boards still run" || pass

# The demo's printer scene.
expect_rc 0 "$MCUFLASH" demo --scene printer
expect_out "^\\$ mcuflash update --config .*/printer/printer.cfg --no-service -f mcu="
for b in mcu uartboard bridge toolhead toolhead2; do
    expect_out "^$b +v0\.12\.0-demo-old +v0\.13\.0-demo-new +flashed$"
done
expect_out "^  3\. bridge: CAN node [0-9a-f]{12} on .* \(USB to CAN bridge\)"

expect_out "^Demo done"
expect_rc 2 "$MCUFLASH" demo --scene nothing
finish
