#!/bin/sh
# The whole test suite: the normal build, the same suite under AddressSanitizer
# and UndefinedBehaviorSanitizer, then each fuzz harness for a short run.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
jobs=$(nproc)
fuzz_seconds=${MCUFLASH_FUZZ_SECONDS:-45}

echo "== build and test"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== sanitizers (address, undefined)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMCUFLASH_SANITIZE=ON >/dev/null
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== fuzz harnesses, ${fuzz_seconds}s each"
CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMCUFLASH_FUZZ=ON -DMCUFLASH_SANITIZE=ON >/dev/null
cmake --build build-fuzz
for h in build-fuzz/fuzz/fuzz_*; do
    [ -x "$h" ] || continue
    name=$(basename "$h")
    corpus=build-fuzz/corpus/$name
    mkdir -p "$corpus"
    seeds=fuzz/seeds/$name
    [ -d "$seeds" ] || seeds=
    log=build-fuzz/$name.log
    echo "-- $name"
    # shellcheck disable=SC2086
    if ! "$h" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            "$corpus" $seeds >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $name found a failure (input saved in the working directory)"
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$log" || tail -n 3 "$log"
done
echo "fuzz: all harnesses ran without a crash"
