#!/bin/bash
# The LPC176x DFU bootloader (plain DFU 1.1, 1d50:6015): Debian's dfu-util
# flashes the model at the application address; mcuflash enters it from
# running Klipper on a board whose definition names it, downloads the image,
# lets manifestation reset the board and proves the new Klipper by its
# dictionary (the bootloader cannot read back).
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/usb_e2e.sh"

command -v dfu-util >/dev/null || { fail "dfu-util is not installed (scripts/install-deps.sh)"; finish; exit; }
cat >"$T/boards.cfg" <<CFG
[board smoothie-dfu]
description: an LPC1769 board with the LPC17xx DFU bootloader
mcu: lpc1769
bootloader: lpc176x
application_address: 0x00004000
dfu: 1d50:6015
spi_bus: ssp1
cs_pin: P0.6
CFG
B=(--board-file "$T/boards.cfg" --board smoothie-dfu)
make_fw "$T/v2.bin" generic-lpc1769 v2-lpc

# --- dfu-util against the model: blocks from 0x4000, then manifestation ------------
# The bootloader resets itself after manifestation, so dfu-util's own USB
# reset finds no device: it prints Done! and still exits with 74.
expect_rc 74 "$MCUFLASH_SIM" usb --mcu lpc1769 --flash-out "$T/flash.bin" -- dfu-util -D "$T/v2.bin"
expect_out "Download done"
expect_out "dfuMANIFEST-WAIT-RESET"
expect_out "Done!"
size=$(stat -c %s "$T/v2.bin")
expect_out "[0-9]+ erases, $(( (size + 511) / 512 )) blocks written \($size bytes\); manifested and reset"
if cmp -s <(tail -c +$((0x4000 + 1)) "$T/flash.bin" | head -c "$size") "$T/v2.bin"; then pass; else fail "flash differs"; fi
if [ "$(head -c $((0x4000)) "$T/flash.bin" | tr -d '\377' | wc -c)" -eq 0 ]; then pass; else fail "bootloader area written"; fi

# --- mcuflash from running Klipper -------------------------------------------------
start_sim lpc "${B[@]}" --usb 1-1
expect_usb 0 lpc "$MCUFLASH" flash --route dfu "${B[@]}" -f "$T/v2.bin" "$T/lpc"
expect_out "Connected over USB port 1-1: lpc1769"
expect_out "In the DFU bootloader 1d50:6015 at port 1-1 \(DFU 1\.10, 512-byte transfers\)"
expect_out "cannot read back, so the firmware that starts proves the write"
expect_last "^Flashed: the board now runs v2-lpc\.$"
runs "$T/lpc" v2-lpc

# --- already waiting in the bootloader -----------------------------------------------
make_fw "$T/v3.bin" generic-lpc1769 v3-lpc
touch_1200 lpc
expect_usb 0 lpc "$MCUFLASH" flash "${B[@]}" -f "$T/v3.bin" usb:1d50:6015
expect_out "Route: dfu \(the target is a USB bootloader device\)"
runs "$T/lpc" v3-lpc

# --- an image for the wrong offset is refused before the touch -------------------------
make_fw "$T/at0.bin" generic-lpc1769 v-at0 --app-address 0x00000000
expect_usb 5 lpc "$MCUFLASH" flash --route dfu "${B[@]}" -f "$T/at0.bin" "$T/lpc"
expect_out "nothing was changed"
[ "$(field lpc .mode)" = klipper ] && pass || fail "the refused image touched the board"
finish
