#!/bin/bash
# Helpers for the end-to-end tests of `mcuflash sdcard` (sourced by
# tests/e2e/sdcard_*.sh).  Run on its own it tests what they stand on: the
# virtual board's card socket commands (card remove, insert, write-protect),
# as its status and `mcuflash card ls` see them.
. "$MF_TESTS/lib/e2e.sh"

# new_card IMG: an empty 64 MiB FAT32 card.
new_card() { truncate -s 64M "$1" && mkfs.fat -F 32 -n CARD "$1" >/dev/null || fail "mkfs.fat $1"; }
# make_fw OUT BOARD VERSION [ARGS...]: a firmware image and its OUT.dict.
make_fw() {
    out=$1 board=$2 version=$3; shift 3
    "$MCUFLASH_SIM" make-firmware --board "$board" --version-string "$version" -o "$out" \
        --dict-out "$out.dict" "$@" >/dev/null || fail "make-firmware $board $version"
}
img_sum() { sha1sum "$1" | cut -d' ' -f1; }
# fsck_ok IMG: fsck.fat -n finds nothing to fix.
fsck_ok() {
    if fsck.fat -n "$1" >"$T/fsck.out" 2>&1; then pass; else fail "fsck.fat -n $1"; cat "$T/fsck.out"; fi
}
# root IMG: the root folder's names, one a line, sorted.
root() { mdir -b -i "$1" :: 2>/dev/null | sed 's|^::/||' | LC_ALL=C sort; }
# files IMG NAME...: the root holds exactly these names, in any order.
files() {
    got=$(root "$1")
    img=$1; shift
    wanted=$([ $# -eq 0 ] || printf '%s\n' "$@" | LC_ALL=C sort)
    [ "$got" = "$wanted" ] && pass || fail "$(basename "$img") holds [${got//$'\n'/|}], wanted [${wanted//$'\n'/|}]"
}
# same_file IMG CARDNAME LOCAL: mtools reads back exactly LOCAL.
same_file() {
    rm -f "$T/back"
    if mcopy -n -i "$1" "::$2" "$T/back" 2>/dev/null && cmp -s "$T/back" "$3"; then pass
    else fail "$2 on $(basename "$1") is not $3"; fi
}
# expect_last REGEX: the last line of $OUT (the verdict) matches.
expect_last() {
    last=$(printf '%s\n' "$OUT" | tail -n 1)
    printf '%s\n' "$last" | grep -Eq -- "$1" && pass || { fail "last line lacks /$1/"; echo "$OUT"; }
}
# runs DEVICE VERSION: mcuflash info says the board runs exactly VERSION.
runs() {
    info=$("$MCUFLASH" info "$1" 2>&1)
    printf '%s\n' "$info" | grep -Eq "^Version: +$2\$" && pass || { fail "$1 does not run $2"; echo "$info"; }
}
# field NAME JQ: a field of the virtual board's status.
field() { sim_ctl "$T/$1.ctl" status | jq -r "$2"; }
# wait_up NAME: the board is running and its device is there.
wait_up() {
    for _ in $(seq 200); do
        [ "$(field "$1" .state)" = running ] && [ -e "$T/$1" ] && return 0
        sleep 0.05
    done
    fail "$1 did not come back"
}
# power_cycle NAME: switch the board off and on, and wait for it.
power_cycle() { sim_ctl "$T/$1.ctl" power-cycle >/dev/null || fail "power-cycle $1"; wait_up "$1"; }
# flash WANT NAME BOARD FW [ARGS...]: mcuflash sdcard with FW and FW.dict on
# the board started as NAME; wants exit status WANT.
flash() {
    want=$1 name=$2 board=$3 fw=$4; shift 4
    expect_rc "$want" "$MCUFLASH" sdcard -f "$fw" -d "$fw.dict" "$@" "$T/$name" "$board"
}
# unchanged_after IMG WANT CMD...: CMD exits WANT and IMG stays byte-identical.
unchanged_after() {
    img=$1 want=$2; shift 2
    before=$(img_sum "$img")
    expect_rc "$want" "$@"
    [ "$(img_sum "$img")" = "$before" ] && pass || fail "$(basename "$img") changed by: $*"
}

# --- run on its own: the card socket commands --------------------------------------
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

new_card "$T/c.img"
printf 'hello\n' >"$T/hello.txt"
mcopy -i "$T/c.img" "$T/hello.txt" ::HELLO.TXT
start_sim c --board btt-skr-mini-e3-v2 --card "$T/c.img"
ls_card() { expect_rc "$1" "$MCUFLASH" card ls "$T/c" btt-skr-mini-e3-v2; }
[ "$(field c .card_present)/$(field c .card_write_protected)" = true/false ] && pass || fail "fresh card status"
ls_card 0
expect_out 'HELLO.TXT'
expect_no_out 'write-protected'

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
