#!/bin/bash
# mcuflash update of a whole virtual printer: the Klipper service stopped
# and started again (checked at the systemctl boundary), the USB to CAN
# bridge flashed after the CAN nodes behind it, the main board through its
# SD card, each board verified; then a run where one board fails mid-way:
# the others are flashed, the summary says so, the service is started
# again and the exit status is not zero.  The main board's restart_method
# (cheetah: its reset hangs on the DTR line) is honoured for the reset that
# lets its bootloader take the card's file; a pty has no such line, so
# Klipper's reset command does it, and mcuflash says so.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
start_update_printer
sed -i "s|^serial: $T/main\$|&\nrestart_method: cheetah|" "$T/cfg/printer.cfg"
# toolhead is the USB to CAN bridge (said in mcuflash.cfg: the virtual
# printer has no USB bridge model); printer.cfg names it first.
cat >"$T/cfg/mcuflash.cfg" <<EOC
[mcuflash]
klipper_service: klipper-printer
[mcu]
firmware: $T/main.bin
board: $SDMAIN
[mcu toolhead]
firmware: $T/th.bin
bridge: yes
[mcu toolhead2]
firmware: $T/th2.bin
[mcu uartboard]
firmware: $T/uart.bin
EOC
old=v0.13.0-123-gabcdef12-sim

expect_rc 0 "$MCUFLASH" update --config "$CFG"
expect_out "^Stopping the klipper-printer service\.$"
expect_out "^  1\. toolhead2: CAN node $TH2 .* route katapult$"
expect_out "^  2\. toolhead: CAN node $TH1 on sim:$T/can0 \(USB to CAN bridge\), $EBB, runs $old -> v2-th "
expect_out "^  3\. mcu: $T/main, stm32f103xe, runs $old -> v2-main \($T/main.bin\), route sdcard, board btt-skr-mini$"
expect_out "^  4\. uartboard: "
expect_out "^Resetting the board through its DTR line \(restart_method cheetah\) so its bootloader flashes the file\.$"
expect_out "^restart_method cheetah: $T/main has no modem lines to reset the board with \(.*\)\. Resetting the board with Klipper's reset command instead\.$"
expect_out "^Starting the klipper-printer service again\.$"
expect_out "^toolhead2 +$old +v2-th2 +flashed$"
expect_out "^toolhead +$old +v2-th +flashed$"
expect_out "^mcu +$old +v2-main +flashed$"
expect_out "^uartboard +$old +v2-uart +flashed$"
# The flashes ran in the plan's order.
order=$(update_order)
[ "$order" = "toolhead2 toolhead mcu uartboard" ] && pass || fail "flash order: $order"
[ "$(systemctl_calls)" = "is-active --quiet klipper-printer|stop klipper-printer|is-active --quiet klipper-printer|start klipper-printer" ] &&
    pass || fail "service calls: $(systemctl_calls)"
runs "$T/main" v2-main
runs "$T/uart" v2-uart
[ "$(field th1 .version)" = v2-th ] && [ "$(field th2 .version)" = v2-th2 ] && pass || fail "toolheads not flashed"
files "$T/main.img" FIRMWARE.CUR
fsck_ok "$T/main.img"

# One board fails mid-way: toolhead2 waits in Katapult, which refuses
# every write.  The others are flashed, the service comes back.
make_fw "$T/main3.bin" $SDMAIN v3-main
make_fw "$T/uart3.bin" $MINI v3-uart --app-address 0x08002000 --link uart:250000
make_fw_mcu $EBB v3-th "$T/th3.bin" --app-address 0x08002000 --link can
sim_ctl "$T/th2.ctl" double-tap >/dev/null
for _ in $(seq 100); do [ "$(field th2 .mode)" = katapult ] && break; sleep 0.05; done
sim_ctl "$T/th2.ctl" katapult refuse-write 5 >/dev/null
: >"$T/systemctl.log"
expect_rc 4 "$MCUFLASH" update --config "$CFG" -f mcu="$T/main3.bin" -f uartboard="$T/uart3.bin" -f toolhead="$T/th3.bin"
expect_out "^  1\. toolhead2: CAN node $TH2 .*runs in Katapult -> v2-th2 "
expect_out "^toolhead2 +in Katapult +- +failed$"
expect_out "^toolhead +v2-th +v3-th +flashed$"
expect_out "^mcu +v2-main +v3-main +flashed$"
expect_out "^uartboard +v2-uart +v3-uart +flashed$"
expect_out "^toolhead2: .*Katapult"
[ "$(systemctl_calls)" = "is-active --quiet klipper-printer|stop klipper-printer|is-active --quiet klipper-printer|start klipper-printer" ] &&
    pass || fail "service after a failure: $(systemctl_calls)"
