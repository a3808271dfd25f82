#!/bin/bash
# How close a whole `mcuflash sdcard` comes to what the virtual board's
# timing model allows: for each link and card bus and each image size,
# flash a virtual board with --timing realistic (fresh FAT32 card) and
# print the wall time of the upload-and-read-back phase and of the whole
# flash, the floor of each (bench/flash_floor.c), their ratio, the upload's
# bound for a host that loses nothing and the ratio to it, the bytes
# sent and received per sector (bench_sd_link), and the peak RSS; and once
# the time to connect and identify on a pty without timing.  A USB board
# sits on an emulated USB bus (umockdev) where mcuflash-sim has one, so
# that mcuflash sees it by Klipper's USB ids as it sees a real one.
# Usage: bench/flash-speed.sh [--json] [BUILD_DIR]
#   CONFIGS="usb-sdio ..." and SIZES="32 128 512" (KiB) pick a subset.
set -eu
json=0
[ "${1:-}" = --json ] && { json=1; shift; }
build=${1:-build}
sim=$build/mcuflash-sim
mcuflash=$build/mcuflash
floor=$build/bench/flash_floor
sd_link=$build/bench/bench_sd_link
for b in "$sim" "$mcuflash" "$floor" "$sd_link"; do
    [ -x "$b" ] || { echo "flash-speed.sh: $b is not built" >&2; exit 2; }
done
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh" flash-speed

# name: board, link, bus (sdio|spi), rate in Hz, mcuflash options
declare -A CFG=(
    [usb-sdio]="btt-skr2-f407 usb sdio 1000000"
    [usb-hw-spi-400kHz]="btt-gtr usb spi 400000"
    [usb-hw-spi-4MHz]="btt-gtr usb spi 4000000 -s"
    [usb-sw-spi-400kHz]="btt-skr-pro usb spi 400000"
    [uart250000-hw-spi-4MHz]="btt-gtr uart:250000 spi 4000000 -s -b 250000"
)
configs=${CONFIGS:-usb-sdio usb-hw-spi-400kHz usb-hw-spi-4MHz usb-sw-spi-400kHz uart250000-hw-spi-4MHz}
sizes=${SIZES:-32 128 512}
for c in $configs; do
    [ -n "${CFG[$c]:-}" ] || { echo "flash-speed.sh: no configuration '$c'; there are: ${!CFG[*]}" >&2; exit 2; }
done
for k in $sizes; do
    [[ $k =~ ^[1-9][0-9]*$ ]] || { echo "flash-speed.sh: SIZES takes KiB as whole numbers, not '$k'" >&2; exit 2; }
done

now() { date +%s.%N; }

# The emulated USB bus needs a mcuflash-sim built with umockdev.
usb_bus=0
"$sim" usb --mcu rp2040 -- true >/dev/null 2>&1 && usb_bus=1
[ $json = 1 ] || [ $usb_bus = 1 ] ||
    echo "flash-speed.sh: this mcuflash-sim has no emulated USB bus; USB boards are plain ptys" >&2

