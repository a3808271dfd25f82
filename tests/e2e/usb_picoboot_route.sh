#!/bin/bash
# mcuflash flash --route picoboot on virtual RP2040 and RP2350 boards whose
# USB bus is emulated: entered from running Klipper by the 1200-baud touch,
# the touched sectors erased, the image written in pages, read back whole
# and rebooted, the new Klipper proven by its dictionary; a board already in
# BOOTSEL (usb:VID:PID, usb:PORT, no target); images for another address,
# UF2 family or chip refused before the touch; a read-back that differs
# (the board stays in BOOTSEL); a touch that brings Klipper back; nothing
# waiting; Ctrl-C while writing; a board definition (the SKR Pico).
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/usb_e2e.sh"

mode() { field "$1" .mode; }
# make_pico OUT MCU VERSION [ARGS...]: a build without bootloader.
make_pico() {
    out=$1 mcu=$2 version=$3; shift 3
    "$MCUFLASH_SIM" make-firmware --mcu "$mcu" --version-string "$version" -o "$out" "$@" >/dev/null ||
        fail "make-firmware $mcu $version"
}

# --- from running Klipper: UF2, chosen by the board's USB product string -----------
make_pico "$T/v2.uf2" rp2040 v2-pico
start_sim pico --mcu rp2040 --usb 1-1
expect_usb 0 pico "$MCUFLASH" flash -f "$T/v2.uf2" "$T/pico"
expect_out "Route: picoboot \(the board on USB port 1-1 is an rp2040, whose boot ROM has BOOTSEL\)"
expect_out "Connected over USB port 1-1: rp2040 running"
expect_out "1200-baud touch"
expect_out "In the RP2040 BOOTSEL 2e8a:0003 at port 1-1 \(PICOBOOT interface 1\)"
expect_out "Erasing 8 sectors and writing 32768 bytes at 0x10000000 in 256-byte pages"
expect_out "read them back: identical"
expect_out "spent [0-9.]+ s in its bootloader"
expect_last "^Flashed: the board now runs v2-pico\.$"
runs "$T/pico" v2-pico
[ "$(mode pico)" = klipper ] && pass || fail "pico is not back in Klipper"

# --- klipper.bin with --route picoboot ---------------------------------------------
make_pico "$T/v3.bin" rp2040 v3-bin --size 20000
expect_usb 0 pico "$MCUFLASH" flash --route picoboot -f "$T/v3.bin" "$T/pico"
expect_out "Erasing 5 sectors and writing 20000 bytes at 0x10000000"
expect_last "^Flashed: the board now runs v3-bin\.$"
runs "$T/pico" v3-bin

# --- already in BOOTSEL: usb:VID:PID, usb:PORT, no target -----------------------------
touch_1200 pico
[ ! -e "$T/pico" ] && pass || fail "the pty stayed while in BOOTSEL"
expect_usb 0 pico "$MCUFLASH" flash -f "$T/v2.uf2" usb:2e8a:0003
expect_out "Route: picoboot \(the target is a BOOTSEL device\)"
expect_no_out "1200-baud touch"
expect_last "^Flashed: the board now runs v2-pico\.$"
runs "$T/pico" v2-pico
touch_1200 pico
expect_usb 0 pico "$MCUFLASH" flash -f "$T/v3.bin" usb:1-1
expect_out "Route: picoboot \(a BOOTSEL device waits at USB port 1-1\)"
runs "$T/pico" v3-bin
touch_1200 pico
expect_usb 0 pico "$MCUFLASH" flash -f "$T/v2.uf2"
expect_out "Route: picoboot \(a BOOTSEL device waits at USB port 1-1\)"
runs "$T/pico" v2-pico

# --- nothing waiting: an error, never success ------------------------------------------
expect_usb 3 pico "$MCUFLASH" flash --route picoboot -f "$T/v2.uf2" usb:1-1
expect_out "No BOOTSEL device 2e8a:0003 or 2e8a:000f is on USB port 1-1; nothing was done"
expect_usb 3 pico "$MCUFLASH" flash --route picoboot -f "$T/v2.uf2"
expect_out "No BOOTSEL device 2e8a:0003 or 2e8a:000f is on USB; nothing was done; put the board in its bootloader"

