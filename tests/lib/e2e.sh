# Shared helpers for the end-to-end tests (sourced by tests/e2e/*.sh).
# Environment from CTest: MCUFLASH, MCUFLASH_SIM, MF_TESTS, MF_TMP.
set -u
: "${MCUFLASH:?}" "${MCUFLASH_SIM:?}" "${MF_TMP:?}"
mkdir -p "$MF_TMP"
T=$(mktemp -d "$MF_TMP/$(basename "$0" .sh).XXXXXX")
SIM_PIDS=""
declare -A SIM_PID
fails=0
passes=0

cleanup() {
    for p in $SIM_PIDS; do kill "$p" 2>/dev/null; done
    for p in $SIM_PIDS; do wait "$p" 2>/dev/null; done
    rm -rf "$T"
}
trap cleanup EXIT

# start_sim NAME ARGS...: run mcuflash-sim with --path $T/NAME and a control
# socket $T/NAME.ctl; wait for the link to appear.
start_sim() {
    name=$1; shift
    "$MCUFLASH_SIM" --path "$T/$name" --control "$T/$name.ctl" "$@" >"$T/$name.log" 2>&1 &
    SIM_PIDS="$SIM_PIDS $!"
    SIM_PID[$name]=$!
    for _ in $(seq 100); do
        [ -e "$T/$name" ] && [ -S "$T/$name.ctl" ] && return 0
        sleep 0.05
    done
    echo "virtual board $name did not start:"; cat "$T/$name.log"
    exit 1
}

sim_ctl() { "$MCUFLASH_SIM" ctl "$@"; }
# stop_sim NAME: stop a board started by start_sim and wait until it is gone
# (its card image written back).
stop_sim() {
    sim_ctl "$T/$1.ctl" quit >/dev/null || kill "${SIM_PID[$1]}"
    wait "${SIM_PID[$1]}" 2>/dev/null
    unset "SIM_PID[$1]"
}

pass() { passes=$((passes + 1)); }
fail() { fails=$((fails + 1)); echo "FAIL: $*"; }

# expect_rc WANT CMD...: run CMD, capture stdout+stderr in $OUT, check status.
expect_rc() {
    want=$1; shift
    OUT=$("$@" 2>&1); rc=$?
    if [ "$rc" -eq "$want" ]; then pass; else fail "exit $rc (wanted $want): $*"; echo "$OUT"; fi
}

# expect_out PATTERN: $OUT matches the extended regex.
expect_out() {
    if printf '%s\n' "$OUT" | grep -Eq -- "$1"; then pass; else fail "output lacks /$1/"; echo "$OUT"; fi
}
expect_no_out() {
    if printf '%s\n' "$OUT" | grep -Eq -- "$1"; then fail "output has /$1/"; echo "$OUT"; else pass; fi
}

# expect_in TEXT NEEDLE / expect_not_in TEXT NEEDLE: a fixed string in TEXT.
expect_in() {
    case "$1" in *"$2"*) pass ;; *) fail "expected '$2' in: $1" ;; esac
}
expect_not_in() {
    case "$1" in *"$2"*) fail "did not expect '$2' in: $1" ;; *) pass ;; esac
}

# background CMD...: run CMD in the background, its output in $T/bg.out,
# its pid in $BG.
background() {
    "$@" >"$T/bg.out" 2>&1 &
    BG=$!
}
# wait_text REGEX: the background run has printed REGEX (up to 30 s).
wait_text() {
    for _ in $(seq 300); do
        grep -Eq -- "$1" "$T/bg.out" && { pass; return 0; }
        kill -0 "$BG" 2>/dev/null || break
        sleep 0.1
    done
    fail "the background run did not print /$1/"; cat "$T/bg.out"
    return 1
}
# bg_end: wait (up to 60 s) for the background run to end by itself; its
# exit status goes to $rc and its output to $OUT.
bg_end() {
    for _ in $(seq 600); do kill -0 "$BG" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$BG" 2>/dev/null && { fail "the background run did not end"; kill "$BG"; }
    wait "$BG"; rc=$?
    OUT=$(cat "$T/bg.out")
}
# bg_rc WANT: the background run ends by itself with WANT.
bg_rc() {
    bg_end
    [ "$rc" -eq "$1" ] && pass || { fail "background run exit $rc (wanted $1)"; echo "$OUT"; }
}

