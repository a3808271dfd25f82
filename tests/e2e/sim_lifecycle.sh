#!/bin/bash
# The virtual board's lifecycle through its control socket: the link appears,
# status answers, reset / unplug / plug / power-cycle make the USB device go
# and come back (a UART device stays), SIGTERM cleans up; usage errors.
. "$MF_TESTS/lib/e2e.sh"

# wait_link PATH present|absent: poll up to 5 s.
wait_link() {
    for _ in $(seq 100); do
        if [ "$2" = present ]; then [ -L "$1" ] && return 0; else [ -L "$1" ] || return 0; fi
        sleep 0.05
    done
    return 1
}
status_field() { # status_field CTL KEY -> the raw JSON value
    sim_ctl "$1" status | grep -o "\"$2\":[^,}]*" | head -1 | cut -d: -f2-
}

# --- USB: the link is a symlink to a pty --------------------------------------
# Realistic timing: a re-enumeration takes long enough to be seen even on a
# busy machine.
start_sim usb --mcu stm32f407xx --timing realistic
if [ -L "$T/usb" ] && readlink "$T/usb" | grep -q '^/dev/pts/'; then pass; else fail "no pty symlink at $T/usb"; fi
expect_rc 0 sim_ctl "$T/usb.ctl" status
expect_out '"mcu":"stm32f407xx"'
expect_out '"state":"running"'
expect_out '"link_up":true'
expect_out '"configured":false'
expect_out '"shutdown":null'
expect_out '"card_present":false'

# reset: the device disappears, then a new one appears with a fresh MCU.
expect_rc 0 sim_ctl "$T/usb.ctl" reset
expect_out '^ok$'
if wait_link "$T/usb" absent; then pass; else fail "the link stayed after reset"; fi
if wait_link "$T/usb" present; then pass; else fail "the link did not come back after reset"; fi
sleep 0.1
[ "$(status_field "$T/usb.ctl" resets)" = 1 ] && pass || fail "resets counter: $(sim_ctl "$T/usb.ctl" status)"
[ "$(status_field "$T/usb.ctl" boots)" = 2 ] && pass || fail "boots counter: $(sim_ctl "$T/usb.ctl" status)"

# unplug: gone until plug.
expect_rc 0 sim_ctl "$T/usb.ctl" unplug
if wait_link "$T/usb" absent; then pass; else fail "the link stayed after unplug"; fi
sleep 0.3
if [ -L "$T/usb" ]; then fail "the link came back while unplugged"; else pass; fi
[ "$(status_field "$T/usb.ctl" state)" = '"unplugged"' ] && pass || fail "state while unplugged"
expect_rc 1 sim_ctl "$T/usb.ctl" shutdown "Timer too close"
expect_out '^error: the board is unplugged'
expect_rc 1 sim_ctl "$T/usb.ctl" reset
expect_out '^error: the board is unplugged'
expect_rc 0 sim_ctl "$T/usb.ctl" plug
if wait_link "$T/usb" present; then pass; else fail "the link did not come back after plug"; fi
expect_rc 1 sim_ctl "$T/usb.ctl" plug
expect_out '^error: the board is not unplugged'

# power-cycle and a forced shutdown.
expect_rc 0 sim_ctl "$T/usb.ctl" power-cycle
if wait_link "$T/usb" absent && wait_link "$T/usb" present; then pass; else fail "power-cycle"; fi
sleep 0.1
expect_rc 0 sim_ctl "$T/usb.ctl" shutdown "Timer too close"
[ "$(status_field "$T/usb.ctl" shutdown)" = '"Timer too close"' ] && pass || fail "shutdown reason not in status"
expect_rc 0 sim_ctl "$T/usb.ctl" faults corrupt=0.01,drop=0.001,seed=7,dir=out
expect_rc 0 sim_ctl "$T/usb.ctl" status
expect_out '"corrupt":0.01'
expect_out '"dir":"out"'
expect_rc 1 sim_ctl "$T/usb.ctl" faults corrupt=2
expect_out '^error: Bad fault setting'
expect_rc 1 sim_ctl "$T/usb.ctl" frobnicate
expect_out "^error: unknown command 'frobnicate'"

# SIGTERM: exit 0, link and socket gone.
pid=$(echo $SIM_PIDS | awk '{print $1}')
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] && pass || fail "exit status $rc after SIGTERM"
[ -e "$T/usb" ] || [ -L "$T/usb" ] && fail "the link outlived SIGTERM" || pass
[ -e "$T/usb.ctl" ] && fail "the control socket outlived SIGTERM" || pass
expect_rc 3 sim_ctl "$T/usb.ctl" status
expect_out 'cannot reach the control socket'

# --- UART: the device path stays across a reset; quit ends the board ----------
truncate -s 32M "$T/card.img"
start_sim uart --mcu lpc1768 --link uart:250000 --card "$T/card.img"
dev=$(readlink "$T/uart")
expect_rc 0 sim_ctl "$T/uart.ctl" reset
sleep 0.05
[ "$(readlink "$T/uart")" = "$dev" ] && pass || fail "a UART reset changed the device"
expect_rc 0 sim_ctl "$T/uart.ctl" status
expect_out '"link":"uart:250000"'
expect_out '"card_present":true'
expect_rc 0 sim_ctl "$T/uart.ctl" quit
for _ in $(seq 100); do [ -L "$T/uart" ] || break; sleep 0.05; done
[ -L "$T/uart" ] && fail "quit left the link" || pass

# --- usage errors ---------------------------------------------------------------
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --board btt-octopus-f446
expect_out "No board named 'btt-octopus-f446'.*did you mean"
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --board btt-skr-pro --mcu stm32f407xx
expect_out 'Give one of'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f407xx --flash-state "$T/flash.json"
expect_out '--flash-state go with --board'
expect_rc 2 "$MCUFLASH_SIM" --mcu stm32f407xx
expect_out '--path is required'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu stm32f999
expect_out "Unknown MCU type 'stm32f999'"
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu lpc1768 --mcu lpc1769 --dict "$T/none"
expect_out 'Give one of'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu lpc1768 --link serial
expect_out '--link must be usb or uart:BAUD'
expect_rc 2 "$MCUFLASH_SIM" --path "$T/x" --mcu lpc1768 --timing fast
expect_rc 6 "$MCUFLASH_SIM" --path "$T/x" --dict "$T/none.dict"
expect_out 'Cannot open the dictionary'
expect_rc 6 "$MCUFLASH_SIM" --path "$T/x" --mcu lpc1768 --card "$T/none.img"
expect_out 'none.img'
[ -L "$T/x" ] && fail "a failed start left a link" || pass
touch "$T/plainfile"
expect_rc 2 "$MCUFLASH_SIM" --path "$T/plainfile" --mcu lpc1768
expect_out 'exists and is not a symlink'
expect_rc 0 "$MCUFLASH_SIM" --help
expect_out '^usage: mcuflash-sim --path PATH'

finish
