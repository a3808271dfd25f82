#!/bin/bash
# Finding the DFU device for mcuflash flash when it is already in its
# bootloader: two candidates for usb:VID:PID are refused with their ports
# and neither is touched; naming a port picks that one; a device node that
# is not writable for the user is named, with the udev rules as the fix,
# before anything is written.
. "$MF_TESTS/lib/e2e.sh"

PRO=btt-skr-pro
usbsim() { "$MCUFLASH_SIM" usb --mcu stm32f407xx "$@"; }
make_fw "$T/fw.bin" $PRO v-devices

# --- two devices, no port ---------------------------------------------------------
expect_rc 2 usbsim --port 1-1 --port 1-3 -- "$MCUFLASH" flash --board $PRO -f "$T/fw.bin" usb:0483:df11
expect_out "2 DFU devices are on USB \(0483:df11 at port 1-1, 0483:df11 at port 1-3\); nothing was done; name one by its port, e\.g\. usb:1-1\."
expect_out "1-1: 0 erases, 0 blocks written"
expect_out "1-3: 0 erases, 0 blocks written"

# --- the port picks one (no Klipper comes back from a lone ROM: exit 3, once
# --boot-timeout has passed) ------------------------------------------------------
expect_rc 3 usbsim --port 1-1 --port 1-3 -- "$MCUFLASH" flash --board $PRO --boot-timeout 2 -f "$T/fw.bin" usb:1-3
expect_out "In the STM32 ROM DfuSe 0483:df11 at port 1-3"
expect_out "read them back: identical"
expect_out "did not come back as Klipper \(usb:1-3 did not answer within 2 s of the new firmware being started\.\)"
expect_out "1-1: 0 erases, 0 blocks written"
expect_out "1-3: 2 erases, 32 blocks written \(32768 bytes\), 32 blocks read; left DFU to 0x08008000"

# --- a device node this user cannot write ------------------------------------------
# As root, run mcuflash as nobody: root may write any file.
as_user=()
[ "$(id -u)" = 0 ] && as_user=(env HOME="$T" setpriv --reuid=65534 --regid=65534 --clear-groups)
chmod 755 "$T"
expect_rc 3 usbsim --read-only-node -- "${as_user[@]}" "$MCUFLASH" flash --board $PRO -f "$T/fw.bin" usb:1-1
expect_out "The USB device 0483:df11 at port 1-1 cannot be opened: /dev/bus/usb/001/002 is not writable for this user\. Nothing was written; install mcuflash's udev rules \(/usr/lib/udev/rules\.d/60-mcuflash\.rules"
expect_out "1-1: 0 erases, 0 blocks written"
finish
