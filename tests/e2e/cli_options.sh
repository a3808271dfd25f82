#!/bin/bash
# One command line: a shared option has the same short and long name in every
# command that takes it, both spellings are accepted, and an option error is
# one line ("mcuflash: ..." pointing to that command's --help), never the
# usage dump; with --json it is one result object on stdout.
. "$MF_TESTS/lib/e2e.sh"
export HOME=$T XDG_CONFIG_HOME=$T

commands=$("$MCUFLASH" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
[ "$(printf '%s\n' "$commands" | grep -c .)" -ge 8 ] || fail "mcuflash --help lists too few commands: $commands"
# The command words as typed: 'can' has its one subcommand.
words() { [ "$1" = can ] && echo "can scan" || echo "$1"; }

for cmd in $commands; do
    w=$(words "$cmd")
    # shellcheck disable=SC2086  # the command words are meant to be split
    for bad in --frobnicate -Z; do
        OUT=$("$MCUFLASH" $w $bad 2>&1); rc=$?
        [ "$rc" -eq 2 ] && pass || fail "mcuflash $w $bad: exit $rc, wanted 2"
        [ "$(printf '%s\n' "$OUT" | grep -c .)" -eq 1 ] && pass || fail "mcuflash $w $bad: not one line: $OUT"
        expect_out "^mcuflash: '$bad' is not an option of 'mcuflash $w'; nothing was done; see 'mcuflash $w --help'\.$"
    done
    # shellcheck disable=SC2086
    help=$("$MCUFLASH" $w --help); rc=$?
    [ "$rc" -eq 0 ] && pass || fail "mcuflash $w --help: exit $rc"
    # `mcuflash help CMD` is `mcuflash CMD --help`.
    [ "$("$MCUFLASH" help "$cmd")" = "$("$MCUFLASH" "$cmd" --help)" ] && pass || fail "mcuflash help $cmd differs from --help"
    # A shared option shows both of its names on its line of the option table.
    for pair in -b:--baud -s:--fast-spi -f:--firmware -d:--dict -c:--check -h:--help; do
        short=${pair%%:*} long=${pair#*:}
        table=$(printf '%s\n' "$help" | grep -E "^ +(-[a-z], )?--?[a-z]" | grep -E -- "(^| )($short|$long)[ ,]")
        [ -z "$table" ] && continue
        if printf '%s\n' "$table" | grep -qE -- "^ +$short, $long( |$)"; then pass; else
            fail "mcuflash $w --help: '$table' should read '$short, $long'"
        fi
    done
    # A value left off names the option as typed.
    if printf '%s\n' "$help" | grep -q -- '--board-file'; then
        # shellcheck disable=SC2086
        OUT=$("$MCUFLASH" $w --board-file 2>&1); rc=$?
        [ "$rc" -eq 2 ] && pass || fail "mcuflash $w --board-file: exit $rc"
        expect_out "^mcuflash: --board-file needs a value; nothing was done; see 'mcuflash $w --help'\.$"
    fi
    # With --json the error is one result object on stdout, nothing on stderr.
    if printf '%s\n' "$help" | grep -q -- '--json'; then
        # shellcheck disable=SC2086
        out=$("$MCUFLASH" $w --json --frobnicate 2>"$T/err"); rc=$?
        [ "$rc" -eq 2 ] && pass || fail "mcuflash $w --json --frobnicate: exit $rc"
        [ -s "$T/err" ] && fail "mcuflash $w --json --frobnicate wrote to stderr: $(cat "$T/err")" || pass
        echo "$out" | python3 -c '
import json, sys
lines = sys.stdin.read().splitlines()
assert len(lines) == 1, lines
o = json.loads(lines[0])
assert o["event"] == "result" and o["ok"] is False and o["error"]["code"] == 2, o
assert "is not an option" in o["error"]["message"], o' && pass || fail "mcuflash $w --json --frobnicate: $out"
    fi
done

# An unknown command, also after help: one line, exit 2.
for words in "frobnicate" "help frobnicate"; do
    # shellcheck disable=SC2086
    OUT=$("$MCUFLASH" $words 2>&1); rc=$?
    [ "$rc" -eq 2 ] && pass || fail "mcuflash $words: exit $rc, wanted 2"
    expect_out "^mcuflash: 'frobnicate' is not a command; nothing was done; run 'mcuflash --help' for the list\.$"
done
# A typo of a command: the command meant is named.
for pair in flsh:flash stauts:status sdcrad:sdcard boardz:boards; do
    OUT=$("$MCUFLASH" "${pair%%:*}" 2>&1); rc=$?
    [ "$rc" -eq 2 ] && pass || fail "mcuflash ${pair%%:*}: exit $rc, wanted 2"
    expect_out "^mcuflash: '${pair%%:*}' is not a command; nothing was done; did you mean '${pair##*:}'\?"
done
OUT=$("$MCUFLASH" help --help 2>&1); rc=$?
[ "$rc" -eq 0 ] && pass || fail "mcuflash help --help: exit $rc"
expect_out "^usage: mcuflash COMMAND"

# Every command that reads board definitions takes --board-file; every one
# that looks up an MCU name of printer.cfg takes --config.
for cmd in flash sdcard card info fwinfo boards status update; do
    "$MCUFLASH" "$cmd" --help | grep -q -- '--board-file FILE' && pass || fail "mcuflash $cmd lacks --board-file FILE"
done
for cmd in flash info status update; do
    "$MCUFLASH" "$cmd" --help | grep -q -- '--config FILE' && pass || fail "mcuflash $cmd lacks --config FILE"
done

# Both spellings of a shared option are the same option.
for spelled in "-b x" "--baud x" "--baud=x"; do
    name=${spelled%% *}; name=${name%%=*}
    # shellcheck disable=SC2086
    for cmd in "flash" "sdcard" "card ls" "info"; do
        OUT=$("$MCUFLASH" $cmd $spelled dev board 2>&1); rc=$?
        [ "$rc" -eq 2 ] && pass || fail "mcuflash $cmd $spelled: exit $rc"
        expect_out "^mcuflash: $name needs a whole number from 1 to [0-9]+, not 'x'; nothing was done; see 'mcuflash ${cmd%% *} --help'\.$"
    done
done
# --boot-timeout takes whole seconds, on the commands that start new firmware.
for cmd in flash sdcard; do
    expect_rc 2 "$MCUFLASH" "$cmd" --boot-timeout soon dev board
    expect_out "^mcuflash: --boot-timeout needs a whole number from 1 to 3600, not 'soon'; nothing was done; see 'mcuflash $cmd --help'\.$"
    "$MCUFLASH" "$cmd" --help | grep -q -- '--boot-timeout SECONDS' && pass || fail "mcuflash $cmd lacks --boot-timeout"
    expect_rc 2 "$MCUFLASH" "$cmd" --boot-timeout 0 dev board
    expect_out "^mcuflash: --boot-timeout needs a whole number from 1 to 3600, not '0'; nothing was done; see 'mcuflash $cmd --help'\.$"
    expect_rc 2 "$MCUFLASH" "$cmd" --boot-timeout -1 dev board
    expect_out "^mcuflash: --boot-timeout needs a whole number from 1 to 3600, not '-1'"
done
printf 'not a firmware image' >"$T/fw.bin"
for f in -f --firmware; do
    expect_rc 6 "$MCUFLASH" sdcard "$f" "$T/missing.bin" "$T/nodev" btt-skr-mini-e3-v2
    expect_out "missing\.bin"
done
expect_rc 2 "$MCUFLASH" update --config "$T/none.cfg" --firmware
expect_out "^mcuflash: --firmware needs a value; nothing was done; see 'mcuflash update --help'\.$"
expect_rc 2 "$MCUFLASH" flash --json=yes
expect_out "^mcuflash: --json takes no value; nothing was done; see 'mcuflash flash --help'\.$"
finish
