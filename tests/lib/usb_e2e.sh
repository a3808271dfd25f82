# Helpers for the end-to-end tests of the USB bootloader routes (sourced
# after e2e.sh).  A board started with --usb sits on an emulated USB
# bus of its own; on_usb runs a command where that bus is visible.
command -v jq >/dev/null || { echo "jq is needed"; exit 1; }
UMOCKDEV_PRELOAD=libumockdev-preload.so.0

# on_usb NAME CMD...: CMD sees board NAME's USB bus (umockdev's preload).
on_usb() {
    name=$1; shift
    tb=$(field "$name" .usb_testbed)
    [ -n "$tb" ] && [ "$tb" != null ] || { echo "board $name has no USB bus"; return 99; }
    # A build with AddressSanitizer wants its runtime loaded first otherwise.
    LD_PRELOAD=$UMOCKDEV_PRELOAD UMOCKDEV_DIR=$tb \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@"
}
# usb_background NAME CMD...: CMD in the background on board NAME's bus, as
# background does (BG is CMD's own pid, so a signal reaches it).
usb_background() {
    name=$1; shift
    tb=$(field "$name" .usb_testbed)
    LD_PRELOAD=$UMOCKDEV_PRELOAD UMOCKDEV_DIR=$tb \
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@" >"$T/bg.out" 2>&1 &
    BG=$!
}
# expect_usb RC NAME CMD...: expect_rc on board NAME's bus.
expect_usb() { want=$1 name=$2; shift 2; expect_rc "$want" on_usb "$name" "$@"; }
# touch_1200 NAME: the 1200-baud touch on the board's device, as a user's
# stty would do it.
touch_1200() {
    stty -F "$T/$1" 1200 2>/dev/null || fail "stty 1200 $1"
    for _ in $(seq 100); do [ "$(field "$1" .mode)" = dfu ] && return 0; sleep 0.05; done
    fail "$1 did not enter its ROM bootloader"
}