# --- cards and boards ---------------------------------------------------------
# new_card IMG: an empty 64 MiB FAT32 card.
new_card() { truncate -s 64M "$1" && mkfs.fat -F 32 -n CARD "$1" >/dev/null || fail "mkfs.fat $1"; }
# make_fw OUT BOARD VERSION [ARGS...]: a firmware image and its OUT.dict.
make_fw() {
    out=$1 board=$2 version=$3; shift 3
    "$MCUFLASH_SIM" make-firmware --board "$board" --version-string "$version" -o "$out" \
        --dict-out "$out.dict" "$@" >/dev/null || fail "make-firmware $board $version"
}
# make_fw_mcu MCU VERSION OUT ARGS...: an image for an MCU type and OUT.dict.
make_fw_mcu() {
    "$MCUFLASH_SIM" make-firmware --mcu "$1" --version-string "$2" -o "$3" --dict-out "$3.dict" "${@:4}" \
        >/dev/null || fail "make-firmware $*"
}
img_sum() { sha1sum "$1" | cut -d' ' -f1; }
# fsck_ok IMG: fsck.fat -n finds nothing to fix.
fsck_ok() {
    if fsck.fat -n "$1" >"$T/fsck.out" 2>&1; then pass; else fail "fsck.fat -n $1"; cat "$T/fsck.out"; fi
}
# fsck_after_cut IMG: what a power cut between two sector writes may leave
# and nothing else (docs/fat.md, "Write order"): fsck.fat -n finds no fault,
# or only clusters no file references, FSInfo's free count left "unknown"
# (fsck.fat notes it), or a second FAT copy that differs from an intact
# first one; its repair fixes those without touching a file.
fsck_after_cut() {
    fsck.fat -n "$1" >"$T/fsck.out" 2>&1
    rc=$?
    other=$(grep -vE -e '^fsck\.fat [0-9.]+ |^Leaving filesystem unchanged\.$|: [0-9]+ files, [0-9]+/[0-9]+ clusters$|^$' \
        -e '^Reclaimed [0-9]+ unused clusters? \([0-9]+ bytes\)\.$|^Free cluster summary uninitialized \(should be [0-9]+\)$' \
        -e '^FATs differ but appear to be intact\.$|^  Using first FAT\.$' "$T/fsck.out")
    if [ -z "$other" ] && [ $rc -le 1 ]; then pass; return 0; fi
    fail "fsck.fat -n $(basename "$1") reports more than a power cut may leave:"; cat "$T/fsck.out"
    return 1
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
    if card_file_is "$1" "$2" "$3"; then pass; else fail "$2 on $(basename "$1") is not $3"; fi
}
# card_file_is IMG CARDNAME LOCAL: true if mtools reads back exactly LOCAL.
card_file_is() {
    rm -f "$T/back"
    mcopy -n -i "$1" "::$2" "$T/back" 2>/dev/null && cmp -s "$T/back" "$3"
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
# mode NAME: what runs on the board (klipper, katapult, dfu, ...).
mode() { field "$1" .mode; }
# kp NAME FIELD: a field of the board's Katapult status.
kp() { field "$1" ".katapult.$2"; }
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


# finish: the summary, and the exit status: a failure if any check failed
# or none ran.
finish() {
    echo "$(basename "$0" .sh): $passes passed, $fails failed"
    [ "$passes" -gt 0 ] || echo "$(basename "$0" .sh): no checks ran"
    [ "$fails" -eq 0 ] && [ "$passes" -gt 0 ]
}
