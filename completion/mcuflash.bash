# bash completion for mcuflash and mcuflash-sim.
#
# Commands and options are read from the programs' own --help output, so the
# completion never falls behind them.  Board names come from `mcuflash boards`,
# devices from /dev/serial/by-id and the usual serial ports.

# shellcheck disable=SC2207  # compgen's words are meant to be split

# _mcuflash_reply WORDS: offer those of WORDS that start with the current word.
_mcuflash_reply()
{
    COMPREPLY=($(compgen -W "$1" -- "${COMP_WORDS[COMP_CWORD]}"))
}

_mcuflash_files()
{
    COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
}

# _mcuflash_options CMD...: the option names that "CMD... --help" shows.
_mcuflash_options()
{
    "$@" --help 2>/dev/null |
        grep -oE '(^|[][ (|,])--?[A-Za-z0-9][A-Za-z0-9-]*' |
        sed -E 's/^[][ (|,]//' | sort -u
}

# _mcuflash_value_options CMD...: the options of "CMD... --help" that take a
# value word: shown with one in its usage lines ([-b BAUD], --timing none|...)
# or with a placeholder such as BAUD or FILE in its option table.
_mcuflash_value_options()
{
    "$@" --help 2>/dev/null | awk '
        function valued(text, re) {
            while (match(text, re)) {
                piece = substr(text, RSTART, RLENGTH)
                match(piece, /--?[A-Za-z0-9][A-Za-z0-9-]*/)
                print substr(piece, RSTART, RLENGTH)
                text = substr(text, RSTART + length(piece))
            }
        }
        /^usage:/ { usage = 1 }
        /^$/ { usage = 0 }
        usage { valued($0, "(^|[[(| ])--?[A-Za-z0-9][A-Za-z0-9-]* [^][(|) -]"); next }
        /^ +-/ {
            spec = $0; sub(/^ +/, "", spec); sub(/  .*/, "", spec)
            n = split(spec, w, /[ ,]+/)
            if (w[n] ~ /^[A-Z]/)
                for (i = 1; i < n; i++) if (w[i] ~ /^-/) print w[i]
        }' | sort -u
}

# _mcuflash_commands PROG: the commands listed under "commands:" in PROG --help.
_mcuflash_commands()
{
    "$1" --help 2>/dev/null | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } on && /^$/ { on = 0 }'
}

# _mcuflash_control_commands SIM: the first words of the control commands that
# "SIM --help" lists.
_mcuflash_control_commands()
{
    "$1" --help 2>/dev/null | sed -n 's/^Control commands: //p' | tr ',' '\n' | awk '{ print $1 }' | sort -u
}

# _mcuflash_boards PROG: board names and aliases.
_mcuflash_boards()
{
    "$1" boards --json 2>/dev/null | tr -d '\n' |
        grep -oE '"name": *"[^"]*"|"aliases": *\[[^]]*\]' |
        grep -oE '"[^"]*"' | tr -d '"' | grep -vxE 'name|aliases'
}

