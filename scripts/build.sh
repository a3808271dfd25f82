#!/bin/sh
# Build mcuflash and mcuflash-sim into build/; with --demo, then run the demo.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --build
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build
if [ "${1:-}" = "--demo" ]; then
    exec build/mcuflash demo --sim build/mcuflash-sim
fi
