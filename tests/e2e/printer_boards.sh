#!/bin/bash
# Board identification: mcuflash info names the board definitions of the
# MCU a board reports; a family name a user would type (skr2, btt-skr-2)
# resolves to the one definition whose MCU is the connected board's, and
# where that leaves none or several, the message lists them.
. "$MF_TESTS/lib/e2e.sh"
new_card "$T/f429.img"
start_sim f429 --board btt-skr2-f429 --card "$T/f429.img"
start_sim f446 --mcu stm32f446xx

expect_rc 0 "$MCUFLASH" info "$T/f429"
expect_out "^Boards: +.*btt-skr2-f429"
expect_no_out "^Boards: .*btt-skr2-f407"
"$MCUFLASH" info --json "$T/f429" | jq -e '.boards | index("btt-skr2-f429") != null' >/dev/null && pass ||
    fail "info --json boards"

# -c changes nothing; the route names the definition the family resolved to.
make_fw "$T/v2.bin" btt-skr2-f429 v2-skr2
for name in skr2 btt-skr-2 SKR_2; do
    expect_rc 9 "$MCUFLASH" flash -c --board "$name" -f "$T/v2.bin" "$T/f429"
    expect_out "^Board '$name' taken as btt-skr2-f429, the definition of that name for the MCU the board reports\.$"
    expect_out "^Route: sdcard \(board btt-skr2-f429 has its SD card wired to the MCU\)"
done
# A board whose MCU no SKR 2 has: both are listed with their MCUs.
expect_rc 5 "$MCUFLASH" flash -c --board skr2 -f "$T/v2.bin" "$T/f446"
expect_out "No board definition called like 'skr2' has the MCU the board reports \(stm32f446xx\); the definitions of that name are btt-skr2-f407 \(stm32f407xx\), btt-skr2-f429 \(stm32f429xx\)"
# A name of no family: the database's suggestions, as before; so is a
# letter or a piece of a word, which once picked any definition holding it.
expect_rc 2 "$MCUFLASH" flash -c --board skr9000x -f "$T/v2.bin" "$T/f429"
for name in z f42 kr2; do
    expect_rc 2 "$MCUFLASH" flash -c --board "$name" -f "$T/v2.bin" "$T/f429"
    expect_out "No board named '$name'"
done
finish
