#!/bin/sh
# The whole test suite: the normal build with gcc and with clang, the same
# suite under AddressSanitizer and UndefinedBehaviorSanitizer, each fuzz harness
# for a short run, then the Debian package.  Warnings are errors in every build.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# One CTest job per core: tests with line faults and timeouts can stall on a
# machine with more jobs than cores.  MCUFLASH_TEST_JOBS overrides it.
jobs=${MCUFLASH_TEST_JOBS:-$(nproc)}
fuzz_seconds=${MCUFLASH_FUZZ_SECONDS:-30}

# configure DIR COMPILER BUILD_TYPE [CMAKE_ARGS...]
configure() {
    dir=$1 cc=$2 type=$3; shift 3
    CC=$cc cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="$type" -DMCUFLASH_WERROR=ON "$@" >/dev/null
}

echo "== build and test (gcc, RelWithDebInfo)"
configure build gcc RelWithDebInfo
cmake --build build
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== build and test (clang, Release)"
configure build-clang clang Release
cmake --build build-clang
ctest --test-dir build-clang --output-on-failure -j "$jobs"

echo "== build without warnings (gcc Release, clang RelWithDebInfo)"
configure build-gcc-release gcc Release
cmake --build build-gcc-release
configure build-clang-rwdi clang RelWithDebInfo
cmake --build build-clang-rwdi

echo "== sanitizers (address, undefined)"
configure build-asan gcc Debug -DMCUFLASH_SANITIZE=ON
cmake --build build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"

echo "== fuzz harnesses, ${fuzz_seconds}s each"
configure build-fuzz clang RelWithDebInfo -DMCUFLASH_FUZZ=ON -DMCUFLASH_SANITIZE=ON
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
            -artifact_prefix="build-fuzz/$name-" "$corpus" $seeds >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $name found a failure (input saved as build-fuzz/$name-*)"
        exit 1
    fi
    # A crash report is only useful with a symbolized stack.
    if grep -i 'symbolizer' "$log"; then
        echo "fuzz: the sanitizers could not symbolize stacks; install llvm (scripts/install-deps.sh)"
        exit 1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$log" || tail -n 3 "$log"
done
echo "fuzz: all harnesses ran without a crash"

echo "== Debian package"
scripts/check-package.sh
