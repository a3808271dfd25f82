#!/bin/bash
# mcuflash info against the virtual board: identity, buses, state, errors.
. "$MF_TESTS/lib/e2e.sh"

start_sim f407 --mcu stm32f407xx
expect_rc 0 "$MCUFLASH" info "$T/f407"
expect_out '^MCU: +stm32f407xx$'
expect_out '^Version: +v[0-9]'
expect_out '^Clock: +168000000 Hz$'
expect_out '^State: +not configured$'
expect_out '^SPI buses: .*spi1'
expect_out '^Software SPI: +yes$'
expect_out '^SDIO: +sdio$'
expect_out '^Link stats: +[0-9]+ blocks sent'

expect_rc 0 "$MCUFLASH" info --json "$T/f407"
expect_out '^\{"event":"result","ok":true,.*"mcu":"stm32f407xx"'
expect_out '"sdio":true'

start_sim lpc --mcu lpc1769 --link uart:250000
expect_rc 0 "$MCUFLASH" info "$T/lpc"
expect_out '^MCU: +lpc1769$'
expect_out '^Link: +UART$'
expect_out '^SPI buses: .*ssp1'
expect_out '^SDIO: +no$'

# A shut-down MCU shows its reason.
sim_ctl "$T/lpc.ctl" shutdown "Timer too close" >/dev/null
expect_rc 0 "$MCUFLASH" info "$T/lpc"
expect_out '^State: +shut down \("Timer too close"\)'

# User errors: missing device, busy device, bad baud, extra arguments.
expect_rc 3 "$MCUFLASH" info "$T/nothing-here"
expect_out 'No device at'
sleep 30 <"$T/f407" &
holder=$!
sleep 0.2
expect_rc 3 "$MCUFLASH" info "$T/f407"
expect_out "in use by pid $holder \\(sleep 30\\)"
kill $holder; wait $holder 2>/dev/null
expect_rc 2 "$MCUFLASH" info /dev/null
expect_out '/dev/null is not a serial port; nothing was sent'
expect_rc 2 "$MCUFLASH" info -b fast "$T/f407"
expect_out '-b needs a whole number'
expect_rc 2 "$MCUFLASH" info "$T/f407" extra
expect_rc 0 "$MCUFLASH" info --help
expect_out '^usage: mcuflash info .*DEVICE'

# A device that does not answer: every byte the board sends is lost.
start_sim mute --mcu stm32f103xe --faults drop=1,dir=out
expect_rc 3 "$MCUFLASH" info "$T/mute"
expect_out 'does not answer as a Klipper MCU; nothing was changed'
finish
