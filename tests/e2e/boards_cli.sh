#!/bin/bash
# mcuflash boards: listing, showing, unknown names, board files and their errors.
. "$MF_TESTS/lib/e2e.sh"
command -v jq >/dev/null || { echo "FAIL: this test needs jq (Debian package jq)" >&2; exit 1; }
dir=$T
mkdir -p "$dir/home"
# Only the built-in table and the files this test writes.
export HOME="$dir/home"
unset XDG_CONFIG_HOME
run() { # run ARGS... -> globals rc, out, err
    out=$("$MCUFLASH" boards "$@" 2>"$dir/stderr"); rc=$?
    err=$(cat "$dir/stderr")
}
rows() { printf '%s\n' "$out" | tail -n +2 | awk '{print $1}' | tr '\n' ' '; }

# --- list ---------------------------------------------------------------------
run
[ $rc -eq 0 ] || fail "list: exit $rc"
[ -z "$err" ] || fail "list: stderr: $err"
header=$(printf '%s\n' "$out" | head -1)
[ "$(echo $header)" = "NAME MCU BUS CARD ALIASES" ] || fail "list: header was: $header"
line=$(printf '%s\n' "$out" | grep '^generic-lpc1768 ')
[ "$(echo $line)" = "generic-lpc1768 lpc1768 ssp1 spi btt-skr-v1.1, btt-skr-v1.3, btt-skr-v1.4, mks-sbase, mks-sgenl-v1" ] \
    || fail "list: lpc1768 row was: $line"
line=$(printf '%s\n' "$out" | grep '^btt-skr2-f429 ')
[ "$(echo $line)" = "btt-skr2-f429 stm32f429xx swspi, sdio sdio btt-skr-2-f429" ] \
    || fail "list: SKR 2 row was: $line"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 33 ] || fail "list: expected a header and 32 boards"

run 'btt-skr2-*'
[ $rc -eq 0 ] || fail "glob: exit $rc"
[ "$(rows)" = "btt-skr2-f407 btt-skr2-f429 " ] || fail "glob: rows were: $(rows)"

run STM32F446
[ "$(rows)" = "btt-octopus-f446-v1 fysetc-s6 fysetc-spider " ] || fail "mcu pattern: rows were: $(rows)"

run octopus-pro
[ "$(rows)" = "btt-octopus-f429-v1 btt-octopus-f446-v1 btt-skr-3-h723 " ] \
    || fail "alias pattern: rows were: $(rows)"

run no-such-thing
[ $rc -eq 1 ] || fail "no match: exit $rc, expected 1"
[ -z "$out" ] || fail "no match: stdout: $out"
[ "$err" = "mcuflash: no board definition matches 'no-such-thing'; run 'mcuflash boards' for the list." ] \
    || fail "no match: stderr was: $err"

run --json no-such-thing
[ $rc -eq 1 ] && [ "$(jq -r '[.ok, .error.code] | join(" ")' <<<"$out")" = "false 1" ] && pass ||
    fail "no match --json: exit $rc, $out"

run --json 'fysetc-*'
[ $rc -eq 0 ] || fail "list --json: exit $rc"
[ "$(jq -r '[.boards[].name] | join(" ")' <<<"$out")" = "fysetc-cheetah fysetc-s6 fysetc-spider" ] \
    || fail "list --json: names in $out"
[ "$(jq -r '.boards[1] | [.name, .current_firmware_path, .cs_pin, .spi_bus, .card_access, (.aliases | length), .origin.text] | join(" ")' <<<"$out")" \
    = "fysetc-s6 OLD.BIN PA4 spi1 spi 2 built-in" ] || fail "list --json: s6 in $out"

# --- show ---------------------------------------------------------------------
run show btt-skr-v1.4
[ $rc -eq 0 ] || fail "show alias: exit $rc"
expect_in "$out" "# btt-skr-v1.4 is an alias of generic-lpc1768 (source: built-in)"
expect_in "$out" "# source: built-in"
expect_in "$out" "[board generic-lpc1768]"
expect_in "$out" $'\nmcu: lpc1768\nspi_bus: ssp1\n'
expect_in "$out" $'\ncs_pin: P0.6\n'
expect_in "$out" $'\nfirmware_path: firmware.bin\ncurrent_firmware_path: FIRMWARE.CUR\n'

run show --json BTT-SKR2-F407
[ $rc -eq 0 ] || fail "show --json: exit $rc"
[ "$(jq -r '.board | [.name, .mcu, (.spi_pins | join(",")), .cs_pin, .sdio_bus, .card_access, .skip_verify] | join(" ")' <<<"$out")" \
    = "btt-skr2-f407 stm32f407xx PC8,PD2,PC12 PC11 sdio sdio true" ] || fail "show --json: $out"
[ "$(jq -r '.alias' <<<"$out")" = null ] || fail "show --json: alias in $out"
run show --json creality-v4.2.7
[ "$(jq -r '[.alias.name, .board.name, .board.unique_name, .board.conversion] | join(" ")' <<<"$out")" \
    = "creality-v4.2.7 creality-v4.2.2 true none" ] || fail "show --json alias: $out"