# flash CONFIG KIB: one whole flash; prints "WHOLE_S UPLOAD_S RSS_KIB".
flash() {
    read -r board link bus rate opts <<<"${CFG[$1]}"
    local n=$1-$2 fw=$dir/$1-$2.bin
    "$sim" make-firmware --board "$board" --link "$link" --size $(($2 * 1024)) --version-string "v-$n" \
        -o "$fw" --dict-out "$fw.dict" >/dev/null
    truncate -s 64M "$dir/$n.img" && mkfs.fat -F 32 "$dir/$n.img" >/dev/null
    local usb=() on_usb=()
    [ "$link" = usb ] && [ $usb_bus = 1 ] && usb=(--usb 1-1 --control "$dir/$n.ctl")
    "$sim" --path "$dir/$n" --board "$board" --link "$link" --timing realistic --card "$dir/$n.img" "${usb[@]}" \
        >"$dir/$n.log" 2>&1 &
    local pid=$!
    while [ ! -e "$dir/$n" ]; do
        kill -0 $pid 2>/dev/null || { echo "flash-speed.sh: the virtual board $n did not start:" \
            "$(cat "$dir/$n.log")" >&2; exit 1; }
        sleep 0.05
    done
    if [ ${#usb[@]} -gt 0 ]; then
        while [ ! -S "$dir/$n.ctl" ]; do kill -0 $pid 2>/dev/null || exit 1; sleep 0.05; done
        on_usb=(env LD_PRELOAD=libumockdev-preload.so.0
                UMOCKDEV_DIR="$("$sim" ctl "$dir/$n.ctl" status | jq -r .usb_testbed)")
    fi
    local start end
    start=$(now)
    # shellcheck disable=SC2086
    /usr/bin/time -f %M -o "$dir/rss" "${on_usb[@]}" "$mcuflash" sdcard --json -f "$fw" -d "$fw.dict" $opts \
        "$dir/$n" "$board" >"$dir/$n.json" || true
    end=$(now)
    kill $pid && wait $pid 2>/dev/null || true
    local result
    result=$(tail -n 1 "$dir/$n.json")
    if ! jq -e '.ok == true and .verdict == "flashed"' <<<"$result" >/dev/null; then
        echo "flash-speed.sh: $n did not flash: $result" >&2
        exit 1
    fi
    echo "$(awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f", e - s }') $(jq -r .upload_seconds <<<"$result") $(tail -n 1 "$dir/rss")"
}

connect_ms=$("$sd_link" "$sim" 1 connect 2>/dev/null || true)
[ -n "$connect_ms" ] || connect_ms=null  # a bench_sd_link without the case
[ $json = 1 ] || echo "connect and identify on a pty without timing: $connect_ms ms (median of 20)"
[ $json = 1 ] || printf '%-24s %4s %8s %8s %5s %8s %8s %5s %8s %5s %14s %14s %8s\n' config KiB whole_s floor ratio \
    upload_s floor ratio bound ratio "write out/in" "read out/in" rss_KiB
for c in $configs; do
    read -r board link bus rate opts <<<"${CFG[$c]}"
    read -r w_out w_in r_out r_in <<<"$("$sd_link" "$sim" 32 "$c")"
    for k in $sizes; do
        read -r whole upload rss <<<"$(flash "$c" "$k")"
        [ -n "$whole" ] || exit 1  # flash said why
        read -r upload_floor whole_floor upload_bound <<<"$("$floor" "$link" "$bus" "$rate" $((k * 1024)))"
        if [ $json = 1 ]; then
            jq -cn --arg config "$c" --argjson size $((k * 1024)) --argjson whole "$whole" \
                --argjson whole_floor "$whole_floor" --argjson upload "$upload" --argjson upload_floor "$upload_floor" \
                --argjson upload_bound "$upload_bound" \
                --argjson rss "$rss" --argjson w_out "$w_out" --argjson w_in "$w_in" --argjson r_out "$r_out" \
                --argjson r_in "$r_in" --argjson connect_ms "$connect_ms" \
                '{config: $config, size: $size, whole_s: $whole, whole_floor_s: $whole_floor,
                  whole_ratio: ($whole / $whole_floor * 100 | round / 100), upload_s: $upload,
                  upload_floor_s: $upload_floor, upload_ratio: ($upload / $upload_floor * 100 | round / 100),
                  upload_bound_s: $upload_bound, upload_bound_ratio: ($upload / $upload_bound * 100 | round / 100),
                  write_bytes_out_per_sector: $w_out, write_bytes_in_per_sector: $w_in,
                  read_bytes_out_per_sector: $r_out, read_bytes_in_per_sector: $r_in, rss_kib: $rss,
                  connect_ms: $connect_ms}'
        else
            awk -v c="$c" -v k="$k" -v w="$whole" -v wf="$whole_floor" -v u="$upload" -v uf="$upload_floor" -v ub="$upload_bound" \
                -v wo="$w_out/$w_in" -v ro="$r_out/$r_in" -v r="$rss" 'BEGIN {
                printf "%-24s %4d %8.2f %8.2f %5.2f %8.2f %8.2f %5.2f %8.2f %5.2f %14s %14s %8d\n",
                       c, k, w, wf, w / wf, u, uf, u / uf, ub, u / ub, wo, ro, r }'
        fi
    done
done
