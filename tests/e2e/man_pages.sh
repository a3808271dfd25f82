#!/bin/bash
# The man pages match the programs: every command that `mcuflash --help` lists
# has a section in mcuflash(1) whose options are exactly those of its --help;
# mcuflash-sim(1) documents exactly the options and every control command of
# `mcuflash-sim --help`; boards.cfg(5) documents every key a definition has.
. "$MF_TESTS/lib/e2e.sh"
src=$MF_TESTS/../man

# The pages the build generated beside the programs, or, in a build without
# them, pages generated here from the same sources.
man_dir=$(dirname "$MCUFLASH")/man
if [ ! -f "$man_dir/mcuflash.1" ]; then
    command -v scdoc >/dev/null || { fail "no generated man pages and no scdoc (Debian package scdoc)"; finish; exit; }
    man_dir=$T/man
    mkdir -p "$man_dir"
    for s in "$src"/*.scd; do scdoc <"$s" >"$man_dir/$(basename "$s" .scd)"; done
fi

# help_options CMD...: the option names "CMD... --help" shows, one per line:
# those in its usage lines and those that start a line of its option table.
help_options() {
    "$@" --help 2>&1 | awk '
        /^usage:/ { usage = 1 }
        /^$/ { usage = 0 }
        usage { print; next }
        /^ +-/ { sub(/^ +/, ""); sub(/  .*/, ""); print }' |
        grep -oE '(^|[][ (|,])--?[A-Za-z0-9][A-Za-z0-9-]*' | sed -E 's/^[][ (|,]//' | sort -u
}

# man_section PAGE SH [SS]: the roff of section SH (and subsection SS) of PAGE.
man_section() {
    awk -v sh="$2" -v ss="${3:-}" '
        /^\.SH / { in_sh = (substr($0, 5) == sh); in_ss = (ss == ""); next }
        /^\.SS / { if (ss != "") in_ss = (substr($0, 5) == ss); next }
        in_sh && in_ss' "$man_dir/$1"
}

# defined_terms: the bold words of the definition lines (those an indented
# paragraph follows) of the roff on stdin, one per line.
defined_terms() {
    awk 'prev != "" && /^\.RS/ { print prev } { prev = $0 }' |
        grep -oE '\\fB[^\\]+\\fR' | sed -E 's/^\\fB//; s/\\fR$//' | sort -u
}

# same_set WHAT HAVE WANT: the two newline-separated lists hold the same items.
same_set() {
    missing=$(comm -13 <(printf '%s\n' "$2" | sort -u) <(printf '%s\n' "$3" | sort -u) | tr '\n' ' ')
    extra=$(comm -23 <(printf '%s\n' "$2" | sort -u) <(printf '%s\n' "$3" | sort -u) | tr '\n' ' ')
    if [ -z "$missing$extra" ]; then pass; else
        fail "$1: missing from the man page: [${missing% }]; in the man page only: [${extra% }]"
    fi
}

# --- mcuflash(1): one section per command, with that command's options ------
commands=$("$MCUFLASH" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
[ "$(printf '%s\n' "$commands" | grep -c .)" -ge 6 ] || fail "mcuflash --help lists too few commands: $commands"
sections=$(grep '^\.SS ' "$man_dir/mcuflash.1" | cut -c5-)
same_set "mcuflash(1) command sections" "$sections" "$commands"
for cmd in $commands; do
    opts=$(man_section mcuflash.1 COMMANDS "$cmd" | defined_terms | grep -- '^-')
    same_set "mcuflash(1) section $cmd vs 'mcuflash $cmd --help'" "$opts" "$(help_options "$MCUFLASH" "$cmd")"
done

# --- mcuflash-sim(1) ----------------------------------------------------------
sim_man_opts=$(defined_terms <"$man_dir/mcuflash-sim.1" | grep -- '^-')
same_set "mcuflash-sim(1) options vs 'mcuflash-sim --help'" "$sim_man_opts" "$(help_options "$MCUFLASH_SIM")"
control=$("$MCUFLASH_SIM" --help 2>&1 | sed -n 's/^Control commands: //p' | tr ',' '\n' | awk '{ print $1 }' | sort -u)
[ "$(printf '%s\n' "$control" | grep -c .)" -ge 10 ] || fail "mcuflash-sim --help lists too few control commands: $control"
# The command a definition line starts with (its first bold word).
documented=$(man_section mcuflash-sim.1 "CONTROL COMMANDS" | awk 'prev != "" && /^\.RS/ { print prev } { prev = $0 }' |
    grep -oE '^\\fB[^\\]+\\fR' | sed -E 's/^\\fB//; s/\\fR$//' | awk '{ print $1 }' | sort -u)
same_set "mcuflash-sim(1) control commands vs 'mcuflash-sim --help'" "$documented" "$control"

# --- boards.cfg(5): every key of a definition ----------------------------------
keys=$(HOME=$T XDG_CONFIG_HOME=$T "$MCUFLASH" boards show btt-skr2-f407 | sed -nE 's/^([a-z_]+):.*/\1/p')
[ "$(printf '%s\n' "$keys" | grep -c .)" -ge 10 ] || fail "mcuflash boards show printed too few keys: $keys"
same_set "boards.cfg(5) keys vs 'mcuflash boards show'" "$(man_section boards.cfg.5 KEYS | defined_terms)" "$keys"

# Each page renders without a warning from man's formatter.
for page in mcuflash.1 mcuflash-sim.1 boards.cfg.5; do
    warnings=$(groff -man -Tutf8 -ww -z "$man_dir/$page" 2>&1)
    if [ -z "$warnings" ]; then pass; else fail "$page: groff warns: $warnings"; fi
done
finish
