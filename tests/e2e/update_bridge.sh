#!/bin/bash
# The virtual printer's USB to CAN bridge: status names it by its USB
# serial number; `mcuflash flash` of its CAN UUID goes over its USB port;
# `mcuflash update` flashes the toolheads behind it before it (shown by
# when each board's Katapult took its COMPLETE); a bridge found in its
# bootloader goes first, and when it fails the toolheads behind it are not
# tried while the other boards still are; then the bridge is flashed where
# it waits and the toolheads after it.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
VP=$T/vp
"$MCUFLASH_SIM" printer --dir "$VP" >"$T/vp.log" 2>&1 &
SIM_PIDS="$SIM_PIDS $!"
for _ in $(seq 300); do [ -e "$VP/printer.cfg" ] && break; sleep 0.05; done
[ -e "$VP/printer.cfg" ] && pass || { fail "virtual printer did not come up"; cat "$T/vp.log"; finish; exit; }
CFG=$VP/printer.cfg
BR=$(sim_ctl "$VP/bridge.ctl" status | jq -r .uuid)
old=v0.13.0-123-gabcdef12-sim
# on_bus CMD...: CMD sees the bridge on the emulated USB bus, as a host would.
on_bus() {
    # shellcheck disable=SC2046
    env $(grep -v '^#' "$VP/usb.env") ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
vfield() { sim_ctl "$VP/$1.ctl" status | jq -r "$2"; }
wait_mode() {
    for _ in $(seq 200); do [ "$(vfield "$1" .mode)" = "$2" ] && [ "$(vfield "$1" .state)" = running ] && return 0
        sleep 0.05; done
    fail "$1 is not in mode $2"
}

# The bridge is a CAN node whose USB serial number gives its UUID.
grep -q "^canbus_uuid: $BR$" "$VP/mcus.cfg" && [ "$(vfield bridge .link)" = usb-can ] && pass ||
    fail "bridge in printer.cfg"
expect_rc 0 on_bus "$MCUFLASH" status --config "$CFG" --json
[ "$(printf '%s' "$OUT" | jq -r '.mcus[] | select(.name == "bridge") | "\(.bridge) \(.state)"')" = "true klipper" ] &&
    [ "$(printf '%s' "$OUT" | jq -r '[.mcus[] | select(.name == null)] | length')" = 0 ] &&
    [ "$(printf '%s' "$OUT" | jq -r '.mcus[] | select(.name == "toolhead") | .bridge')" = false ] && pass ||
    { fail "status json of the bridge"; echo "$OUT"; }

for b in "mcu --board $OCT" "uartboard --board $MINI --link uart:250000" "bridge --mcu $EBB --link usb-can" \
         "toolhead --mcu $EBB --link can" "toolhead2 --mcu $EBB --link can"; do
    set -- $b
    for v in v2 v3; do
        "$MCUFLASH_SIM" make-firmware "${@:2}" --bootloader katapult --version-string "$v-$1" -o "$T/$1-$v.bin" \
            >/dev/null || fail "make-firmware $1"
    done
done

# A CAN build is refused for the bridge, before anything is written.
expect_rc 5 on_bus "$MCUFLASH" flash --config "$CFG" bridge -f "$T/toolhead-v2.bin"
expect_out "is the USB to CAN bus bridge on USB port 1-1"
expect_out "this board is the USB to CAN bus bridge that the printer's CAN nodes are reached through; nothing was written"
[ "$(vfield bridge .katapult.blocks_written)" = 0 ] && [ "$(vfield bridge .mode)" = klipper ] && pass ||
    fail "a refused image touched the bridge"

# mcuflash flash of the bridge's CAN UUID: asked over CAN, flashed in
# Katapult on its USB serial port, back on the bus with the new build.
expect_rc 0 on_bus "$MCUFLASH" flash --canbus-uuid "$BR" --canbus-interface "sim:$VP/can0" -f "$T/bridge-v2.bin"
expect_out "CAN node $BR is the USB to CAN bus bridge on USB port 1-1: it is flashed over USB"
expect_out "^In Katapult .* on /dev/pts/[0-9]+, stm32g0b1xx\.$"
expect_out "^Flashed: the board now runs v2-bridge\.$"
[ "$(vfield bridge .version)" = v2-bridge ] && [ "$(vfield bridge .host_interface_up)" = true ] && pass ||
    fail "bridge not back with v2"

# The whole printer: the toolheads before the bridge, whatever printer.cfg's order.
expect_rc 0 on_bus "$MCUFLASH" update --config "$CFG" --no-service -f mcu="$T/mcu-v2.bin" \
    -f uartboard="$T/uartboard-v2.bin" -f bridge="$T/bridge-v3.bin" -f toolhead="$T/toolhead-v2.bin" \
    -f toolhead2="$T/toolhead2-v2.bin"
expect_out "^  1\. toolhead: CAN node $TH1 on sim:$VP/can0 \(behind the bridge bridge\), "
expect_out "^  3\. bridge: CAN node $BR on sim:$VP/can0 \(USB to CAN bridge\), "
for b in mcu uartboard toolhead toolhead2; do expect_out "^$b +$old +v2-$b +flashed$"; done
expect_out "^bridge +v2-bridge +v3-bridge +flashed$"
done_at() { vfield "$1" .katapult.completed_at_us; }
br_at=$(done_at bridge)
for b in toolhead toolhead2; do
    at=$(done_at "$b")
    [ "$at" -gt 0 ] && [ "$at" -lt "$br_at" ] && pass || fail "$b was flashed at $at, the bridge at $br_at"
    [ "$(vfield "$b" .version)" = "v2-$b" ] && pass || fail "$b not flashed"
done
[ "$(vfield mcu .version)/$(vfield uartboard .version)" = v2-mcu/v2-uartboard ] && pass || fail "serial boards"

# The bridge waits in Katapult: its CAN interface is gone, so are the toolheads.
sim_ctl "$VP/bridge.ctl" double-tap >/dev/null
wait_mode bridge katapult
[ ! -e "$VP/can0" ] && pass || fail "the bridge's interface stays while it is in Katapult"
expect_rc 0 on_bus "$MCUFLASH" status --config "$CFG"
expect_out "^bridge +CAN node $BR on sim:$VP/can0 +stm32g0b1xx +in Katapult "
expect_out "^toolhead +CAN node $TH1 on sim:$VP/can0 +\? +unreachable "
expect_out "^bridge: the USB to CAN bridge on USB port 1-1; the CAN nodes on its interface are reached through it\.$"
expect_out "^toolhead: sim:$VP/can0 is gone while the USB to CAN bridge bridge waits in Katapult; flash bridge \('mcuflash flash bridge'\)"
expect_no_out "^\(unnamed\)"

# It refuses every write: it goes first and fails, the toolheads behind it
# are not tried, the boards on serial links are still flashed.
sim_ctl "$VP/bridge.ctl" katapult refuse-write 3 >/dev/null
th_blocks=$(vfield toolhead .katapult.blocks_written)
expect_rc 4 on_bus "$MCUFLASH" update --config "$CFG" --no-service -f mcu="$T/mcu-v3.bin" \
    -f uartboard="$T/uartboard-v3.bin" -f bridge="$T/bridge-v3.bin" -f toolhead="$T/toolhead-v3.bin" \
    -f toolhead2="$T/toolhead2-v3.bin"
expect_out "^  1\. bridge: CAN node $BR .*\(USB to CAN bridge\), stm32g0b1xx, runs in Katapult -> v3-bridge "
expect_out "^bridge +in Katapult +- +failed$"
expect_out "^toolhead +unreachable +- +skipped$"
expect_out "^toolhead2 +unreachable +- +skipped$"
expect_out "^mcu +v2-mcu +v3-mcu +flashed$"
expect_out "^uartboard +v2-uartboard +v3-uartboard +flashed$"
expect_out "^toolhead: Not tried: it is reached through the USB to CAN bridge bridge, which failed"
order=$(update_order)
[ "$order" = "bridge mcu uartboard" ] && pass || fail "boards tried: $order"
[ "$(vfield toolhead .katapult.blocks_written)" = "$th_blocks" ] && [ "$(vfield toolhead .version)" = v2-toolhead ] &&
    [ "$(vfield toolhead2 .version)" = v2-toolhead2 ] && pass || fail "a toolhead behind the failed bridge was touched"
[ "$(vfield bridge .mode)" = katapult ] && pass || fail "the failed bridge left Katapult"

# Flashed where it waits (its interface is gone), the bridge brings the bus
# back, and the toolheads follow.
sim_ctl "$VP/bridge.ctl" double-tap >/dev/null # a restart ends the refusals
wait_mode bridge katapult
expect_rc 0 on_bus "$MCUFLASH" flash --config "$CFG" bridge -f "$T/bridge-v3.bin"
expect_out "it waits in Katapult on /dev/pts/[0-9]+, where it is flashed"
expect_out "^Flashed: the board now runs v3-bridge\.$"
expect_rc 0 on_bus "$MCUFLASH" update --config "$CFG" --no-service -f toolhead="$T/toolhead-v3.bin" \
    -f toolhead2="$T/toolhead2-v3.bin" toolhead toolhead2
for b in toolhead toolhead2; do expect_out "^$b +v2-$b +v3-$b +flashed$"; done
finish
