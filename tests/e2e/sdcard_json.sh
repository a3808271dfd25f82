#!/bin/bash
# mcuflash sdcard --json: one JSON object per line on stdout, nothing on
# stderr, the last line the result ("event":"result", "ok", the verdict and,
# on failure, the error's code and message), with the exit status unchanged.
. "$MF_TESTS/lib/e2e.sh"

MINI=btt-skr-mini-e3-v2
OCT=btt-octopus-f446-v1
make_fw "$T/mini.bin" $MINI v2-mini
make_fw "$T/oct.bin" $OCT v2-oct
new_card "$T/mini.img"
new_card "$T/oct.img"
start_sim mini --board $MINI --card "$T/mini.img"
start_sim oct --board $OCT --card "$T/oct.img"

# json WANT ARGS...: mcuflash sdcard --json ARGS exits WANT; stdout is in
# $OUT and every line of it is a JSON object with an "event"; stderr is empty.
json() {
    want=$1; shift
    "$MCUFLASH" sdcard --json "$@" >"$T/stdout" 2>"$T/stderr"; rc=$?
    OUT=$(cat "$T/stdout")
    [ "$rc" -eq "$want" ] && pass || { fail "exit $rc (wanted $want): --json $*"; echo "$OUT"; }
    [ -s "$T/stderr" ] && { fail "--json wrote to stderr:"; cat "$T/stderr"; } || pass
    [ -n "$OUT" ] || { fail "--json printed nothing"; return; }
    bad=0
    while IFS= read -r line; do
        printf '%s' "$line" | jq -e 'type == "object" and (.event | type == "string")' >/dev/null 2>&1 ||
            { bad=1; echo "not an event object: $line"; }
    done <"$T/stdout"
    [ "$bad" = 0 ] && pass || fail "--json lines"
}
# result JQ: the last line is the result and JQ holds for it.
result() {
    last=$(tail -n 1 "$T/stdout")
    printf '%s' "$last" | jq -e ".event == \"result\" and ($1)" >/dev/null 2>&1 && pass ||
        fail "result line fails ($1): $last"
}
# events JQ: JQ holds for the array of all lines.
events() { jq -se "$1" "$T/stdout" >/dev/null 2>&1 && pass || fail "events fail ($1)"; }

# Flashed.
json 0 -f "$T/mini.bin" -d "$T/mini.bin.dict" "$T/mini" $MINI
result '.ok == true and .verdict == "flashed" and .version_after == "v2-mini" and .file == "firmware.bin"
        and .bytes == 32768 and (.bus | test("hardware SPI spi1")) and (.card | test("SanDisk"))
        and (has("error") | not)'
events 'map(.event) | index("connected") < index("uploaded") and index("uploaded") < index("reset")
        and index("reset") < index("verified")'
events 'map(select(.event == "progress" and .phase == "upload")) | last | .done == .total and .total == 32768'
runs "$T/mini" v2-mini
# Checked only.
json 0 -c -f "$T/mini.bin" -d "$T/mini.bin.dict" "$T/mini" $MINI
result '.ok == true and .verdict == "flashed" and .version_after == "v2-mini"'
events 'map(select(.event == "uploaded")) | length == 0'

# Uploaded, but the card needs a power cycle: exit 9.
json 9 -f "$T/oct.bin" -d "$T/oct.bin.dict" "$T/oct" $OCT
result '.ok == false and .verdict == "not-flashed" and .error.code == 9 and .file == "firmware.bin"
        and (.error.message | test("Switch the board off")) and (.bus | test("software SPI"))'
files "$T/oct.img" firmware.bin
# Refused before anything was written: nothing was flashed.
json 6 -f "$T/missing.bin" "$T/mini" $MINI
result '.ok == false and .verdict == "not-flashed" and .error.code == 6
        and (.error.message | test("does not exist; nothing was changed"))'
sim_ctl "$T/mini.ctl" card remove >/dev/null
json 7 -f "$T/mini.bin" "$T/mini" $MINI
result '.ok == false and .verdict == "not-flashed" and .error.code == 7 and (.error.message | test("No SD card"))'
events 'map(.event) | index("connected") != null'
sim_ctl "$T/mini.ctl" card insert >/dev/null

# A usage error is still one JSON object on stdout, with the code.
"$MCUFLASH" sdcard --json -b abc -f "$T/mini.bin" "$T/mini" $MINI >"$T/stdout" 2>"$T/stderr"
[ $? -eq 2 ] && pass || fail "-b abc with --json: not exit 2"
[ "$(wc -l <"$T/stdout")" = 1 ] && jq -e '.error.code == 2 and (.error.message | test("-b needs"))' "$T/stdout" \
    >/dev/null && pass || { fail "-b abc with --json:"; cat "$T/stdout" "$T/stderr"; }

finish
