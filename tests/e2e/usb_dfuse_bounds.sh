#!/bin/bash
# The STM32 ROM writes wherever it is told, over the board's own bootloader
# too, so the DfuSe route writes nothing below where that bootloader ends:
# on a board whose variants start the application at different addresses,
# nothing below the largest; on a board whose definition gives none,
# nothing at all; never from inside a page, whose erase would take the
# bytes below the image with it.  And an erase whose answer was lost
# counts as done: the board stays in DFU instead of being started.
. "$MF_TESTS/lib/e2e.sh"

usbsim() { "$MCUFLASH_SIM" usb --mcu stm32f407xx "$@"; }
cat >"$T/boards.cfg" <<'EOF'
[board two-variants]
mcu: stm32f407xx
spi_bus: spi1
cs_pin: PA4
application_address: 0x08008000, 0x08010000
dfu: 0483:df11

[board no-address]
mcu: stm32f407xx
spi_bus: spi1
cs_pin: PA4
dfu: 0483:df11

[board mid-page]
mcu: stm32f407xx
spi_bus: spi1
cs_pin: PA4
application_address: 0x08020200
dfu: 0483:df11
EOF
flash=("$MCUFLASH" flash --board-file "$T/boards.cfg" --boot-timeout 1)

make_fw "$T/low.bin" two-variants v-low --board-file "$T/boards.cfg" --app-address 0x08008000
make_fw "$T/high.bin" two-variants v-high --board-file "$T/boards.cfg" --app-address 0x08010000

# --- two variants: the lower address is refused, the higher written -----------------
expect_rc 5 usbsim -- "${flash[@]}" --board two-variants -f "$T/low.bin" usb:1-1
expect_out "Board two-variants starts the application at 0x08008000, 0x08010000 depending on the variant, so writing at 0x08008000 through the ROM would overwrite the bootloader of a variant whose bootloader ends at 0x08010000; nothing was written"
expect_out "1-1: 0 erases, 0 blocks written"
expect_rc 3 usbsim -- "${flash[@]}" --board two-variants -f "$T/high.bin" usb:1-1
expect_out "read them back: identical"
expect_out "left DFU to 0x08010000"

# --- no address known: nothing is written; without a definition the image decides ----
expect_rc 5 usbsim -- "${flash[@]}" --board no-address -f "$T/low.bin" usb:1-1
expect_out "Board no-address keeps a bootloader at the start of its flash, and its definition does not say where that ends, so writing at 0x08008000 through the ROM could overwrite it; nothing was written"
expect_out "1-1: 0 erases, 0 blocks written"
expect_rc 3 usbsim -- "${flash[@]}" -f "$T/low.bin" usb:1-1
expect_out "left DFU to 0x08008000"

# --- an image that starts inside a 128 KiB sector ------------------------------------
make_fw "$T/mid.bin" mid-page v-mid --board-file "$T/boards.cfg"
expect_rc 5 usbsim -- "${flash[@]}" --board mid-page -f "$T/mid.bin" usb:1-1
expect_out "goes to 0x08020200, inside the device's 131072-byte page at 0x08020000, and erasing that page would erase the 512 bytes below the image too; nothing was written"
expect_out "1-1: 0 erases, 0 blocks written"

# --- the first erase's answer is lost: the board stays in DFU -------------------------
expect_rc 4 usbsim --lose-erase-answer -- "${flash[@]}" --board two-variants -f "$T/high.bin" usb:1-1
expect_out "did not answer after erasing a page"
expect_out "The board stays in its DFU bootloader with an incomplete image; run 'mcuflash flash --board-file $T/boards.cfg --board two-variants -f $T/high.bin usb:1-1' again"
expect_out "1-1: 1 erases, 0 blocks written \(0 bytes\), 0 blocks read; still in DFU"
expect_no_out "starting the firmware the board had"
finish
