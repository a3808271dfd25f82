#!/bin/bash
# mcuflash update of a printer whose main board has neither Katapult nor a
# card wired to its MCU: an SKR Pico (RP2040) on an emulated USB bus, beside
# a UART board with Katapult.  The plan gives the RP2040 the picoboot route
# (its boot ROM's BOOTSEL, entered from Klipper by the 1200-baud touch);
# both are flashed and verified, the service stopped and started again.
# An image the boot ROM cannot start is refused before any board is
# touched, and the printer runs on as it was.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/usb_e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"

PICO=btt-skr-pico
start_sim main --board $PICO --usb 1-1
start_sim uart --board $MINI --link uart:250000 --bootloader katapult
fake_systemctl active
mkdir -p "$T/cfg"
CFG=$T/cfg/printer.cfg
printf '[mcu]\nserial: %s\n\n[mcu uartboard]\nserial: %s\nbaud: 250000\n\n[printer]\nkinematics: corexy\n' \
    "$T/main" "$T/uart" >"$CFG"
"$MCUFLASH_SIM" make-firmware --board $PICO --version-string v2-pico -o "$T/main.uf2" --dict-out "$T/main.uf2.dict" \
    >/dev/null || fail "make-firmware $PICO"
make_fw "$T/uart.bin" $MINI v2-uart --app-address 0x08002000 --link uart:250000
cat >"$T/cfg/mcuflash.cfg" <<EOC
[mcu]
firmware: $T/main.uf2
[mcu uartboard]
firmware: $T/uart.bin
EOC
old=v0.13.0-123-gabcdef12-sim

# The plan, without flashing (Klipper runs, so the boards are not asked):
# the route each board will take.
expect_usb 0 main "$MCUFLASH" update --config "$CFG" --dry-run
expect_out "^  [12]\. mcu: $T/main, rp2040, runs not asked -> v2-pico \($T/main.uf2\), route picoboot$"
expect_out "^  [12]\. uartboard: $T/uart, .*route katapult$"
[ "$(field main .version)" = "$old" ] && [ "$(field main .mode)" = klipper ] && pass ||
    fail "a dry run touched the RP2040 board"
: >"$T/systemctl.log"

expect_usb 0 main "$MCUFLASH" update --config "$CFG"
expect_out "^mcu +$old +v2-pico +flashed$"
expect_out "^uartboard +$old +v2-uart +flashed$"
[ "$(systemctl_calls)" = "is-active --quiet klipper|stop klipper|is-active --quiet klipper|start klipper" ] &&
    pass || fail "service calls: $(systemctl_calls)"
runs "$T/main" v2-pico
runs "$T/uart" v2-uart
[ "$(field main .mode)" = klipper ] && pass || fail "the RP2040 board is not back in Klipper"

# An image linked behind a bootloader the RP2040 does not have: refused
# before the service is stopped or any board touched.
"$MCUFLASH_SIM" make-firmware --board $PICO --version-string v3-pico --app-address 0x10004000 -o "$T/at4000.bin" \
    >/dev/null || fail "make-firmware at 0x10004000"
: >"$T/systemctl.log"
expect_usb 5 main "$MCUFLASH" update --config "$CFG" -f mcu="$T/at4000.bin"
expect_out "^mcuflash: The image for mcu cannot be used, so nothing was touched: $T/at4000\.bin was linked for 0x10004000 .*\"No bootloader\""
[ -z "$(systemctl_calls)" ] && pass || fail "service touched for a refused image: $(systemctl_calls)"
runs "$T/main" v2-pico
[ "$(field main .mode)" = klipper ] && pass || fail "a refused image touched the RP2040 board"
finish
