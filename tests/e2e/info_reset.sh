#!/bin/bash
# How a board restarts: "Reset command: yes" only when the dictionary has
# `reset`.  A Klipper Linux-process MCU has config_reset instead, which runs
# the process again with a new pty behind the same path: mcuflash resets it
# (emergency_stop, then config_reset) and finds it again, as it finds a
# UART board after its reset.
. "$MF_TESTS/lib/e2e.sh"

"$MCUFLASH_SIM" make-firmware --mcu stm32f407xx -o "$T/fw.bin" --dict-out "$T/f407.dict" >/dev/null ||
    fail "make-firmware"
# The Linux MCU's dictionary: MCU linux, config_reset (a new id), no reset.
jq -c '.config.MCU = "linux" | del(.commands.reset) |
       .commands.config_reset = ([.commands[], .responses[]] | max + 1)' "$T/f407.dict" >"$T/linux.dict"
# A build with neither.
jq -c 'del(.commands.reset)' "$T/f407.dict" >"$T/noreset.dict"
new_card "$T/card.img"
printf 'kept\n' >"$T/kept.txt"
mcopy -i "$T/card.img" "$T/kept.txt" ::KEPT.TXT

start_sim f407 --dict "$T/f407.dict"
start_sim noreset --dict "$T/noreset.dict"
start_sim lx --dict "$T/linux.dict" --card "$T/card.img"

expect_rc 0 "$MCUFLASH" info "$T/f407"
expect_out '^Reset command: +yes$'
expect_rc 0 "$MCUFLASH" info "$T/noreset"
expect_out '^Reset command: +no \(reset the board by hand\)$'
expect_rc 0 "$MCUFLASH" info "$T/lx"
expect_out '^MCU: +linux$'
expect_out '^Reset command: +no \(config_reset restarts the Linux process\)$'
expect_rc 0 "$MCUFLASH" info --json "$T/lx"
expect_out '"reset": ?false'
expect_rc 0 "$MCUFLASH" info --json "$T/f407"
expect_out '"reset": ?true'

# A shut-down Linux MCU: card ls resets it first and again when done; each
# time the process restarts behind the same path and mcuflash finds it.
expect_rc 0 sim_ctl "$T/lx.ctl" shutdown "Timer too close"
expect_rc 0 "$MCUFLASH" card ls "$T/lx" --spi-bus spi1 --cs-pin PA4
expect_out 'The MCU is shut down; resetting it first\.'
expect_out 'KEPT\.TXT'
wait_up lx
[ "$(field lx .counters.resets)/$(field lx .counters.boots)" = 2/3 ] && pass ||
    fail "the Linux MCU restarted $(field lx .counters.resets) times, booted $(field lx .counters.boots) times"
[ "$(field lx .shutdown)" = null ] && pass || fail "the Linux MCU is still shut down"
expect_rc 0 "$MCUFLASH" info "$T/lx"
expect_out '^State: +not configured$'
finish
