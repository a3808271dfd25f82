# Shared helpers for the end-to-end tests (sourced by tests/e2e/*.sh).
# Environment from CTest: MCUFLASH, MCUFLASH_SIM, MF_TESTS, MF_TMP.
set -u
: "${MCUFLASH:?}" "${MCUFLASH_SIM:?}" "${MF_TMP:?}"
mkdir -p "$MF_TMP"
T=$(mktemp -d "$MF_TMP/$(basename "$0" .sh).XXXXXX")
SIM_PIDS=""
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
    for _ in $(seq 100); do
        [ -e "$T/$name" ] && [ -S "$T/$name.ctl" ] && return 0
        sleep 0.05
    done
    echo "virtual board $name did not start:"; cat "$T/$name.log"
    exit 1
}

sim_ctl() { "$MCUFLASH_SIM" ctl "$@"; }

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

finish() {
    echo "$(basename "$0" .sh): $passes passed, $fails failed"
    [ "$fails" -eq 0 ]
}
