#!/bin/bash
# mcuflash update refuses before anything is touched: an MCU without an
# image, an image that is no Klipper build, an image for another MCU than
# the board reports, an unknown MCU name; and --dry-run prints the plan and
# touches nothing (the virtual boards and the card image stay the same),
# leaving a running Klipper service alone.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
start_update_printer
# Images from mcuflash.cfg beside printer.cfg, relative to it; the main
# board goes through its SD card.
mkdir -p "$T/cfg/fw"
cp "$T/th.bin" "$T/cfg/fw/th.bin"
cat >"$T/cfg/mcuflash.cfg" <<EOC
[mcu]
firmware: $T/main.bin
board: $SDMAIN
[mcu toolhead]
firmware: fw/th.bin
EOC
before=$(printer_state)

# Two MCUs without an image: both named, nothing touched, the service left alone.
expect_rc 6 "$MCUFLASH" update --config "$CFG"
expect_out "^mcuflash: No image for toolhead2, uartboard: nothing was touched; name it with 'firmware: FILE' in the \[mcu NAME\] section of $T/cfg/mcuflash.cfg; or give it with -f NAME=FILE\.$"
[ "$(printer_state)" = "$before" ] && pass || fail "a missing image touched a board"
[ -z "$(systemctl_calls)" ] && pass || fail "service touched: $(systemctl_calls)"

# An image that is no Klipper build.
head -c 4096 /dev/urandom >"$T/junk.bin"
expect_rc 6 "$MCUFLASH" update --config "$CFG" -f toolhead2="$T/junk.bin" -f uartboard="$T/uart.bin"
expect_out "The image for toolhead2, $T/junk.bin, does not look like a Klipper build.*nothing was touched"
# -f for an MCU printer.cfg does not have, or without '='.
expect_rc 2 "$MCUFLASH" update --config "$CFG" -f nozzle="$T/th.bin"
expect_out "'nozzle' is no MCU of printer.cfg \(its MCUs: mcu, toolhead, toolhead2, uartboard\); nothing was touched"
expect_rc 2 "$MCUFLASH" update --config "$CFG" -f "$T/th.bin"
expect_out "-f needs NAME=FILE"
expect_rc 2 "$MCUFLASH" update --config "$CFG" nozzle
expect_out "'nozzle' is no MCU of $CFG"
[ "$(printer_state)" = "$before" ] && pass || fail "a refused command touched a board"
[ -z "$(systemctl_calls)" ] && pass || fail "service touched: $(systemctl_calls)"

# --dry-run while Klipper runs: the plan, nothing asked, nothing touched.
ALL=(-f toolhead2="$T/th.bin" -f uartboard="$T/uart.bin")
expect_rc 0 "$MCUFLASH" update --config "$CFG" "${ALL[@]}" --dry-run
expect_out "The klipper service runs: the boards were not asked what they run\."
expect_out "^  1\. toolhead: CAN node $TH1 on sim:$T/can0, $EBB, runs not asked -> v2-th \($T/cfg/fw/th.bin\), route katapult$"
expect_out "^  3\. mcu: $T/main, stm32f103xe, runs not asked -> v2-main \($T/main.bin\), route sdcard, board btt-skr-mini$"
expect_out "^  4\. uartboard: $T/uart, "
expect_out "^Dry run: nothing was touched\.$"
[ "$(systemctl_calls)" = "is-active --quiet klipper" ] && pass || fail "dry run: $(systemctl_calls)"
# --dry-run with Klipper stopped: the boards are asked what they run.
echo inactive >"$T/service.state"
expect_rc 0 "$MCUFLASH" update --config "$CFG" "${ALL[@]}" --dry-run
expect_out "^  2\. toolhead2: CAN node $TH2 on sim:$T/can0, $EBB, runs v0\.13\.0-123-gabcdef12-sim -> v2-th "
expect_out "^  4\. uartboard: $T/uart, stm32g0b1xx, runs v0\.13\.0-123-gabcdef12-sim -> v2-uart "
"$MCUFLASH" update --config "$CFG" "${ALL[@]}" --dry-run --json >"$T/plan.json" 2>&1 || fail "dry run --json"
jq -se '[.[] | select(.event == "plan")][0] | .dry_run and ([.mcus[].name] == ["toolhead", "toolhead2", "mcu", "uartboard"])
        and .mcus[2].route == "sdcard" and .mcus[2].running == "v0.13.0-123-gabcdef12-sim"' "$T/plan.json" >/dev/null &&
    pass || { fail "plan json"; cat "$T/plan.json"; }
[ "$(printer_state)" = "$before" ] && pass || fail "dry run touched a board"
[ "$(grep -cv '^is-active' "$T/systemctl.log")" = 0 ] && pass || fail "dry run: $(systemctl_calls)"

# An image for another MCU than the board reports: refused once the boards
# were asked, nothing flashed, and the service started again.
echo active >"$T/service.state"; : >"$T/systemctl.log"
expect_rc 5 "$MCUFLASH" update --config "$CFG" -f toolhead2="$T/th.bin" -f uartboard="$T/main.bin"
expect_out "Wrong image for uartboard \(the board is stm32g0b1xx, $T/main.bin is for stm32f103xe\); nothing was flashed"
[ "$(systemctl_calls)" = "is-active --quiet klipper|stop klipper|is-active --quiet klipper|start klipper" ] && pass ||
    fail "mismatch: service calls $(systemctl_calls)"
[ "$(printf '%s\n' "$(printer_state)" | sed -n 1,2p)" = "$(printf '%s\n' "$before" | sed -n 1,2p)" ] &&
    [ "$(printf '%s\n' "$(printer_state)" | tail -n 1)" = "$(printf '%s\n' "$before" | tail -n 1)" ] && pass ||
    fail "a mismatched image touched a board"

# A service that does not stop: nothing is flashed.
fake_systemctl active stuck
expect_rc 3 "$MCUFLASH" update --config "$CFG" "${ALL[@]}"
expect_out "The klipper service still runs after 'systemctl stop klipper' and holds the boards; nothing was flashed"
[ "$(printf '%s\n' "$(printer_state)" | tail -n 1)" = "$(printf '%s\n' "$before" | tail -n 1)" ] && pass ||
    fail "card touched with the service running"
finish
