# shellcheck shell=bash
# Sourced by the benchmark scripts: `. bench/common.sh NAME` makes a scratch
# directory in $dir, removed at exit with every background job stopped.
# The script keeps its own exit status: with set -e a kill that finds no
# job left would otherwise end the trap, and the script, with status 2.
dir=$(mktemp -d "/tmp/mcuflash-$1.XXXXXX")
bench_cleanup() {
    local rc=$?
    # shellcheck disable=SC2046  # one word per job
    kill $(jobs -p) 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
    exit $rc
}
trap bench_cleanup EXIT