_mcuflash_devices()
{
    local d
    for d in /dev/serial/by-id/* /dev/ttyACM* /dev/ttyUSB* /dev/ttyAMA* /dev/ttyS[0-9]; do
        [ -e "$d" ] && printf '%s\n' "$d"
    done
}

# _mcuflash_value PROG OPTION: complete the value of OPTION; 1 if it takes none.
_mcuflash_value()
{
    local prog=$1 opt=$2
    case "$opt" in
        --board-file|-f|--firmware|-d|--dict|-o|--output|--dict-out|--card|--flash-state|--control|--path|--sim|\
        --config|--settings)
            _mcuflash_files ;;
        --klipper-dir)
            COMPREPLY=($(compgen -d -- "${COMP_WORDS[COMP_CWORD]}")) ;;
        --route)
            _mcuflash_reply "sdcard katapult dfu picoboot" ;;
        --scene)
            _mcuflash_reply "boards printer" ;;
        --canbus-interface)
            _mcuflash_reply "$(ls /sys/class/net 2>/dev/null | grep -E '^v?can')" ;;
        --board)
            _mcuflash_reply "$(_mcuflash_boards mcuflash)" ;;
        --mcu)
            _mcuflash_reply "$("$prog" --help 2>/dev/null | sed -n 's/^MCU types: //p' | tr -d ,)" ;;
        --link)
            _mcuflash_reply "usb uart:250000 uart:115200" ;;
        --timing)
            _mcuflash_reply "none realistic" ;;
        -b|--baud)
            _mcuflash_reply "250000 115200 230400 500000 1000000" ;;
        --spi-bus|--spi-pins|--cs-pin|--sdio-bus|--faults|--version-string|--size|--seed|--canbus-uuid|\
        --service)
            COMPREPLY=() ;;
        *)
            return 1 ;;
    esac
    return 0
}

_mcuflash()
{
    local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
    [ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    # The command: the first word after the program that is not an option.
    local i cmd="" cmd_at=0
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; cmd_at=$i; break ;;
        esac
    done

    # mcuflash-sim runs a board unless its first word is ctl or make-firmware.
    if [ "${prog##*/}" = mcuflash-sim ]; then
        [ "$cmd_at" -eq 1 ] && { [ "$cmd" = ctl ] || [ "$cmd" = make-firmware ]; } || cmd=""
        if [ -z "$cmd" ]; then
            _mcuflash_value "$prog" "$prev" && return 0
            if [ "$COMP_CWORD" -eq 1 ] && [[ "$cur" != -* ]]; then
                _mcuflash_reply "ctl make-firmware"
            else
                _mcuflash_reply "$(_mcuflash_options "$prog")"
            fi
            return 0
        fi
    elif [ -z "$cmd" ]; then
        if [[ "$cur" == -* ]]; then
            _mcuflash_reply "$(_mcuflash_options "$prog") --version"
        else
            _mcuflash_reply "$(_mcuflash_commands "$prog")"
        fi
        return 0
    fi

    _mcuflash_value "$prog" "$prev" && return 0
    if [[ "$cur" == -* ]]; then
        local opts
        opts=$(_mcuflash_options "$prog" "$cmd")
        [ -n "$opts" ] || opts=$(_mcuflash_options "$prog")
        _mcuflash_reply "$opts"
        return 0
    fi

    # Arguments: count the words after the command that are not options or
    # option values, to tell DEVICE from BOARD.
    local n=0 w valued
    valued=" $(_mcuflash_value_options "$prog" "$cmd" | tr '\n' ' ') "
    for ((i = cmd_at + 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        case "$w" in
            -*) case "$valued" in *" $w "*) i=$((i + 1)) ;; esac ;;
            *) n=$((n + 1)) ;;
        esac
    done
    case "$cmd" in
        sdcard) [ $n -eq 0 ] && _mcuflash_reply "$(_mcuflash_devices)"
                [ $n -eq 1 ] && _mcuflash_reply "$(_mcuflash_boards "$prog")" ;;
        info|flash) _mcuflash_reply "$(_mcuflash_devices)" ;;
        fwinfo) _mcuflash_files ;;
        boards) [ $n -eq 0 ] && _mcuflash_reply "show $(_mcuflash_boards "$prog")"
                [ $n -eq 1 ] && _mcuflash_reply "$(_mcuflash_boards "$prog")" ;;
        card)   case $n in
                    0) _mcuflash_reply "ls get put rm" ;;
                    1) _mcuflash_reply "$(_mcuflash_devices)" ;;
                    2) _mcuflash_reply "$(_mcuflash_boards "$prog")" ;;
                    *) _mcuflash_files ;;
                esac ;;
        help)   [ $n -eq 0 ] && _mcuflash_reply "$(_mcuflash_commands "$prog")" ;;
        ctl)    [ $n -eq 0 ] && _mcuflash_files
                [ $n -eq 1 ] && _mcuflash_reply "$(_mcuflash_control_commands "$prog")" ;;
        *)      _mcuflash_files ;;
    esac
    return 0
}

complete -F _mcuflash mcuflash mcuflash-sim

# Run as a script, "bash mcuflash.bash WORD...", print the offers for the last
# WORD, one per line: the zsh and fish completions ask this way.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    COMP_WORDS=("$@")
    COMP_CWORD=$(($# - 1))
    _mcuflash
    [ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}"
fi
