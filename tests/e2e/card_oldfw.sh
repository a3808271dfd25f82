#!/bin/bash
# Older Klipper builds name some commands differently: config_spi without
# cs_active_high, spi_set_software_bus with a rate, and the config reply in
# its pre-2021 order.  mcuflash falls back to them, as Klipper's tool does.
. "$MF_TESTS/lib/e2e.sh"

"$MCUFLASH_SIM" make-firmware --mcu stm32f407xx -o "$T/new.bin" --dict-out "$T/new.dict" >/dev/null
sed -e 's/config_spi oid=%c pin=%u cs_active_high=%c/config_spi oid=%c pin=%u/' \
    -e 's/spi_set_sw_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u pulse_ticks=%u/spi_set_software_bus oid=%c miso_pin=%u mosi_pin=%u sclk_pin=%u mode=%u rate=%u/' \
    -e 's/config is_config=%c crc=%u is_shutdown=%c move_count=%hu/config is_config=%c crc=%u move_count=%hu is_shutdown=%c/' \
    -e 's/"version":"[^"]*"/"version":"v0.10.0-old"/' \
    "$T/new.dict" >"$T/old.dict"
for f in 'config_spi oid=%c pin=%u"' 'spi_set_software_bus' 'move_count=%hu is_shutdown=%c'; do
    grep -q "$f" "$T/old.dict" && pass || fail "old dictionary lacks $f"
done

mkfs.fat -C -F 32 -n OLD "$T/card.img" 65536 >/dev/null
head -c 20000 /dev/urandom >"$T/data.bin"
start_sim old --dict "$T/old.dict" --card "$T/card.img"
expect_rc 0 "$MCUFLASH" info "$T/old"
expect_out '^Version: +v0.10.0-old$'
expect_rc 0 "$MCUFLASH" card put "$T/old" --spi-bus spi1 --cs-pin PA4 "$T/data.bin" hw.bin
expect_rc 0 "$MCUFLASH" card put "$T/old" --spi-pins PC8,PD2,PC12 --cs-pin PC11 "$T/data.bin" sw.bin
expect_rc 0 "$MCUFLASH" card ls "$T/old" --spi-bus spi1 --cs-pin PA4
expect_out 'hw.bin'
expect_out 'sw.bin'
for f in hw.bin sw.bin; do
    mcopy -n -i "$T/card.img" "::$f" "$T/back" && cmp -s "$T/back" "$T/data.bin" && pass || fail "$f differs"
done
fsck.fat -n "$T/card.img" >/dev/null && pass || fail "fsck.fat"
finish