# --- images the boot ROM cannot start: refused untouched -------------------------------
make_pico "$T/at4000.bin" rp2040 v-at4000 --app-address 0x10004000
expect_usb 5 pico "$MCUFLASH" flash -f "$T/at4000.bin" "$T/pico"
expect_out "linked for 0x10004000 \(\"16KiB bootloader\"\), but the boot ROM starts the image at 0x10000000; nothing was changed.*\"No bootloader\""
make_pico "$T/other.uf2" rp2040 v-other --uf2-family 0x57755a57
expect_usb 5 pico "$MCUFLASH" flash -f "$T/other.uf2" "$T/pico"
expect_out "carries UF2 family 0x57755a57, which the rp2040's boot ROM does not take \(it takes 0xe48bff56\); nothing was changed"
"$MCUFLASH_SIM" make-firmware --mcu stm32f407xx --version-string v-stm -o "$T/stm.bin" >/dev/null
expect_usb 5 pico "$MCUFLASH" flash --route picoboot -f "$T/stm.bin" "$T/pico"
expect_out "was built for a stm32f407xx, but BOOTSEL is the boot ROM of the RP2040 and RP2350; nothing was changed"
make_pico "$T/rp2350.uf2" rp2350 v-2350
expect_usb 5 pico "$MCUFLASH" flash --route picoboot -f "$T/rp2350.uf2" "$T/pico"
expect_out "The board runs a rp2040, but .*rp2350\.uf2 was built for a rp2350; nothing was changed"
expect_no_out "touch"
[ "$(mode pico)" = klipper ] && pass || fail "a refused image touched the board"
runs "$T/pico" v2-pico

# --- a weak flash cell: the read-back differs, no reboot into it -------------------------
make_pico "$T/weak.uf2" rp2040 v-weak
start_sim weak --mcu rp2040 --usb 1-1,weak-cell=0x10000400
expect_usb 10 weak "$MCUFLASH" flash -f "$T/weak.uf2" "$T/weak"
expect_out "read-back differs from the image at 0x10000400"
expect_out "stays in BOOTSEL, not rebooted into an image that was not proven good; run .* again \(target usb:1-1\)"
expect_no_out "Starting the new firmware"
[ "$(mode weak)" = dfu ] && pass || fail "the board left BOOTSEL after a failed read-back"

# --- Ctrl-C while writing: nothing is started, the board waits in BOOTSEL ----------------
make_pico "$T/big.uf2" rp2040 v-big --size 524288
start_sim slow --mcu rp2040 --usb 1-1 --timing realistic
usb_background slow "$MCUFLASH" flash --json -f "$T/big.uf2" "$T/slow"
wait_text '"phase":"upload"' && kill -INT "$BG"
bg_rc 130
expect_out '"code":130,"message":"Interrupted: nothing was started: the board waits in its BOOTSEL mode with a partly written image'
[ "$(mode slow)" = dfu ] && pass || fail "the board left BOOTSEL after the stop"

# --- the touch brings Klipper back --------------------------------------------------------
start_sim nopico --mcu rp2040 --usb 1-1,no-dfu
expect_usb 3 nopico "$MCUFLASH" flash -f "$T/v2.uf2" "$T/nopico"
expect_out "did not appear as a BOOTSEL device.*Klipper came back on USB port 1-1.*nothing was written"

# --- RP2350: REBOOT2 ----------------------------------------------------------------------
start_sim p2350 --mcu rp2350 --usb 1-1
expect_usb 0 p2350 "$MCUFLASH" flash -f "$T/rp2350.uf2" "$T/p2350"
expect_out "In the RP2350 BOOTSEL 2e8a:000f at port 1-1"
expect_last "^Flashed: the board now runs v-2350\.$"
runs "$T/p2350" v-2350

# --- the board definition: chosen by its MCU; it has no card for the SD route --------------
"$MCUFLASH_SIM" make-firmware --board btt-skr-pico --version-string v-skr-pico -o "$T/skr.uf2" >/dev/null
start_sim skr --board btt-skr-pico --usb 1-1
expect_usb 0 skr "$MCUFLASH" flash --board btt-skr-pico -f "$T/skr.uf2" "$T/skr"
expect_out "Route: picoboot \(board generic-rp2040 has an rp2040, whose boot ROM has BOOTSEL\)"
runs "$T/skr" v-skr-pico
expect_rc 5 "$MCUFLASH" sdcard -f "$T/skr.uf2" "$T/skr" btt-skr-pico
expect_out "Board generic-rp2040 has no SD card wired to its MCU; nothing was changed"
finish