[ "$(cat "$T/service.state")" = active ] && pass || fail "service not running again"
[ "$(field th2 .mode)" = katapult ] && [ "$(field th2 .katapult.completes)" = 1 ] && pass ||
    fail "the failed board was started with a partial image"
runs "$T/main" v3-main

# --json: the plan, then the summary as the one result event, last.
# (a reset ends the refusals; the board starts the image it holds)
sim_ctl "$T/th2.ctl" reset >/dev/null
for _ in $(seq 100); do [ "$(field th2 .state)" = running ] && break; sleep 0.05; done
"$MCUFLASH" update --config "$CFG" --json toolhead2 >"$T/up.json" 2>/dev/null; rc=$?
jq -se '(map(select(.event == "result")) | length == 1) and .[-1].event == "result" and .[-1].ok
        and (.[-1].mcus == [{"name": "toolhead2", "before": "v2-th2", "after": "v2-th2", "result": "flashed",
        "error": null}])' "$T/up.json" >/dev/null && [ $rc = 0 ] && pass ||
    { fail "json summary (exit $rc)"; cat "$T/up.json"; }

# A CAN node's image linked for another address than Katapult's: the node,
# sent to Katapult by update, is refused there and started again on the
# firmware it had, not left waiting in Katapult.
make_fw_mcu $EBB v5-th2 "$T/th2-8k.bin" --app-address 0x08004000 --link can
expect_rc 5 "$MCUFLASH" update --config "$CFG" toolhead2 -f toolhead2="$T/th2-8k.bin"
expect_out "th2-8k.bin was linked for 0x08004000"
expect_out "Nothing was written; starting the firmware the board had again"
[ "$(field th2 .mode)" = klipper ] && [ "$(field th2 .version)" = v2-th2 ] && pass ||
    fail "a refused CAN node was left in $(field th2 .mode)"

# Ctrl-C during the first board's upload: that board stops at a safe point,
# the MCUs after it are not touched, the service is started again, exit 130.
: >"$T/systemctl.log"
"$MCUFLASH" update --config "$CFG" --json -f mcu="$T/main.bin" -f uartboard="$T/uart.bin" \
    -f toolhead="$T/th.bin" >"$T/int.json" 2>&1 &
pid=$!
for _ in $(seq 400); do grep -q '"phase":"upload"' "$T/int.json" && break; sleep 0.05; done
kill -INT "$pid"
wait "$pid"; rc=$?
[ $rc = 130 ] && pass || { fail "update stopped by SIGINT: exit $rc"; cat "$T/int.json"; }
jq -se '.[-1].event == "result" and (.[-1].ok | not)
        and ([.[-1].mcus[] | select(.result == "skipped")] | length >= 2)
        and ([.[-1].mcus[] | select(.result == "flashed")] | length == 0)' "$T/int.json" >/dev/null && pass ||
    { fail "summary after SIGINT"; cat "$T/int.json"; }
grep -q 'Not tried: the update was stopped on request before' "$T/int.json" && pass || fail "no 'stopped on request' note"
[ "$(systemctl_calls)" = "is-active --quiet klipper-printer|stop klipper-printer|is-active --quiet klipper-printer|start klipper-printer" ] &&
    pass || fail "service after SIGINT: $(systemctl_calls)"
runs "$T/main" v3-main
runs "$T/uart" v3-uart
finish
