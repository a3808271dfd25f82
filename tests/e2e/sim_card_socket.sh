#!/bin/bash
# The virtual board's card socket commands (card remove, insert,
# write-protect), as its status and `mcuflash card ls` see them.
. "$MF_TESTS/lib/e2e.sh"

new_card "$T/c.img"
printf 'hello\n' >"$T/hello.txt"
mcopy -i "$T/c.img" "$T/hello.txt" ::HELLO.TXT
start_sim c --board btt-skr-mini-e3-v2 --card "$T/c.img"
ls_card() { expect_rc "$1" "$MCUFLASH" card ls "$T/c" btt-skr-mini-e3-v2; }
[ "$(field c .card_present)/$(field c .card_write_protected)" = true/false ] && pass || fail "fresh card status"
ls_card 0
expect_out 'HELLO.TXT'
expect_no_out 'write-protected'
# mcuflash resets the board when done and returns once it is back: the
# next command finds it up, not in the middle of its reset.
[ "$(field c '[.state, .link_up, .counters.resets]' | tr -d ' \n')" = '["running",true,1]' ] && pass ||
    fail "after card ls the board is $(field c '[.state, .link_up, .counters.resets]' | tr -d ' \n')"

expect_rc 0 sim_ctl "$T/c.ctl" card remove
[ "$(field c .card_present)" = false ] && pass || fail "card_present after remove"
ls_card 7
expect_out 'No SD card answers'
expect_rc 1 sim_ctl "$T/c.ctl" card remove
expect_out '^error: the card is already out'
# The bootloader finds no card either.
expect_rc 0 sim_ctl "$T/c.ctl" reset
wait_up c
got=$(field c .bootloader.result)
printf '%s\n' "$got" | grep -q '^card not readable' && pass || fail "bootloader with no card: $got"
expect_rc 0 sim_ctl "$T/c.ctl" card insert
expect_rc 1 sim_ctl "$T/c.ctl" card insert
expect_out '^error: the card is already in'
ls_card 0
expect_out 'HELLO.TXT'

expect_rc 0 sim_ctl "$T/c.ctl" card write-protect on
[ "$(field c .card_write_protected)" = true ] && pass || fail "card_write_protected after on"
ls_card 0
expect_out 'write-protected'
before=$(img_sum "$T/c.img")
expect_rc 7 "$MCUFLASH" card put "$T/c" btt-skr-mini-e3-v2 "$T/hello.txt" NEW.TXT
expect_out 'write-protected'
[ "$(img_sum "$T/c.img")" = "$before" ] && pass || fail "a write-protected card changed"
expect_rc 0 sim_ctl "$T/c.ctl" card write-protect off
expect_rc 0 "$MCUFLASH" card put "$T/c" btt-skr-mini-e3-v2 "$T/hello.txt" NEW.TXT
same_file "$T/c.img" NEW.TXT "$T/hello.txt"
fsck_ok "$T/c.img"

expect_rc 1 sim_ctl "$T/c.ctl" card frob
expect_out 'card takes remove, insert, or write-protect on\|off'
start_sim nocard --mcu stm32f407xx
expect_rc 1 sim_ctl "$T/nocard.ctl" card remove
expect_out 'without --card'

finish
