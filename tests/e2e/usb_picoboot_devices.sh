#!/bin/bash
# Finding the BOOTSEL device for mcuflash flash when it is already waiting:
# two candidates for usb:VID:PID, or without a target (a BOOTSEL device
# beside an STM32 ROM), are refused with their ports and neither is touched; naming a port picks that one; a device node that is not
# writable for the user is named, with the udev rules as the fix, before
# anything is written.
. "$MF_TESTS/lib/e2e.sh"

usbsim() { "$MCUFLASH_SIM" usb --mcu rp2040 "$@"; }
"$MCUFLASH_SIM" make-firmware --mcu rp2040 --version-string v-devices -o "$T/fw.uf2" >/dev/null ||
    fail "make-firmware"

# --- two devices for usb:VID:PID ------------------------------------------------------
expect_rc 2 usbsim --port 1-1 --port 1-3 -- "$MCUFLASH" flash -f "$T/fw.uf2" usb:2e8a:0003
expect_out "2 BOOTSEL devices are on USB \(2e8a:0003 at port 1-1, 2e8a:0003 at port 1-3\); nothing was done; name one by its port, e\.g\. usb:1-1\."
expect_out "1-1: 0 sector erases, 0 pages written, 0 reads \(0 bytes\); still in BOOTSEL"
expect_out "1-3: 0 sector erases, 0 pages written, 0 reads \(0 bytes\); still in BOOTSEL"

# --- a BOOTSEL device and an STM32 ROM, no target: both listed, neither touched ----------
expect_rc 2 usbsim --port 1-1 --port 1-3=stm32f407xx -- "$MCUFLASH" flash -f "$T/fw.uf2"
expect_out "2 USB bootloader devices are on USB \(2e8a:0003 at port 1-1, 0483:df11 at port 1-3\); nothing was done; name one by its port, e\.g\. usb:1-1\."
expect_out "1-1: 0 sector erases, 0 pages written"
expect_out "1-3: 0 erases, 0 blocks written"

# --- the port picks one (no Klipper comes back from a bare ROM: exit 3, once
# --boot-timeout has passed) ----------------------------------------------------------
expect_rc 3 usbsim --port 1-1 --port 1-3 --flash-out "$T/flash" -- "$MCUFLASH" flash --boot-timeout 2 -f "$T/fw.uf2" usb:1-3
expect_out "In the RP2040 BOOTSEL 2e8a:0003 at port 1-3"
expect_out "read them back: identical"
expect_out "did not come back as Klipper \(usb:1-3 did not answer within 2 s of the new firmware being started\.\)"
expect_out "1-1: 0 sector erases, 0 pages written"
expect_out "1-3: exclusive, XIP exited, 8 sector erases, 128 pages written, 8 reads \(32768 bytes\); rebooted"

# --- the flash the first device ends with is the image: here none was written ----------
[ "$(head -c 32768 "$T/flash" | tr -d '\377' | wc -c)" = 0 ] && pass || fail "port 1-1 was written"

# --- a device node this user cannot write ------------------------------------------------
as_user=()
[ "$(id -u)" = 0 ] && as_user=(env HOME="$T" setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 755 "$T"
expect_rc 3 usbsim --read-only-node -- "${as_user[@]}" "$MCUFLASH" flash -f "$T/fw.uf2" usb:1-1
expect_out "The USB device 2e8a:0003 at port 1-1 cannot be opened: /dev/bus/usb/001/002 is not writable for this user\. Nothing was written; install mcuflash's udev rules \(/usr/lib/udev/rules\.d/60-mcuflash\.rules"
expect_out "1-1: 0 sector erases, 0 pages written"
finish
