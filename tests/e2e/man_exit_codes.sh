#!/bin/bash
# The exit-code tables of README.md and mcuflash(1) list exactly the codes the
# program returns: every value of enum mf_code (src/util/err.h), plus 130 and
# 143 for a run stopped by SIGINT or SIGTERM.
. "$MF_TESTS/lib/e2e.sh"
root=$MF_TESTS/..

codes=$( { awk '/^enum mf_code/ { on = 1 } on && /^}/ { on = 0 } on' "$root/src/util/err.h" |
             grep -oE '= *[0-9]+' | tr -dc '0-9\n'; printf '130\n143\n'; } | sort -un)
[ "$(printf '%s\n' "$codes" | grep -c .)" -ge 11 ] || fail "found too few codes in src/util/err.h: $codes"

# The README's table: the rows under "## Exit codes" whose first cell is a number.
readme=$(awk '/^## / { on = ($0 == "## Exit codes") } on' "$root/README.md" |
         sed -nE 's/^\| *([0-9]+) *\|.*/\1/p' | sort -un)
if [ "$readme" = "$codes" ]; then pass; else
    fail "README.md exit codes [$(echo $readme)] differ from the program's [$(echo $codes)]"
fi

# mcuflash(1): the bold numbers that head the entries of EXIT STATUS.
man_dir=$(dirname "$MCUFLASH")/man
[ -f "$man_dir/mcuflash.1" ] || { man_dir=$T; scdoc <"$root/man/mcuflash.1.scd" >"$T/mcuflash.1"; }
man=$(awk '/^\.SH / { on = ($0 == ".SH EXIT STATUS") ; next } on && prev ~ /^\\fB[0-9]+\\fR$/ && /^\.RS/ { print prev }
           { prev = $0 }' "$man_dir/mcuflash.1" | tr -dc '0-9\n' | sort -un)
if [ "$man" = "$codes" ]; then pass; else
    fail "mcuflash(1) exit codes [$(echo $man)] differ from the program's [$(echo $codes)]"
fi
finish
