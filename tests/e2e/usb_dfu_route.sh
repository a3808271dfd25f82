#!/bin/bash
# mcuflash flash --route dfu on virtual STM32 boards whose USB bus is
# emulated: entered from running Klipper by the 1200-baud touch, erased,
# written, read back and started, the new Klipper proven by its dictionary;
# a board already in its ROM bootloader; a read-back that differs (the board
# stays in DFU); a ROM that answers the leave; an image for the wrong
# address refused before the touch; a touch that brings Klipper back; a
# board with no DFU bootloader; usage errors.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/usb_e2e.sh"

PRO=btt-skr-pro                 # STM32F407, application at 0x08008000

# --- from running Klipper --------------------------------------------------------
make_fw "$T/v2.bin" $PRO v2-dfu
start_sim pro --board $PRO --usb 1-1
# Klipper's USB serial number: an STM32's 12-byte unique id in hex.
serial=$(cat "$(field pro .usb_testbed)"/sys/bus/usb/devices/1-1/serial 2>/dev/null)
[[ "$serial" =~ ^[0-9A-F]{24}$ ]] && pass || fail "USB serial number '$serial' is not 24 hex digits"
expect_usb 0 pro "$MCUFLASH" flash --route dfu --board $PRO -f "$T/v2.bin" "$T/pro"
expect_out "Route: dfu \(asked for\)"
expect_out "Connected over USB port 1-1: stm32f407xx running v0\.13\.0"
expect_out "1200-baud touch"
expect_out "In the STM32 ROM DfuSe 0483:df11 at port 1-1 \(\"Internal Flash\", 1024-byte transfers\)"
expect_out "Erasing and writing 32768 bytes at 0x08008000"
expect_out "read them back: identical"
expect_out "spent [0-9.]+ s in its bootloader"
expect_last "^Flashed: the board now runs v2-dfu\.$"
runs "$T/pro" v2-dfu
[ "$(mode pro)" = klipper ] && pass || fail "pro is not back in Klipper"

# --- already in the ROM bootloader: usb:PORT and usb:VID:PID ---------------------
touch_1200 pro
[ ! -e "$T/pro" ] && pass || fail "the pty stayed while in DFU"
make_fw "$T/v4.bin" $PRO v4-waiting
expect_usb 0 pro "$MCUFLASH" flash --route dfu --board $PRO -f "$T/v4.bin" usb:1-1
expect_no_out "1200-baud touch"
expect_last "^Flashed: the board now runs v4-waiting\.$"
runs "$T/pro" v4-waiting
touch_1200 pro
expect_usb 0 pro "$MCUFLASH" flash --board $PRO -f "$T/v2.bin" usb:0483:df11
expect_out "Route: dfu \(the target is a USB bootloader device\)"
runs "$T/pro" v2-dfu
# Nothing waiting: said, and nothing done.
expect_usb 3 pro "$MCUFLASH" flash --board $PRO -f "$T/v2.bin" usb:1-1
expect_out "No DFU device 0483:df11 is on USB port 1-1; nothing was done"
expect_usb 2 pro "$MCUFLASH" flash --board $PRO -f "$T/v2.bin" usb:nonsense
expect_out "names no USB device"

# --- an image linked for the bootloader's own address: refused untouched --------
make_fw "$T/at0.bin" $PRO v-at0 --app-address 0x08000000
expect_usb 5 pro "$MCUFLASH" flash --route dfu --board $PRO -f "$T/at0.bin" "$T/pro"
expect_out "linked for 0x08000000.*nothing was changed"
expect_no_out "touch"
[ "$(mode pro)" = klipper ] && pass || fail "the refused image touched the board"
runs "$T/pro" v2-dfu

# --- a weak flash cell: the read-back differs, the board stays in DFU -----------
make_fw "$T/weak.bin" $PRO v-weak
start_sim weak --board $PRO --usb 1-1,weak-cell=0x08008400
expect_usb 10 weak "$MCUFLASH" flash --route dfu --board $PRO -f "$T/weak.bin" "$T/weak"
expect_out "read-back differs from the image at 0x08008400"
expect_out "stays in its DFU bootloader.*usb:1-1"
expect_no_out "Starting the new firmware"
[ "$(mode weak)" = dfu ] && pass || fail "the board left DFU after a failed read-back"

# --- a ROM that answers the leave before it goes ---------------------------------
start_sim answers --board $PRO --usb 1-1,leave-answers
expect_usb 0 answers "$MCUFLASH" flash --route dfu --board $PRO -f "$T/v2.bin" "$T/answers"
runs "$T/answers" v2-dfu

# --- the touch brings Klipper back (the ROM cannot be reached) --------------------
start_sim nodfu --board $PRO --usb 1-1,no-dfu
expect_usb 3 nodfu "$MCUFLASH" flash --route dfu --board $PRO -f "$T/v2.bin" "$T/nodfu"
expect_out "did not appear as a DFU device.*Klipper came back on USB port 1-1.*nothing was written"
expect_out "SD card works without touching the board: 'mcuflash flash --route sdcard --board $PRO -f $T/v2\.bin $T/nodfu'"

# --- LPC176x: no USB DFU bootloader at all ----------------------------------------
make_fw "$T/lpc.bin" generic-lpc1768 v-lpc
start_sim lpc --board generic-lpc1768 --usb 1-1
expect_usb 2 lpc "$MCUFLASH" flash --route dfu --board generic-lpc1768 -f "$T/lpc.bin" "$T/lpc"
expect_out "has no USB DFU bootloader; nothing was done; its SD card works without touching the board: 'mcuflash flash --route sdcard --board generic-lpc1768 -f $T/lpc\.bin $T/lpc'"
[ "$(mode lpc)" = klipper ] && pass || fail "the LPC board was touched"

# --- a board whose outputs float in DFU: warned before the touch ----------------------
OCT=btt-octopus-f429-v1
make_fw "$T/oct.bin" $OCT v-oct
start_sim oct --board $OCT --usb 1-1
expect_usb 0 oct "$MCUFLASH" flash --route dfu --board $OCT -f "$T/oct.bin" "$T/oct"
expect_out "Warning: on board $OCT heaters and fans may switch on while the chip is in its ROM bootloader"
expect_out "\(\"Internal Flash\", 1024-byte transfers\)"
runs "$T/oct" v-oct

# --- not a USB device ----------------------------------------------------------------
start_sim uart --board $PRO --link uart:250000
expect_rc 2 "$MCUFLASH" flash --route dfu --board $PRO -f "$T/v2.bin" "$T/uart"
expect_out "is not a USB device"
finish
