#!/bin/bash
# mcuflash-sim's own command line: make-firmware from a given klipper.dict
# and its --help, and the control commands --help lists, which are exactly
# those the control socket's help lists and each of them is known there.
. "$MF_TESTS/lib/e2e.sh"

# --- make-firmware --dict: the image carries exactly that dictionary -------------
"$MCUFLASH_SIM" make-firmware --mcu stm32f446xx --version-string v7-given -o "$T/a.bin" --dict-out "$T/given.dict" \
    >/dev/null || fail "make-firmware --mcu"
expect_rc 0 "$MCUFLASH_SIM" make-firmware --dict "$T/given.dict" -o "$T/b.bin" --dict-out "$T/b.dict"
expect_out '^.*b\.bin: 32768 bytes linked for 0x08008000'
cmp -s "$T/given.dict" "$T/b.dict" && pass || fail "make-firmware --dict wrote another dictionary"
expect_rc 0 "$MCUFLASH" fwinfo "$T/b.bin"
expect_out 'v7-given'
expect_out 'stm32f446xx'
# A dictionary of an MCU it cannot build for is refused, not crashed on.
jq -c '.config.MCU = "linux"' "$T/given.dict" >"$T/linux.dict"
expect_rc 2 "$MCUFLASH_SIM" make-firmware --dict "$T/linux.dict" -o "$T/c.bin"
expect_out 'Cortex-M images only, and the MCU linux is not one it knows; nothing was written'
[ -e "$T/c.bin" ] && fail "an image was written for linux" || pass
expect_rc 6 "$MCUFLASH_SIM" make-firmware --dict "$T/missing.dict" -o "$T/c.bin"
expect_rc 0 "$MCUFLASH_SIM" make-firmware --help
expect_out '^usage: mcuflash-sim make-firmware \(--board NAME \| --mcu TYPE \| --dict FILE\) -o FILE'

# --- --help and the control socket list the same commands --------------------------
expect_rc 0 "$MCUFLASH_SIM" --help
listed=$(printf '%s\n' "$OUT" | sed -n 's/^Control commands: //p' | tr ',' '\n' | awk '{ print $1 }' | uniq)
start_sim b --mcu stm32f407xx
expect_rc 0 sim_ctl "$T/b.ctl" help
served=$(printf '%s\n' "$OUT" | sed 's/^commands: //' | tr ',' '\n' | awk '{ print $1 }' | uniq)
[ "$(printf '%s\n' "$listed" | grep -c .)" -ge 13 ] && pass || fail "--help lists too few control commands: $listed"
[ "$listed" = "$served" ] && pass || fail "--help lists [$(echo $listed)], the socket's help [$(echo $served)]"
# Each is known to the socket (without arguments some are refused, never unknown).
for c in $listed; do
    [ "$c" = quit ] && continue
    OUT=$(sim_ctl "$T/b.ctl" "$c" 2>&1)
    expect_no_out 'unknown command'
done
expect_rc 1 sim_ctl "$T/b.ctl" frobnicate
expect_out "^error: unknown command 'frobnicate' \\(try help\\)$"
expect_rc 1 sim_ctl "$T/b.ctl" power-cut after-writes 2
expect_out 'without --card'
finish
