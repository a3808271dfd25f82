#!/bin/bash
# Upload throughput and memory of 'mcuflash card put' on the virtual board
# with realistic timing, per link and bus.  Prints one line per case.
# Usage: bench/upload.sh [BUILD_DIR] [KiB]
set -eu
build=${1:-build}
kib=${2:-128}
sim=$build/mcuflash-sim
mcuflash=$build/mcuflash
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh" bench
head -c $((kib * 1024)) /dev/urandom >"$dir/fw.bin"

bench() { # NAME MCU LINK BUS-OPTIONS...
    name=$1 mcu=$2 link=$3; shift 3
    mkfs.fat -C -F 32 "$dir/$name.img" 131072 >/dev/null
    "$sim" --path "$dir/$name" --mcu "$mcu" --link "$link" --timing realistic \
        --card "$dir/$name.img" >/dev/null 2>&1 &
    while [ ! -e "$dir/$name" ]; do sleep 0.05; done
    start=$(date +%s.%N)
    /usr/bin/time -f %M -o "$dir/rss" "$mcuflash" card put "$dir/$name" "$@" "$dir/fw.bin" firmware.bin
    end=$(date +%s.%N)
    kill %% && wait 2>/dev/null || true
    mcopy -i "$dir/$name.img" ::firmware.bin "$dir/back.bin" && cmp -s "$dir/back.bin" "$dir/fw.bin"
    awk -v n="$name" -v k="$kib" -v s="$start" -v e="$end" -v r="$(cat "$dir/rss")" 'BEGIN {
        printf "%-28s %6d KiB in %6.2f s = %7.1f KiB/s (write, read back, rename; peak RSS %d KiB)\n",
               n, k, e - s, k / (e - s), r }'
}

echo "mcuflash card put, ${kib} KiB, virtual board with --timing realistic"
bench "usb-sdio" stm32f407xx usb --sdio-bus sdio
bench "usb-hw-spi-400kHz" stm32f407xx usb --spi-bus spi1 --cs-pin PA4
bench "usb-hw-spi-4MHz" stm32f407xx usb --spi-bus spi1 --cs-pin PA4 -s
bench "usb-sw-spi" stm32f407xx usb --spi-pins PC8,PD2,PC12 --cs-pin PC11 -s
bench "uart250000-hw-spi-4MHz" lpc1768 uart:250000 --spi-bus ssp1 --cs-pin P0.6 -s
