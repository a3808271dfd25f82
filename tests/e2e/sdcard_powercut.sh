#!/bin/bash
# The power fails in the middle of `mcuflash sdcard`: the virtual board loses
# its power right after the k-th sector the card programs, for every k of a
# whole flash (the upload, the read-back, the rename and the bootloader's own
# rename), over hardware SPI and over SDIO.  Each time the card must stay
# sound: fsck.fat -n finds nothing but what a cut between two sector writes
# may leave (clusters not yet or no longer referenced, FSInfo's free count
# "unknown", the second FAT copy one sector behind the first), every other
# file is byte-identical, and firmware.bin is absent or the complete new
# image.  Power back on, a second run flashes the board, bringing a lagging
# FAT copy up to date on its way; then fsck.fat -n finds at most the
# unreferenced clusters, and the FAT copies are identical.
# MF_POWERCUT_STRIDE=N tries every N-th k.
. "$MF_TESTS/lib/e2e.sh"

STRIDE=${MF_POWERCUT_STRIDE:-1}
# Other files: a short one, a long name, one in a folder.
head -c 20000 /dev/urandom >"$T/settings.bak"
printf 'keep me\n' >"$T/hello.txt"

# in_root NAME: the card's root lists NAME (any case).
in_root() { root "$T/pc.img" | grep -qixF -- "$1"; }

# sound K: the card as the cut after write K left it.
sound() {
    fsck_after_cut "$T/pc.img" || echo "  (power cut after write $1 on $BOARD)"
    same_file "$T/pc.img" HELLO.TXT "$T/hello.txt"
    same_file "$T/pc.img" "printer settings.bak" "$T/settings.bak"
    same_file "$T/pc.img" gcodes/part.gcode "$T/settings.bak"
    if in_root firmware.bin; then same_file "$T/pc.img" firmware.bin "$T/new.bin"; fi
    # FIRMWARE.CUR records the old firmware until the new image is on the
    # card as firmware.bin (mcuflash then removes it, so the bootloader's
    # rename cannot fail); once the bootloader ran again (power-on was its
    # first run), its rename may have made it the new image.
    if ! in_root FIRMWARE.CUR; then
        in_root firmware.bin && pass || fail "after a cut at write $1 the card holds no firmware file"
    elif [ "$(field pc .bootloader.runs)" = 1 ]; then same_file "$T/pc.img" FIRMWARE.CUR "$T/old.bin"
    elif card_file_is "$T/pc.img" FIRMWARE.CUR "$T/old.bin"; then pass
    else same_file "$T/pc.img" FIRMWARE.CUR "$T/new.bin"; fi
    extra=$(root "$T/pc.img" | grep -vixE 'HELLO.TXT|printer settings.bak|gcodes/|FIRMWARE.CUR|firmware.bin|MCUFLASH.TMP')
    [ -z "$extra" ] && pass || fail "after a cut at write $1 the card holds [$extra]"
}

# fsck_after_run IMG K: after a whole run, all fsck.fat -n may still find
# is clusters the cut left unreferenced (and the free count they change).
fsck_after_run() {
    fsck.fat -n "$1" >"$T/fsck.run" 2>&1
    other=$(grep -vE -e '^fsck\.fat [0-9.]+ |^Leaving filesystem unchanged\.$|: [0-9]+ files, [0-9]+/[0-9]+ clusters$|^$' \
        -e '^Reclaimed [0-9]+ unused clusters? \([0-9]+ bytes\)\.$' "$T/fsck.run")
    if grep -q '^Reclaimed' "$T/fsck.run"; then
        other=$(printf '%s\n' "$other" | grep -vE '^Free cluster summary wrong \([0-9]+ vs\. really [0-9]+\)$|^  Auto-correcting\.$')
    fi
    [ -z "$other" ] && pass || { fail "after a cut at write $2 and a whole run, fsck.fat -n says:"; cat "$T/fsck.run"; }
}

# fats_identical IMG K: the two FAT copies of the card hold the same bytes.
fats_identical() {
    reserved=$(od -An -tu2 -j14 -N2 "$1" | tr -d ' ')
    fatsz=$(od -An -tu2 -j22 -N2 "$1" | tr -d ' ')
    [ "$fatsz" != 0 ] || fatsz=$(od -An -tu4 -j36 -N4 "$1" | tr -d ' ')
    if cmp -s <(dd if="$1" bs=512 skip="$reserved" count="$fatsz" 2>/dev/null) \
        <(dd if="$1" bs=512 skip=$((reserved + fatsz)) count="$fatsz" 2>/dev/null); then pass
    else fail "after a cut at write $2 and a whole run, the card's FAT copies differ"; fi
}

# board: a fresh copy of the card in the board.
board() {
    cp --sparse=always "$T/base.img" "$T/pc.img"
    start_sim pc --board "$BOARD" --card "$T/pc.img"
}
run_flash() { "$MCUFLASH" sdcard -f "$T/new.bin" -d "$T/new.bin.dict" "$T/pc" "$BOARD" "$@"; }

