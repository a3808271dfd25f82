#!/bin/bash
# Debian's dfu-util against the virtual board's STM32 DfuSe ROM, emulated
# with umockdev: it must list the device with its layout, flash it, read it
# back, see a weak flash cell, and end the leave with the same status error
# (exit 74) as on a real STM32, while the device did jump to the image.
. "$MF_TESTS/lib/e2e.sh"

command -v dfu-util >/dev/null || { fail "dfu-util is not installed (scripts/install-deps.sh)"; finish; exit; }
usbsim() { "$MCUFLASH_SIM" usb "$@"; }
# bytes FILE OFFSET LEN: that part of FILE on stdout
bytes() { tail -c +$(($2 + 1)) "$1" | head -c "$3"; }

head -c 40000 /dev/urandom >"$T/img.bin"

# --- listing: the alt settings with their memory layout strings --------------
expect_rc 0 usbsim --mcu stm32f407xx -- dfu-util -l
expect_out 'Found DFU: \[0483:df11\] .*path="1-1", alt=0, name="@Internal Flash  /0x08000000/04\*016Kg,01\*064Kg,07\*128Kg"'
expect_out 'alt=1, name="@Option Bytes  /0x1FFFC000/01\*016 e"'
expect_rc 0 usbsim --mcu stm32h743xx --port 1-4 -- dfu-util -l
expect_out 'path="1-4", alt=0, name="@Internal Flash  /0x08000000/16\*128Kg"'

# --- flash with leave: exit 74 after a good flash, as real ROMs do -----------
expect_rc 74 usbsim --mcu stm32f407xx --flash-out "$T/flash.bin" -- \
    dfu-util -a 0 -s 0x08008000:leave -D "$T/img.bin"
expect_out 'File downloaded successfully'
expect_out 'Error during download get_status'
expect_out '3 erases, 40 blocks written \(40000 bytes\).*left DFU to 0x08008000'
if cmp -s <(bytes "$T/flash.bin" $((0x8000)) 40000) "$T/img.bin"; then pass; else fail "flash differs from the image"; fi
# Only the sectors the image touches were erased; the rest is as it was (erased).
if [ "$(bytes "$T/flash.bin" 0 $((0x8000)) | tr -d '\377' | wc -c)" -eq 0 ]; then pass; else fail "bootloader area written"; fi

# --- the device answering the leave status (GD32-like) is a clean exit -------
expect_rc 0 usbsim --mcu stm32f407xx --leave-answers -- dfu-util -a 0 -s 0x08008000:leave -D "$T/img.bin"
expect_out 'left DFU to 0x08008000'

# --- download then upload in one session: the read-back equals the image -----
expect_rc 0 usbsim --mcu stm32g0b1xx -- sh -c \
    "dfu-util -a 0 -s 0x08002000 -D '$T/img.bin' && dfu-util -a 0 -s 0x08002000:40000 -U '$T/up.bin'"
expect_out '20 erases, 40 blocks written'
if cmp -s "$T/up.bin" "$T/img.bin"; then pass; else fail "read-back differs from the image"; fi

# --- a weak cell: the read-back shows one flipped bit there ------------------
rm -f "$T/up.bin"
expect_rc 0 usbsim --mcu stm32f407xx --weak-cell 0x08008400 -- sh -c \
    "dfu-util -a 0 -s 0x08008000 -D '$T/img.bin' && dfu-util -a 0 -s 0x08008000:40000 -U '$T/up.bin'"
if cmp "$T/up.bin" "$T/img.bin" 2>&1 | grep -q 'byte 1025,'; then pass; else fail "weak cell not seen at 0x08008400"; fi

# --- dfu-util reads the layout: past the flash's end is refused, nothing erased
expect_rc 64 usbsim --mcu stm32f407xx -- dfu-util -a 0 -s 0x08100000 -D "$T/img.bin"
expect_out 'Last page at 0x08109c3f is not writeable'
expect_out '0 erases, 0 blocks written'

# --- usage ----------------------------------------------------------------------
expect_rc 2 usbsim --mcu stm32f103xe -- true
expect_out 'no bootloader model for this MCU'
expect_rc 2 usbsim --mcu stm32f407xx
finish
