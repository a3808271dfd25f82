#!/bin/bash
# mcuflash sdcard on boards whose bootloader reads the card in SD mode while
# the firmware reaches it only by software SPI: the card stays in SPI mode
# until it loses power, so a reset cannot flash.  Without --wait mcuflash
# says to power-cycle and verify with -c; with --wait it waits for the power
# cycle and verifies on its own; a --wait that runs out ends in exit 9 with
# the right advice.
. "$MF_TESTS/lib/e2e.sh"

S3=btt-skr-3-h723
EZ=btt-octopus-max-ez
STOCK=v0.13.0-123-gabcdef12-sim
new_card "$T/s3.img"
new_card "$T/ez.img"
for v in v2 v3 v4; do make_fw "$T/s3-$v.bin" $S3 "$v-s3" --seed "${v#v}"; done
make_fw "$T/ez.bin" $EZ v2-ez --link uart:250000
start_sim s3 --board $S3 --card "$T/s3.img"
start_sim ez --board $EZ --link uart:250000 --card "$T/ez.img"

# power_advice NAME BOARD: the exit-9 advice for a card left in SPI mode.
power_advice() {
    expect_last "^mcuflash: The firmware is on the card as firmware.bin, but this board's bootloader reads the card in SD mode"
    expect_out 'the card stays in SPI mode until it loses power, so a reset cannot flash it'
    expect_out 'Switch the board off, wait a few seconds and switch it on'
    expect_out "then run 'mcuflash sdcard -c -f [^ ]+\\.bin -d [^ ]+\\.bin\\.dict $T/$1 $2' to verify"
}
# pending NAME FW VERSION: the board still runs VERSION and FW waits on the card.
pending() {
    runs "$T/$1" "$3"
    files "$T/$1.img" firmware.bin
    same_file "$T/$1.img" firmware.bin "$2"
    fsck_ok "$T/$1.img"
}
# done_ok NAME FW VERSION: the board runs VERSION, flashed from FW.
done_ok() {
    runs "$T/$1" "$3"
    files "$T/$1.img" FIRMWARE.CUR
    same_file "$T/$1.img" FIRMWARE.CUR "$2"
    fsck_ok "$T/$1.img"
}
# check_only NAME BOARD FW WANT: mcuflash sdcard -c, options after the operands.
check_only() { expect_rc "$4" "$MCUFLASH" sdcard -c "$T/$1" "$2" -f "$3" -d "$3.dict"; }
# background_flash NAME BOARD FW ARGS...: mcuflash sdcard in the background.
background_flash() {
    n=$1 b=$2 fw=$3; shift 3
    background "$MCUFLASH" sdcard -f "$fw" -d "$fw.dict" "$@" "$T/$n" "$b"
}

# --- Without --wait: exit 9, power-cycle, then -c verifies -----------------------------
flash 9 s3 $S3 "$T/s3-v2.bin"
expect_out 'over software SPI \(MISO PC8, MOSI PD2, SCLK PC12, CS PC11\)'
power_advice s3 $S3
expect_out 'or use --wait to have mcuflash wait for the power cycle'
pending s3 "$T/s3-v2.bin" $STOCK
[ "$(field s3 .card_spi_mode)" = true ] && pass || fail "the card is not left in SPI mode"
# A -c before the power cycle finds the file still waiting, and says so again.
check_only s3 $S3 "$T/s3-v2.bin" 9
power_advice s3 $S3
pending s3 "$T/s3-v2.bin" $STOCK
# -c with another build than the one on the card: no power cycle makes the
# board run it, and the message says that build was never put on the card.
check_only s3 $S3 "$T/s3-v3.bin" 9
expect_last "The board runs $STOCK, and firmware.bin on the card is another build than $T/s3-v3.bin, so that image was never put on the card; run 'mcuflash sdcard -f $T/s3-v3.bin -d $T/s3-v3.bin.dict $T/s3 $S3' to flash it\.$"
pending s3 "$T/s3-v2.bin" $STOCK
power_cycle s3
check_only s3 $S3 "$T/s3-v2.bin" 0
expect_last '^Verified: the board runs v2-s3, the build given\.$'
done_ok s3 "$T/s3-v2.bin" v2-s3

# --- --wait (300 s by default): power-cycled once the message is out -----------------
cycles=$(field s3 .counters.power_cycles)
background_flash s3 $S3 "$T/s3-v3.bin" --wait
wait_text 'Switch the board off, wait a few seconds and switch it on again; waiting up to 300 s' &&
    sim_ctl "$T/s3.ctl" power-cycle >/dev/null
bg_rc 0
expect_out 'The board runs the new firmware \(v3-s3\)'
expect_last '^Flashed: the board now runs v3-s3\.$'
[ "$(field s3 .counters.power_cycles)" = $((cycles + 1)) ] && pass || fail "not one power cycle"
done_ok s3 "$T/s3-v3.bin" v3-s3

# --- --wait=2 and nobody switches the board off ----------------------------------------
flash 9 s3 $S3 "$T/s3-v4.bin" --wait=2
expect_out 'waiting up to 2 s'
expect_last "^mcuflash: The board was not power-cycled within 2 s; the firmware file stays on the card and will be flashed at the next power-on; verify then with 'mcuflash sdcard -c -f $T/s3-v4\\.bin -d $T/s3-v4\\.bin\\.dict $T/s3 $S3'\\.\$"
pending s3 "$T/s3-v4.bin" v3-s3
# As promised, the next power-on flashes it.
power_cycle s3
check_only s3 $S3 "$T/s3-v4.bin" 0
done_ok s3 "$T/s3-v4.bin" v4-s3

# --- A UART board: the same advice, and -c after the power cycle ---------------------
flash 9 ez $EZ "$T/ez.bin"
expect_out 'over software SPI \(MISO PE13, MOSI PE14, SCLK PE12, CS PB12\)'
power_advice ez $EZ
pending ez "$T/ez.bin" $STOCK
power_cycle ez
check_only ez $EZ "$T/ez.bin" 0
expect_last '^Verified: the board runs v2-ez, the build given\.$'
done_ok ez "$T/ez.bin" v2-ez

# --- --wait, and the reset button pressed instead of the power switch -------------------
# A warm reset restarts the board, but the card stays in SPI mode: mcuflash
# notices the restart (its uptime starts over) and ends with the advice.
make_fw "$T/ez3.bin" $EZ v3-ez --link uart:250000
background_flash ez $EZ "$T/ez3.bin" --wait=30
if wait_text 'waiting up to 30 s'; then
    sleep 1 # mcuflash reads the board's uptime before the reset
    sim_ctl "$T/ez.ctl" reset >/dev/null
fi
bg_rc 9
expect_out 'this board.s bootloader reads the card in SD mode'
expect_no_out 'or use --wait'
pending ez "$T/ez3.bin" v2-ez

finish
