#!/bin/bash
# The Klipper service stopped and started through Moonraker's API when
# Moonraker answers and manages the unit (a stand-in, mcuflash-sim
# moonraker, records every request; the recording systemctl on PATH shows
# it was not used); one that does not manage the unit, or `moonraker:
# none`, leaves it to systemctl; a stop that leaves Klipper running is
# refused before anything is flashed.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
# One board is enough: a UART board with Katapult, Klipper's service running.
start_sim uart --mcu $EBB --link uart:250000 --bootloader katapult
mkdir -p "$T/cfg"
printf '[mcu uartboard]\nserial: %s\nbaud: 250000\n' "$T/uart" >"$T/cfg/printer.cfg"
CFG=$T/cfg/printer.cfg
fake_systemctl active
for v in v2 v3; do make_fw_mcu $EBB $v-uart "$T/uart-$v.bin" --app-address 0x08002000 --link uart:250000; done
version() { sim_ctl "$T/uart.ctl" status | jq -r .version; }
# start_moonraker ARGS...: the stand-in on a free port ($MR, its address).
start_moonraker() {
    rm -f "$T/mr.port"; : >"$T/mr.log"
    "$MCUFLASH_SIM" moonraker --port-file "$T/mr.port" --log "$T/mr.log" "$@" >"$T/mr.out" 2>&1 &
    mr_pid=$!
    SIM_PIDS="$SIM_PIDS $mr_pid"
    for _ in $(seq 100); do [ -s "$T/mr.port" ] && break; sleep 0.05; done
    MR="http://127.0.0.1:$(cat "$T/mr.port")"
}
stop_moonraker() { kill "$mr_pid"; wait "$mr_pid" 2>/dev/null; }
settings() {
    printf '[mcuflash]\nklipper_service: %s\nmoonraker: %s\n[mcu uartboard]\nfirmware: %s\n' "$1" "$2" "$3" \
        >"$T/cfg/mcuflash.cfg"
}
mr_calls() { paste -sd'|' "$T/mr.log"; }

start_moonraker
settings klipper "$MR" "$T/uart-v2.bin"
expect_rc 0 "$MCUFLASH" update --config "$CFG" uartboard
expect_out "^Stopping the klipper service through Moonraker\.$"
expect_out "^Starting the klipper service again through Moonraker\.$"
expect_out "^uartboard +v0\.13\.0-123-gabcdef12-sim +v2-uart +flashed$"
[ "$(version)" = v2-uart ] && pass || fail "not flashed through Katapult"
[ "$(mr_calls)" = "GET /machine/system_info|GET /machine/system_info|POST /machine/services/stop?service=klipper|GET /machine/system_info|GET /machine/system_info|GET /machine/system_info|POST /machine/services/start?service=klipper" ] &&
    pass || fail "Moonraker requests: $(mr_calls)"
[ ! -s "$T/systemctl.log" ] && pass || fail "systemctl was used: $(systemctl_calls)"
stop_moonraker

# Moonraker answers the stop when systemd has queued it; Klipper takes a
# second to exit ("deactivating"): mcuflash waits for that, then flashes.
start_moonraker --stop-delay 1000
settings klipper "$MR" "$T/uart-v3.bin"
expect_rc 0 "$MCUFLASH" update --config "$CFG" uartboard
[ "$(version)" = v3-uart ] && pass || fail "not flashed after a slow stop"
polls=$(sed -n '/^POST .*stop/,/^POST .*start/p' "$T/mr.log" | grep -c '^GET')
[ "$polls" -ge 4 ] && pass || fail "the stop was not waited for: $(mr_calls)"
stop_moonraker

# Klipper still runs after Moonraker's stop: nothing is flashed, and it is
# asked to start (it runs anyway).
start_moonraker --stuck
settings klipper "$MR" "$T/uart-v2.bin"
expect_rc 3 "$MCUFLASH" update --config "$CFG" uartboard
expect_out "The klipper service still runs after Moonraker stopped it and holds the boards; nothing was flashed"
[ "$(version)" = v3-uart ] && pass || fail "flashed although Klipper still ran"
stop_moonraker

# Moonraker does not manage klipper-printer, or is not to be asked: systemctl.
start_moonraker
settings klipper-printer "$MR" "$T/uart-v3.bin"
expect_rc 0 "$MCUFLASH" update --config "$CFG" uartboard
expect_out "^Stopping the klipper-printer service\.$"
[ "$(systemctl_calls)" = "is-active --quiet klipper-printer|stop klipper-printer|is-active --quiet klipper-printer|start klipper-printer" ] &&
    pass || fail "service calls: $(systemctl_calls)"
grep -q POST "$T/mr.log" && fail "Moonraker was asked to act: $(mr_calls)" || pass
: >"$T/systemctl.log"; : >"$T/mr.log"
settings klipper none "$T/uart-v2.bin"
expect_rc 0 "$MCUFLASH" update --config "$CFG" uartboard
expect_out "^Stopping the klipper service\.$"
[ ! -s "$T/mr.log" ] && [ -s "$T/systemctl.log" ] && pass || fail "moonraker: none still asked Moonraker: $(mr_calls)"
[ "$(version)" = v2-uart ] && pass || fail "not flashed back to v2"
finish
