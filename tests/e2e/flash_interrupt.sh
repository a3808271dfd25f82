#!/bin/bash
# Ctrl-C (SIGINT) or SIGTERM in the middle of a flash: the run stops at the
# next safe point, says what state the card and the board are in, and exits
# 130 or 143; the card's files are unchanged, and Katapult starts nothing.
. "$MF_TESTS/lib/e2e.sh"

MINI=btt-skr-mini-e3-v2
OCT=btt-octopus-f446-v1

# stop_during PHASE SIGNAL ARGS...: run mcuflash --json ARGS in the
# background, send SIGNAL once a progress event of PHASE (or an event of
# that name) came, and leave the exit status in $rc and the output in $OUT.
stop_during() {
    phase=$1 sig=$2; shift 2
    "$MCUFLASH" "$@" --json >"$T/out" 2>&1 &
    pid=$!
    for _ in $(seq 400); do
        grep -qE "\"(phase|event)\":\"$phase\"" "$T/out" && break
        sleep 0.05
    done
    kill "-$sig" "$pid"
    wait "$pid"; rc=$?
    OUT=$(cat "$T/out")
}

make_fw "$T/mini.bin" $MINI v2-mini --size 262144
new_card "$T/mini.img"
mcopy -i "$T/mini.img" "$T/mini.bin.dict" ::/keep.txt
start_sim mini --board $MINI --card "$T/mini.img" --timing realistic
before=$(root "$T/mini.img")
stop_during upload INT sdcard -f "$T/mini.bin" -d "$T/mini.bin.dict" "$T/mini" $MINI
[ "$rc" = 130 ] && pass || { fail "SIGINT during the upload: exit $rc"; echo "$OUT"; }
expect_out '"code":130,"message":"Interrupted: the card.s files are unchanged .*nothing was flashed'
wait_up mini
[ "$(root "$T/mini.img")" = "$before" ] && pass || fail "the card's files changed"
fsck_ok "$T/mini.img"
runs "$T/mini" v0.13.0-123-gabcdef12-sim

# Ctrl-C while the board restarts and its bootloader flashes the file
# (1.5 s and 2.6 s for 64 KiB): waiting is safe to end, so it ends at
# once, saying what to check later.
make_fw "$T/mini.bin" $MINI v2-mini --size 65536
stop_during reset INT sdcard -f "$T/mini.bin" -d "$T/mini.bin.dict" "$T/mini" $MINI
[ "$rc" = 130 ] && pass || { fail "SIGINT while the board restarts: exit $rc"; echo "$OUT"; }
expect_out '"code":130,"message":"Interrupted: the new firmware was written and started, but not yet verified; check it with .mcuflash sdcard -c '
wait_up mini
runs "$T/mini" v2-mini

make_fw "$T/oct.bin" $OCT v2-oct --app-address 0x08008000 --size 262144
start_sim oct --board $OCT --bootloader katapult --timing realistic
stop_during upload TERM flash -f "$T/oct.bin" -d "$T/oct.bin.dict" "$T/oct"
[ "$rc" = 143 ] && pass || { fail "SIGTERM during a Katapult write: exit $rc"; echo "$OUT"; }
expect_out 'Interrupted: nothing was started: the board waits in Katapult.*mcuflash flash -f'
[ "$(field oct .mode)" = katapult ] && [ "$(field oct .katapult.completes)" = 0 ] && pass ||
    fail "a stopped Katapult write was started"
# info on the board left waiting says where it is and how to go on.
expect_rc 4 "$MCUFLASH" info "$T/oct"
expect_out "$T/oct is waiting in the Katapult bootloader of a stm32f446xx, not running Klipper; nothing was changed; finish flashing it with 'mcuflash flash -f klipper.bin $T/oct'"
# The same command finishes it.
expect_rc 0 "$MCUFLASH" flash -f "$T/oct.bin" -d "$T/oct.bin.dict" "$T/oct"
runs "$T/oct" v2-oct
finish
