#!/bin/bash
# --json in every command: one JSON object per line on stdout, each with an
# "event" named in one style (lower case and '_'), exactly one "result"
# event and it comes last, with "ok" matching the exit status, and every
# number rounded for people (no more than three decimals).
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_can.sh"
export HOME=$T XDG_CONFIG_HOME=$T

# json WANT CMD...: mcuflash CMD (with --json in it) exits WANT, and its
# output keeps the rules above; stdout is in $T/stdout.
json() {
    want=$1; shift
    "$MCUFLASH" "$@" >"$T/stdout" 2>"$T/stderr"; rc=$?
    [ "$rc" -eq "$want" ] && pass || { fail "exit $rc (wanted $want): $*"; cat "$T/stdout" "$T/stderr"; }
    [ -s "$T/stderr" ] && { fail "$*: wrote to stderr: $(cat "$T/stderr")"; } || pass
    python3 - "$T/stdout" "$rc" "$*" <<'PY' && pass || fail "$*: output breaks the --json rules"
import json, re, sys
path, rc, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lines = open(path).read().split("\n")
assert lines[-1] == "", "the output does not end with a newline"
objs = []
for line in lines[:-1]:
    try:
        o = json.loads(line)
    except ValueError:
        sys.exit("not one JSON object on this line: %r" % line[:200])
    if not isinstance(o, dict) or not isinstance(o.get("event"), str):
        sys.exit("not an event object: %r" % line[:200])
    if not re.fullmatch(r"[a-z]+(_[a-z]+)*", o["event"]):
        sys.exit("event name %r is not lower case with '_'" % o["event"])
    objs.append(o)
results = [o for o in objs if o["event"] == "result"]
if len(results) != 1 or objs[-1]["event"] != "result":
    sys.exit("%d result events, the last line is %r" % (len(results), objs[-1]["event"] if objs else None))
if objs[-1]["ok"] is not (rc == 0):
    sys.exit("result ok=%r but exit status %d" % (objs[-1]["ok"], rc))
def numbers(v):
    if isinstance(v, dict):
        for x in v.values(): yield from numbers(x)
    elif isinstance(v, list):
        for x in v: yield from numbers(x)
    elif isinstance(v, float):
        yield v
for o in objs:
    for x in numbers(o):
        if round(x, 3) != x:
            sys.exit("%r is not rounded for people to read: %r" % (x, o))
PY
}
last() { tail -n 1 "$T/stdout" | jq -e "$1" >/dev/null && pass || fail "result fails ($1): $(tail -n 1 "$T/stdout")"; }

MINI=btt-skr-mini-e3-v2
make_fw "$T/mini.bin" $MINI v2-mini
make_fw "$T/mini1.bin" $MINI v1-mini
new_card "$T/mini.img"
start_sim mini --board $MINI --card "$T/mini.img"

json 0 fwinfo --json "$T/mini.bin"
last '.file == "'"$T/mini.bin"'" and .dictionary.version == "v2-mini"'
# A file name that is not UTF-8 keeps its fields, with U+FFFD for the byte.
odd=$(printf '%s/x\377.bin' "$T")
cp "$T/mini.bin" "$odd"
json 0 fwinfo --json "$odd"
last '.file == "'"$T"'/x\ufffd.bin" and .sha1 != null'
json 6 flash --json -f "$(printf '%s/no\376.bin' "$T")" "$T/mini"
last '.error.code == 6 and (.error.message | test("no\ufffd.bin does not exist"))'
json 6 fwinfo --json "$T/missing.bin"
json 0 boards --json 'btt-skr-mini-e3*'
last '.boards | map(.aliases[]) | index("'$MINI'") != null'
json 0 boards show --json $MINI
last '.alias.name == "'$MINI'" and .board.mcu == "stm32f103xe"'
json 2 boards show --json no-such-board
json 0 info --json "$T/mini"
last '.mcu == "stm32f103xe"'
json 0 card ls --json "$T/mini" $MINI
last '.operation == "ls" and (.files | type == "array")'
json 0 card put --json "$T/mini" $MINI "$T/mini1.bin" old.bin
last '.operation == "put" and .path == "/old.bin" and .size > 0'
json 6 card put --json "$T/mini" $MINI "$T/missing.bin"
json 0 card get --json "$T/mini" $MINI old.bin -o "$T/back.bin"
last '.operation == "get" and .path == "/old.bin" and .local == "'"$T/back.bin"'"'
cmp -s "$T/back.bin" "$T/mini1.bin" && pass || fail "card get: not the file put"
json 0 card rm --json "$T/mini" $MINI old.bin
last '.operation == "rm" and .removed == ["/old.bin"]'
json 0 sdcard --json -f "$T/mini.bin" -d "$T/mini.bin.dict" "$T/mini" $MINI
last '.verdict == "flashed" and (.upload_seconds | type == "number")'
json 2 sdcard --json --frobnicate "$T/mini" $MINI
# A board whose card needs a power cycle, waited for in vain: the notes on
# the way are events too.
OCT=btt-octopus-f446-v1
make_fw "$T/oct.bin" $OCT v2-oct
new_card "$T/oct.img"
start_sim oct --board $OCT --card "$T/oct.img"
json 9 sdcard --json --wait=1 -f "$T/oct.bin" -d "$T/oct.bin.dict" "$T/oct" $OCT
jq -se 'map(.event) | index("power_cycle") != null' "$T/stdout" >/dev/null && pass || fail "no power_cycle event"

printf '[mcu]\nserial: %s\n' "$T/mini" >"$T/printer.cfg"
json 0 status --json --config "$T/printer.cfg" --klipper-dir "$T/none"
last '.mcus[0].name == "mcu" and .mcus[0].version == "v2-mini"'
json 0 update --json --config "$T/printer.cfg" --no-service --dry-run -f mcu="$T/mini1.bin"
jq -se 'map(.event) == ["plan", "result"]' "$T/stdout" >/dev/null && pass || fail "update --dry-run events: $(cat "$T/stdout")"

start_bus can0
start_can_board node can0 0a1b2c3d4e5f --mcu stm32g0b1xx
json 0 can scan --json --canbus-interface "sim:$T/can0"
last '.nodes == 1'
jq -se 'map(.event) == ["node", "result"]' "$T/stdout" >/dev/null && pass || fail "can scan events: $(cat "$T/stdout")"
finish