# cut_every_write BOARD SIZE BUS CARD MKFS: flash a SIZE-byte image over BUS
# (a regex) to a CARD-sized card made with mkfs.fat MKFS, cutting the power
# after each card write in turn.
cut_every_write() {
    BOARD=$1
    make_fw "$T/new.bin" "$BOARD" v2-new --size "$2"
    make_fw "$T/old.bin" "$BOARD" v1-old --size "$2" --seed 7
    # The run after a cut compares the whole FAT copies: small FATs keep
    # that short.
    truncate -s "$4" "$T/base.img" && mkfs.fat $5 -n CARD "$T/base.img" >/dev/null || fail "mkfs.fat $5"
    mcopy -i "$T/base.img" "$T/hello.txt" ::HELLO.TXT
    mcopy -i "$T/base.img" "$T/settings.bak" "::printer settings.bak"
    mmd -i "$T/base.img" ::gcodes
    mcopy -i "$T/base.img" "$T/settings.bak" ::gcodes/part.gcode
    mcopy -i "$T/base.img" "$T/old.bin" ::FIRMWARE.CUR # what the bootloader renamed last time

    # A whole flash, for its messages and a count of the sectors it writes
    # (the bootloader's rename included).
    board
    expect_rc 0 run_flash
    expect_out "over $3"
    expect_last '^Flashed: the board now runs v2-new\.$'
    writes=$(field pc .card_writes)
    [ "$writes" -gt $(($2 / 512)) ] && pass || fail "a whole flash wrote only '$writes' sectors"
    stop_sim pc

    # Cut after write k, for k = 1, 2, ... until a run ends before its k-th
    # write: every write of a whole flash, however many that run takes (a
    # card operation tried again writes its sectors again).
    for ((k = 1; ; k += STRIDE)); do
        if ((k > 2 * writes)); then
            fail "flashes kept being cut up to write $k, though the first one took $writes"
            break
        fi
        board
        expect_rc 0 sim_ctl "$T/pc.ctl" power-cut after-writes "$k"
        background run_flash
        for _ in $(seq 600); do
            [ "$(field pc .counters.power_cuts)" = 1 ] && break
            kill -0 "$BG" 2>/dev/null || break
            sleep 0.05
        done
        if [ "$(field pc .counters.power_cuts)" != 1 ]; then
            # Not cut: the flash must have ended, whole, with fewer writes.
            bg_rc 0
            printf '%s\n' "$OUT" | grep -q '^Flashed: the board now runs v2-new\.$' && pass ||
                fail "the flash ended before write $k without flashing"
            done_at=$(field pc .card_writes)
            [ "$done_at" -lt "$k" ] && pass ||
                fail "the power was not cut at write $k: $(field pc '[.state, .card_writes]' | tr -d ' \n')"
            [ "$done_at" = "$writes" ] || echo "  (this flash wrote $done_at sectors, the first one $writes)"
            stop_sim pc
            break
        fi
        [ "$(field pc .state)/$(field pc .card_writes)" = "unplugged/$k" ] && pass ||
            fail "the power was not cut at write $k: $(field pc '[.state, .card_writes]' | tr -d ' \n')"
        sound "$k"
        # Power returns: the run ends by itself (with the board back, a run
        # cut in the bootloader's rename verifies), and a second run
        # flashes.  A second FAT copy left behind (a cut between the two)
        # is brought up to date first, and the run says so.
        expect_rc 0 sim_ctl "$T/pc.ctl" plug
        bg_end
        wait_up pc
        lagging=$(fsck.fat -n "$T/pc.img" 2>&1 | grep -c '^FATs differ')
        expect_rc 0 run_flash
        if [ "$lagging" = 1 ]; then expect_out "two FAT copies differed \(a write was cut short\); they were made the same again"; lagged=$((lagged + 1)); fi
        runs "$T/pc" v2-new
        fsck_after_run "$T/pc.img" "$k"
        fats_identical "$T/pc.img" "$k"
        same_file "$T/pc.img" FIRMWARE.CUR "$T/new.bin"
        same_file "$T/pc.img" "printer settings.bak" "$T/settings.bak"
        in_root MCUFLASH.TMP && fail "MCUFLASH.TMP left after a whole run (cut at $k)" || pass
        stop_sim pc
    done
}

lagged=0
# FAT32 at its smallest with 512-byte clusters (the FSInfo count), and FAT16.
cut_every_write btt-skr-mini-e3-v2 16384 'hardware SPI spi1' 36M '-F 32'
cut_every_write btt-skr2-f407 8192 'SDIO bus sdio' 64M '-F 16 -s 4'
# Some cut fell between the two FAT copies, so the repair was exercised.
[ "$STRIDE" != 1 ] || [ "$lagged" -gt 0 ] && pass || fail "no cut left the second FAT copy behind"

finish
