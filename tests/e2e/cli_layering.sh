#!/bin/bash
# Only the command line names its options: no string in the layers below
# src/cli spells an option of mcuflash (they report facts; cli/ adds the
# advice in its own terms).  The options are those the commands' --help list.
. "$MF_TESTS/lib/e2e.sh"
src=$MF_TESTS/../src

commands=$("$MCUFLASH" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
longs=$(for c in $commands; do [ "$c" = can ] && c="can scan"; "$MCUFLASH" $c --help; done |
        grep -oE -- '--[a-z][a-z-]+' | sort -u | paste -sd'|')
[ "$(printf '%s' "$longs" | tr '|' '\n' | grep -c .)" -ge 20 ] || fail "too few options found: $longs"
shorts=$(for c in $commands; do [ "$c" = can ] && c="can scan"; "$MCUFLASH" $c --help; done |
         grep -oE -- '^ +-[a-zA-Z],' | tr -dc 'a-zA-Z\n' | sort -u | paste -sd'|')
[ -n "$shorts" ] || fail "no short options found"

# The string literals of the C files below the command line, one a line,
# with their place.
literals() {
    find "$src" -name '*.c' ! -path "$src/cli/*" -print0 | xargs -0 grep -nHoE '"([^"\\]|\\.)*"'
}
long_hits=$(literals | grep -E -- "(^|[^a-z-])($longs)([^a-z-]|$)")
if [ -z "$long_hits" ]; then pass; else fail "long options spelled below the command line:"; echo "$long_hits"; fi
# A short option as advice spells it: "-c", "(-d)", "give -f", "mcuflash sdcard -c".
short_hits=$(literals | grep -E -- "(mcuflash [a-z]+[^\"]* |'|\(|(with|give|use|out|add|pass|run) )-($shorts)([ ').,;]|\"|$)")
if [ -z "$short_hits" ]; then pass; else fail "short options spelled below the command line:"; echo "$short_hits"; fi
finish
