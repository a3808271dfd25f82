#!/bin/bash
# The bash completion offers what the programs' --help lists: the commands,
# each command's options, board names from `mcuflash boards`, MCU types and
# control commands from `mcuflash-sim --help`; the zsh and fish completions
# offer what it offers.
. "$MF_TESTS/lib/e2e.sh"
PATH="$(dirname "$MCUFLASH"):$(dirname "$MCUFLASH_SIM"):$PATH"
export PATH
export HOME=$T XDG_CONFIG_HOME=$T
# shellcheck source=../../completion/mcuflash.bash
. "$MF_TESTS/../completion/mcuflash.bash"

# complete WORD...: the sorted offers for the last word of the command line.
complete_words() {
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMPREPLY=()
    _mcuflash
    printf '%s\n' "${COMPREPLY[@]}" | grep . | sort
}
# expect_offers WANT WORD...: the offers are exactly WANT (newline-separated).
expect_offers() {
    want=$(printf '%s\n' "$1" | grep . | sort); shift
    have=$(complete_words "$@")
    if [ "$have" = "$want" ]; then pass; else fail "completing '$*': offered [$(printf '%s ' $have)], wanted [$(printf '%s ' $want)]"; fi
}

commands=$(mcuflash --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { on = 0 }')
[ -n "$commands" ] || fail "mcuflash --help lists no commands"
expect_offers "$commands" mcuflash ""
expect_offers "sdcard" mcuflash sdc

for cmd in $commands; do
    long=$(mcuflash "$cmd" --help 2>&1 | grep -oE '(^|[][ (|,])--[a-z][a-z0-9-]*' | sed -E 's/^[][ (|,]//' | sort -u)
    expect_offers "$long" mcuflash "$cmd" --
done

# Board names and aliases, after DEVICE and after options with values.
skr2=$(mcuflash boards 'btt-skr2*' | awk 'NR > 1 { print $1 }')
[ "$(printf '%s\n' "$skr2" | grep -c .)" -eq 2 ] || fail "mcuflash boards 'btt-skr2*' listed: $skr2"
expect_offers "$skr2" mcuflash sdcard /dev/ttyX btt-skr2
expect_offers "$skr2" mcuflash sdcard -b 250000 -f fw.bin /dev/ttyX btt-skr2
expect_offers "$skr2" mcuflash sdcard -c -s --board-file my.cfg /dev/ttyX btt-skr2
expect_offers "btt-skr-2-f407
btt-skr-2-f429" mcuflash card ls /dev/ttyX btt-skr-2-f4
expect_offers "btt-skr-2-f407
btt-skr-2-f429" mcuflash card ls --fast-spi -o out.bin /dev/ttyX btt-skr-2-f4
expect_offers "--wait" mcuflash sdcard --wa
expect_offers "show" mcuflash boards sho
# Values of the options every command shares, and of --route and --scene.
expect_offers "--firmware" mcuflash update --fi
expect_offers "katapult" mcuflash flash --route k
expect_offers "picoboot" mcuflash flash --route p
expect_offers "boards
printer" mcuflash demo --scene ""
expect_offers "ls" mcuflash card l

# mcuflash-sim: options, MCU types, control commands.
expect_offers "$(mcuflash-sim --help | sed -n 's/^MCU types: //p' | tr -s ', ' '\n' | grep '^stm32f4')" \
    mcuflash-sim --path "$T/x" --mcu stm32f4
control=$(mcuflash-sim --help | sed -n 's/^Control commands: //p' | tr ',' '\n' | awk '{ print $1 }' | sort -u)
[ -n "$control" ] || fail "mcuflash-sim --help lists no control commands"
expect_offers "$control" mcuflash-sim ctl "$T/x.ctl" ""
expect_offers "ctl" mcuflash-sim ct
expect_offers "--canbus-frequency
--canbus-uuid
--card
--chip-id
--control" mcuflash-sim --path "$T/x" --c

# zsh and fish, with the bash completion of this tree in place of the
# installed one.  zsh's compadd is replaced by one that prints what it is given.
src=$MF_TESTS/../completion
for f in _mcuflash mcuflash.fish; do
    sed "s|@MCUFLASH_BASH_COMPLETION@|$src/mcuflash.bash|" "$src/$f.in" >"$T/$f"
done
# shell_offers SHELL WORD...: what SHELL's completion offers for the last WORD.
shell_offers() {
    sh=$1; shift
    case "$sh" in
        zsh) zsh -f -c 'compadd() { [[ $1 == -f ]] && shift; [[ $1 == -a ]] && print -l -- ${(P)2}; }
                        functions[_mcuflash]=$(<"$1"); shift
                        words=("$@"); CURRENT=$#; _mcuflash' _ "$T/_mcuflash" "$@" ;;
        fish) fish --no-config -c 'source $argv[1]; complete -C (string join " " -- (string escape -- $argv[2..-1]))' \
                  "$T/mcuflash.fish" "$@" ;;
    esac
}
for sh in zsh fish; do
    command -v $sh >/dev/null || { fail "$sh is not installed (Debian package $sh)"; continue; }
    for line in "mcuflash sd" "mcuflash sdcard /dev/ttyX btt-skr2" "mcuflash-sim --mcu stm32f4" "mcuflash sdcard --wa"; do
        # shellcheck disable=SC2086
        want=$(complete_words $line)
        # shellcheck disable=SC2086
        have=$(shell_offers $sh $line | cut -f1 | sort)
        if [ -n "$want" ] && [ "$have" = "$want" ]; then pass; else
            fail "$sh completing '$line': offered [$(printf '%s ' $have)], bash offers [$(printf '%s ' $want)]"
        fi
    done
done
finish
