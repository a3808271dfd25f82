#!/bin/bash
# mcuflash status on a mixed virtual printer: a USB main board, a UART
# board and two CAN toolheads (one of them waiting in Katapult), plus a CAN
# node printer.cfg does not name; each line says what the board runs
# against the host's Klipper checkout, the routes that can flash it and
# printer.cfg's restart_method (which Klipper ignores for a CAN node).
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
start_printer
# toolhead2 is not in printer.cfg; a third node stands on the bus unnamed.
sed -i '/toolhead2/,$d' "$T/cfg/mcus/toolheads.cfg"
printf '[mcu gone]\nserial: %s/nothing-here\n' "$T" >"$T/cfg/mcus/zz-gone.cfg"
printf 'restart_method: arduino\n' >>"$T/cfg/mcus/uart.cfg"
sed -i 's/^canbus_uuid: .*/&\nrestart_method: cheetah/' "$T/cfg/mcus/toolheads.cfg"

# The host's Klipper: a git checkout whose describe the main board runs.
git init -q "$T/klipper" && git -C "$T/klipper" -c user.name=t -c user.email=t@t commit -q --allow-empty -m k &&
    git -C "$T/klipper" tag v0.13.0 || fail "git checkout"
host=$(git -C "$T/klipper" describe --always --tags --long --dirty)
make_fw "$T/main.bin" $OCT "$host" --app-address 0x08008000
"$MCUFLASH" flash -f "$T/main.bin" -d "$T/main.bin.dict" "$T/main" >/dev/null 2>&1 || fail "flash main"
sim_ctl "$T/th1.ctl" double-tap >/dev/null
sleep 0.3

expect_rc 0 "$MCUFLASH" status --config "$CFG" --klipper-dir "$T/klipper"
expect_out "^mcu +$T/main +stm32f446xx +$host +no +katapult,sdcard +- +btt-octopus-f446-v1"
expect_out "^uartboard +$T/uart +stm32g0b1xx +v0\.13\.0-123-gabcdef12-sim +yes +katapult,sdcard +arduino +.*btt-skr-mini-v3"
expect_out "^toolhead +CAN node $TH1 on sim:$T/can0 +.* +in Katapult +- +katapult +- "
expect_out "^gone +$T/nothing-here +\? +unreachable +- +-"
expect_out "^\(unnamed\) +CAN node $TH2 on sim:$T/can0 .* Klipper .* katapult"
expect_out "^Host Klipper: $host$"
expect_out "^gone: .*nothing-here"

"$MCUFLASH" status --config "$CFG" --klipper-dir "$T/klipper" --json >"$T/st.json" || fail "status --json"
jq -e --arg host "$host" '.host_klipper == $host and (.mcus | length) == 5
    and (.mcus[0] | .name == "mcu" and .state == "klipper" and .mcu == "stm32f446xx" and .differs == false
                    and .restart_method == null)
    and (.mcus[1] | .name == "toolhead" and .state == "katapult" and .restart_method == null)
    and (.mcus[2] | .name == "uartboard" and .differs == true and .restart_method == "arduino")
    and (.mcus[3] | .name == "gone" and .state == "unreachable" and (.error | length) > 0)
    and (.mcus[4] | .name == null and .state == "klipper")' "$T/st.json" >/dev/null && pass || { fail "json"; cat "$T/st.json"; }

# Nothing was changed: each board still runs what it ran.
[ "$(field th1 .mode)" = katapult ] && [ "$(field uart .version)" = v0.13.0-123-gabcdef12-sim ] && pass ||
    fail "status changed a board"
# A CAN node that has a node id (as Klipper gives its nodes) is left alone:
# another id would cut a running Klipper off.  The first look gives
# toolhead2 an id; the second leaves it, and says why.
printf '[mcu toolhead2]\ncanbus_uuid: %s\ncanbus_interface: sim:%s\n' $TH2 "$T/can0" >"$T/cfg/mcus/th2.cfg"
expect_rc 0 "$MCUFLASH" status --config "$CFG" --klipper-dir "$T/klipper"
expect_out "^toolhead2 +CAN node $TH2 on sim:$T/can0 +stm32g0b1xx +v0\.13\.0-123-gabcdef12-sim +yes "
nodeid=$(field th2 .nodeid)
[ "$nodeid" != null ] && pass || fail "toolhead2 was not given a node id"
expect_rc 0 "$MCUFLASH" status --config "$CFG" --klipper-dir "$T/klipper"
expect_out "^toolhead2 +CAN node $TH2 on sim:$T/can0 +\? +unreachable "
expect_out "^toolhead2: .*has a node id already .*left alone so as not to cut Klipper off"
[ "$(field th2 .nodeid)" = "$nodeid" ] && pass || fail "status changed the node id of a node in use"

# No Klipper checkout: versions are shown, the comparison is not made.
expect_rc 0 "$MCUFLASH" status --config "$CFG" --klipper-dir "$T/none"
expect_out "^Host Klipper: no Klipper checkout at $T/none$"
expect_out "^uartboard +.* v0\.13\.0-123-gabcdef12-sim +- "
finish