# What show prints is a board file: renamed, it loads as an equal definition.
run show mks-robin-v12
sed 's/^\[board mks-robin-v12\]/[board my-nano]/' <<<"$out" >"$dir/copy.cfg"
run show --json --board-file "$dir/copy.cfg" my-nano
mine=$(jq -c '.board | del(.name, .origin, .aliases)' <<<"$out")
run show --json mks-robin-v12
orig=$(jq -c '.board | del(.name, .origin, .aliases)' <<<"$out")
[ -n "$mine" ] && [ "$mine" = "$orig" ] || fail "show round trip: $mine vs $orig"

# --- unknown names --------------------------------------------------------------
run show skr-1.3
[ $rc -eq 2 ] || fail "unknown name: exit $rc, expected 2"
[ -z "$out" ] || fail "unknown name: stdout: $out"
expect_in "$err" "mcuflash: No board named 'skr-1.3'; nothing was done; did you mean btt-skr-v1.3, "
expect_in "$err" "btt-skr-v1.4"
expect_in "$err" "? Run 'mcuflash boards' for the list."

run show --json qwertyuiop
[ $rc -eq 2 ] || fail "unknown name --json: exit $rc"
[ "$out" = '{"event":"result","ok":false,"error":{"code":2,"message":"No board named '"'qwertyuiop'"'; nothing was done; run '"'mcuflash boards'"' for the list."}}' ] \
    || fail "unknown name --json: stdout was: $out"

# --- board files ------------------------------------------------------------------
mkdir -p "$HOME/.config/mcuflash"
printf '# mine\n[board btt-gtr]\nmcu: stm32f407xx\nspi_bus: spi2\ncs_pin: PB12\n' \
    >"$HOME/.config/mcuflash/boards.cfg"
run show btt-gtr-v1
[ $rc -eq 0 ] || fail "user file: exit $rc: $err"
expect_in "$out" "# source: $HOME/.config/mcuflash/boards.cfg:2"
expect_in "$out" $'\ncs_pin: PB12\n'
expect_not_in "$out" "PA4"

printf '[board btt-gtr]\nmcu: stm32f407xx\nspi_bus: spi3\ncs_pin: PC9\n' >"$dir/later.cfg"
run show --board-file "$dir/later.cfg" btt-gtr
expect_in "$out" "# source: $dir/later.cfg:1"
expect_in "$out" $'\ncs_pin: PC9\n'

printf '[board x]\nmcu: stm32f407xx\ncs: PA4\n' >"$dir/bad.cfg"
run --board-file "$dir/bad.cfg"
[ $rc -eq 6 ] || fail "bad key: exit $rc, expected 6"
[ -z "$out" ] || fail "bad key: stdout: $out"
expect_in "$err" "mcuflash: $dir/bad.cfg:3: unknown key 'cs' in [board x]; nothing was done; use one of mcu, "

printf '[board x]\nmcu: stm32f407xx\nspi_bus: swspi\nspi_pins: PC8\ncs_pin: PC11\n' >"$dir/pins.cfg"
run show x --board-file "$dir/pins.cfg"
[ $rc -eq 6 ] || fail "swspi pins: exit $rc, expected 6"
expect_in "$err" "$dir/pins.cfg:1: [board x] uses spi_bus: swspi but gives 1 spi_pins;"

printf '[alias a]\nboard: b\n' >"$dir/alias.cfg"
run --json --board-file "$dir/alias.cfg"
[ $rc -eq 6 ] || fail "dangling alias: exit $rc, expected 6"
expect_in "$(jq -r .error.message <<<"$out")" "$dir/alias.cfg:1: [alias a] points to board 'b', which is not defined;"

run --board-file "$dir/none.cfg"
[ $rc -eq 6 ] || fail "missing file: exit $rc, expected 6"
[ "$err" = "mcuflash: The board file $dir/none.cfg does not exist; nothing was done; check the path." ] \
    || fail "missing file: stderr was: $err"

printf '[board x\n' >"$HOME/.config/mcuflash/boards.cfg"
run
[ $rc -eq 6 ] || fail "bad user file: exit $rc, expected 6"
expect_in "$err" "$HOME/.config/mcuflash/boards.cfg:1: the section header '[board x' lacks its closing ']'"

# --- usage ----------------------------------------------------------------------
run --help
[ $rc -eq 0 ] || fail "--help: exit $rc"
expect_in "$out" "usage: mcuflash boards [PATTERN]"
run --frobnicate
[ $rc -eq 2 ] || fail "bad option: exit $rc, expected 2"
expect_in "$err" "'--frobnicate' is not an option of 'mcuflash boards'; nothing was done; see 'mcuflash boards --help'."
run show
[ $rc -eq 2 ] || fail "show without name: exit $rc, expected 2"
run a b
[ $rc -eq 2 ] || fail "two patterns: exit $rc, expected 2"

finish
