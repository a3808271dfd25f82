#!/bin/bash
# Messages a new user meets, each pointing to the right fix: a missing local
# file for 'card put' is not called firmware; the wrong one of two
# definitions of a board (F429 for an F407) blames the definition; a card
# whose filesystem is marked unclean exits 8 (filesystem), not 7 (card); a
# write-protected card is not to be unlocked with a switch; a user's
# definition that drives an STM32's SDIO slot by software SPI is told, after
# exit 9, that the slot is an SDIO slot and what flashes it on a warm reset.
. "$MF_TESTS/lib/e2e.sh"
export HOME=$T XDG_CONFIG_HOME=$T

F407=btt-skr2-f407
make_fw "$T/f407.bin" $F407 v2-f407
new_card "$T/f407.img"
start_sim f407 --board $F407 --card "$T/f407.img"

# card put of a local file that is not there.
expect_rc 6 "$MCUFLASH" card put "$T/f407" $F407 "$T/notes.txt"
expect_out "^mcuflash: Cannot read $T/notes.txt: No such file or directory; nothing was put on the card; check the path\.$"
# (the words, not parts of the temporary directory's path)
expect_no_out '[Ff]irmware|(^| )-f( |$)|\bmake\b'

# The F429 definition picked for an F407 board, with an F407 build.
for cmd in "sdcard -f $T/f407.bin $T/f407 btt-skr2-f429" "flash --board btt-skr2-f429 -f $T/f407.bin $T/f407"; do
    # shellcheck disable=SC2086  # the words are meant to be split
    expect_rc 5 "$MCUFLASH" $cmd
    expect_out "The board at $T/f407 has a stm32f407xx, but board definition btt-skr2-f429 is for a stm32f429xx; nothing was changed; the definition is the wrong one: pick btt-skr2-f407 and try again\."
    expect_no_out 'rebuild|menuconfig'
done
files "$T/f407.img"

# A user's definition on the SDIO slot's pins, by software SPI: exit 9, and
# the way to a warm-reset flash.
cat >"$T/my.cfg" <<'CFG'
[board my-skr2]
mcu: stm32f407xx
spi_bus: swspi
spi_pins: PC8, PD2, PC12
cs_pin: PC11
CFG
expect_rc 9 "$MCUFLASH" sdcard --board-file "$T/my.cfg" -f "$T/f407.bin" "$T/f407" my-skr2
expect_last "^mcuflash: my-skr2 drives the card by software SPI on PC8, PD2, PC12, PC11: that is the stm32f407xx's SDIO slot, and its bootloader most likely reads it in SD mode; the built-in .*btt-skr2-f407 \(or 'card_access: sdio' in $T/my.cfg\) flashes it on a warm reset\. The bootloader did not take the file"
power_cycle f407
# The same definition with card_access: sdio flashes on a warm reset, and
# the built-in one gets no such note.
make_fw "$T/f407-3.bin" $F407 v3-f407
printf 'card_access: sdio\nsdio_bus: sdio\n' >>"$T/my.cfg"
flash 0 f407 my-skr2 "$T/f407-3.bin" --board-file "$T/my.cfg"
runs "$T/f407" v3-f407

# A filesystem marked as not cleanly removed: the documented code 8, with
# the repair, for a flash and for card put; nothing is written.
MINI=btt-skr-mini-e3-v2
make_fw "$T/mini.bin" $MINI v2-mini
new_card "$T/dirty.img"
printf '\001' | dd of="$T/dirty.img" bs=1 seek=65 conv=notrunc 2>/dev/null
start_sim dirty --board $MINI --card "$T/dirty.img"
before=$(img_sum "$T/dirty.img")
expect_rc 8 "$MCUFLASH" sdcard -f "$T/mini.bin" "$T/dirty" $MINI
expect_last "marked as not cleanly removed .*; nothing was changed; check and repair it with fsck\.fat -a"
expect_no_out 'write-protected'
expect_rc 8 "$MCUFLASH" card put "$T/dirty" $MINI "$T/mini.bin"
expect_out 'not cleanly removed'
[ "$(img_sum "$T/dirty.img")" = "$before" ] && pass || fail "the unclean card was written"

# A write-protected card: its own protection, no switch to slide.
sim_ctl "$T/dirty.ctl" card write-protect on >/dev/null
expect_rc 7 "$MCUFLASH" card rm "$T/dirty" $MINI NOTHING.TXT
expect_out 'write-protected by its own CSD register \(temporarily\); nothing was written; no lock switch is involved \(microSD cards have none'
expect_no_out 'slide|unlock'

# Advice that names an option comes from the command line, for the fact a
# lower layer found: no printer.cfg at its usual places.
expect_rc 6 "$MCUFLASH" status
expect_out "^mcuflash: There is no printer\.cfg in $T/printer_data/config or $T; nothing was done; give the printer's printer.cfg with --config FILE\.$"
finish
