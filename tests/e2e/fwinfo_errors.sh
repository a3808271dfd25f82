#!/bin/bash
# mcuflash fwinfo: exit codes and messages for unusable files and bad usage.
. "$MF_TESTS/lib/e2e.sh"
dir=$T
run() { # run ARGS... -> globals rc, out, err
    out=$("$MCUFLASH" fwinfo "$@" 2>"$dir/stderr"); rc=$?
    err=$(cat "$dir/stderr")
}

missing="$dir/no/klipper.bin"
run "$missing"
[ $rc -eq 6 ] || fail "missing file: exit $rc, expected 6"
[ "$err" = "mcuflash: Firmware file $missing does not exist; nothing was changed; build it with 'make' in ~/klipper, or check the path." ] \
    || fail "missing file: stderr was: $err"
[ -z "$out" ] || fail "missing file: unexpected stdout: $out"

run --json "$missing"
[ $rc -eq 6 ] || fail "missing file --json: exit $rc, expected 6"
[ "$out" = "{\"event\":\"result\",\"ok\":false,\"error\":{\"code\":6,\"message\":\"Firmware file $missing does not exist; nothing was changed; build it with 'make' in ~/klipper, or check the path.\"}}" ] \
    || fail "missing file --json: stdout was: $out"

: > "$dir/empty.bin"
run "$dir/empty.bin"
[ $rc -eq 6 ] || fail "empty file: exit $rc, expected 6"
expect_in "$err" "Firmware file $dir/empty.bin is empty; nothing was changed;"

run "$dir"
[ $rc -eq 6 ] || fail "directory: exit $rc, expected 6"
expect_in "$err" "Firmware file $dir is a directory, not a file; nothing was changed;"

truncate -s 33M "$dir/huge.bin"
run "$dir/huge.bin"
[ $rc -eq 6 ] || fail "oversized file: exit $rc, expected 6"
expect_in "$err" "is larger than 32 MiB"

run
[ $rc -eq 2 ] || fail "no file: exit $rc, expected 2"
expect_in "$err" "fwinfo needs exactly one firmware file"

run a.bin b.bin
[ $rc -eq 2 ] || fail "two files: exit $rc, expected 2"

run --frobnicate "$dir/empty.bin"
[ $rc -eq 2 ] || fail "unknown option: exit $rc, expected 2"
expect_in "$err" "'--frobnicate'"

run --help
[ $rc -eq 0 ] || fail "--help: exit $rc, expected 0"
expect_in "$out" "usage: mcuflash fwinfo FILE [--board NAME] [--board-file FILE]... [--json]"

finish
