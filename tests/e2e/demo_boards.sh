#!/bin/bash
# The demo's single-board scenes, as the README's first command runs them:
# a BTT SKR 2 over SDIO, a BTT SKR 1.4 over SPI on a UART, a CAN toolhead
# through Katapult, each with realistic timing, each flashed and verified.
. "$MF_TESTS/lib/e2e.sh"

expect_rc 0 "$MCUFLASH" demo --scene boards --sim "$MCUFLASH_SIM"
expect_out "^== BTT SKR 2 .*flashed over SDIO"
expect_out "^== BTT SKR 1\.4 .*UART 250000 baud.*flashed over SPI"
[ "$(printf '%s\n' "$OUT" | grep -c '^Flashed: the board now runs v0\.13\.0-demo-new\.$')" = 3 ] && pass ||
    fail "not every board was flashed: $(printf '%s\n' "$OUT" | grep -c '^Flashed')"
expect_no_out "^== .*update"
expect_out "^Demo done: every virtual board was flashed and verified\.$"
expect_rc 2 "$MCUFLASH" demo --scene nothing
expect_out "the scenes are 'boards' and 'printer'"
finish
