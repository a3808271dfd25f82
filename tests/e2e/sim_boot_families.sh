#!/bin/bash
# The virtual board's SD-card bootloaders, one board of each family: the
# firmware is put on the card image with mtools (encoded by a small encoder
# written here from the reference, not by mcuflash), the board boots or is
# reset through its control socket, and the result is checked with mcuflash
# info (the running version), mdir (renames), fsck.fat -n and the counters.
. "$MF_TESTS/lib/e2e.sh"

# --- helpers ----------------------------------------------------------------------

# make_fw OUT ARGS...
make_fw() { out=$1; shift; "$MCUFLASH_SIM" make-firmware -o "$out" "$@" >/dev/null || fail "make-firmware $*"; }
# put CARD LOCAL NAME
put() { mcopy -o -i "$T/$1.img" "$2" "::$3" || fail "mcopy $2 to ::$3"; }
# root CARD: the root folder's names, space-separated, in directory order.
root() { mdir -b -i "$T/$1.img" :: 2>/dev/null | sed 's|^::/||' | tr '\n' ' ' | sed 's/ $//'; }
size_of() { mcopy -n -i "$T/$1.img" "::$2" - 2>/dev/null | wc -c; }
# boot BOARD reset|power-cycle
boot() { sim_ctl "$T/$1.ctl" "$2" >/dev/null || fail "$2 $1"; wait_up "$1"; }
# want BOARD JQ VALUE: a status field, exactly.
want() {
    got=$(field "$1" "$2")
    [ "$got" = "$3" ] && pass || fail "$1 $2 is '$got', wanted '$3'"
}
# result BOARD REGEX: the bootloader's last result.
result() {
    got=$(field "$1" .bootloader.result)
    printf '%s\n' "$got" | grep -Eq -- "$2" && pass || fail "$1 bootloader result '$got' lacks /$2/"
}
# files BOARD "NAMES": the card's root holds exactly these, in this order.
files() { [ "$(root "$1")" = "$2" ] && pass || fail "$1 card holds '$(root "$1")', wanted '$2'"; }
clean() {
    if fsck.fat -n "$T/$1.img" >/dev/null 2>&1; then pass; else fail "fsck.fat -n $1.img:"; fsck.fat -n "$T/$1.img"; fi
}
runs() {
    expect_rc 0 "$MCUFLASH" info "$T/$1"
    expect_out "^Version: +$2\$"
}

# Encoders from the reference (sdcard-fat.md section 4), for the test only.
cat >"$T/enc.c" <<'EOF'
/* enc robin IN OUT: MKS Robin XOR; enc chitu IN OUT KEY: Chitu .cbd, KEY =
 * the first 8 hex digits of MD5(IN). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buf[1 << 22];

static void le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int main(int argc, char **argv)
{
    static const uint8_t key[32] = { 0xA3, 0xBD, 0xAD, 0x0D, 0x41, 0x11, 0xBB, 0x8D, 0xDC, 0x80, 0x2D,
                                     0xD0, 0xD2, 0xC4, 0x9B, 0x1E, 0x26, 0xEB, 0xE3, 0x33, 0x4A, 0x15,
                                     0xE4, 0x0A, 0xB3, 0xB1, 0x3C, 0x93, 0xBB, 0xAF, 0xF7, 0x3E };
    FILE *in = argc >= 4 ? fopen(argv[2], "rb") : NULL;
    if (!in)
        return 2;
    size_t n = fread(buf, 1, sizeof(buf) - 8192, in);
    fclose(in);
    FILE *out = fopen(argv[3], "wb");
    if (!strcmp(argv[1], "robin")) {
        for (size_t i = 320; i < n && i < 31040; i++)
            buf[i] ^= key[i & 31];
        fwrite(buf, 1, n, out);
    } else {
        uint32_t k32 = (uint32_t)strtoul(argv[4], NULL, 16);
        size_t pad = (2048 - n % 2048) % 2048 * 683 % 2048;
        for (size_t j = 0; j < pad; j++, n += 3)
            memcpy(buf + n, "0x0", 3);
        uint32_t sum = 0xEF3D4323;
        for (size_t i = 0; i < n; i++) {
            uint32_t b = (uint32_t)(i / 2048), p = (uint32_t)(i % 2048);
            buf[i] ^= (uint8_t)(k32 ^ ((p * p + b * 0x4BAD) >> (p % 24)));
        }
        for (size_t i = 0; i < n; i += 4)
            sum ^= (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8 | (uint32_t)buf[i + 2] << 16 |
                   (uint32_t)buf[i + 3] << 24;
        uint8_t head[12] = { 0x44, 0x3D, 0x2D, 0x3F };
        le32(head + 4, k32);
        le32(head + 8, sum);
        fwrite(head, 1, 12, out);
        fwrite(buf, 1, n, out);
    }
    return fclose(out) ? 1 : 0;
}
EOF
if ! ${CC:-cc} -O2 -o "$T/enc" "$T/enc.c"; then fail "cannot build the test encoder"; finish; exit 1; fi
robin() { "$T/enc" robin "$1" "$2" || fail "robin $1"; }
chitu() { "$T/enc" chitu "$1" "$2" "$(md5sum "$1" | cut -c1-8)" || fail "chitu $1"; }
: >"$T/empty"
printf 'old' >"$T/three"

# --- LPC176x (BTT SKR 1.4): delete FIRMWARE.CUR, rename; empty files stay ---------
new_card "$T/lpc.img"
make_fw "$T/lpc.bin" --board btt-skr-v1.4 --version-string v1-lpc
put lpc "$T/three" firmware.cur
put lpc "$T/lpc.bin" firmware.bin
start_sim lpc --board btt-skr-v1.4 --card "$T/lpc.img"
want lpc .bootloader.family lpc176x
result lpc '^flashed firmware.bin \(32768 bytes, version v1-lpc\); renamed to FIRMWARE.CUR$'
want lpc .bootloader.flashes 1
files lpc FIRMWARE.CUR
[ "$(size_of lpc FIRMWARE.CUR)" = 32768 ] && pass || fail "FIRMWARE.CUR is not the flashed image"
clean lpc
runs lpc v1-lpc
put lpc "$T/empty" firmware.bin
boot lpc reset
result lpc '^firmware.bin is too short \(0 bytes\): not flashed'
files lpc "FIRMWARE.CUR firmware.bin"
want lpc .bootloader.flashes 1
want lpc .bootloader.runs 2

# --- BTT SPI slot (SKR mini E3 v2): rename; even an empty file; foreign images ------
new_card "$T/mini.img"
make_fw "$T/mini.bin" --board btt-skr-mini-e3-v2 --version-string v1-mini
put mini "$T/mini.bin" firmware.bin
start_sim mini --board btt-skr-mini-e3-v2 --card "$T/mini.img"
result mini '^flashed firmware.bin \(32768 bytes, version v1-mini\); renamed to FIRMWARE.CUR$'
files mini FIRMWARE.CUR
runs mini v1-mini
put mini "$T/empty" firmware.bin
boot mini reset
result mini '^firmware.bin is empty: nothing flashed; renamed to FIRMWARE.CUR$'
files mini FIRMWARE.CUR
[ "$(size_of mini FIRMWARE.CUR)" = 0 ] && pass || fail "the empty file did not replace FIRMWARE.CUR"
want mini .bootloader.flashes 1
runs mini v1-mini
# An image for another MCU is refused and left on the card.
make_fw "$T/f407.bin" --mcu stm32f407xx --version-string v9-f407
put mini "$T/f407.bin" firmware.bin
boot mini reset
result mini '^image for MCU stm32f407xx refused: firmware.bin is left on the card'
files mini "FIRMWARE.CUR firmware.bin"
want mini .bootloader.flashes 1
runs mini v1-mini
clean mini
# An image without a Klipper dictionary is flashed; the board then says nothing.
head -c 20000 /dev/zero | tr '\0' 'k' >"$T/notklipper.bin"
put mini "$T/notklipper.bin" firmware.bin
boot mini reset
result mini '^flashed firmware.bin \(20000 bytes, no Klipper dictionary'
want mini .firmware "not klipper"
want mini .bootloader.flashes 2
expect_rc 3 "$MCUFLASH" info "$T/mini"
make_fw "$T/mini2.bin" --board btt-skr-mini-e3-v2 --version-string v2-mini --seed 2
put mini "$T/mini2.bin" firmware.bin
boot mini power-cycle
want mini .firmware klipper
runs mini v2-mini
clean mini

# --- FYSETC S6: renames to OLD.BIN but never deletes one, so it flashes every boot ---
new_card "$T/s6.img"
make_fw "$T/s6a.bin" --board fysetc-s6-v2 --version-string v1-s6
make_fw "$T/s6b.bin" --board fysetc-s6-v2 --version-string v2-s6 --seed 2
put s6 "$T/s6a.bin" firmware.bin
start_sim s6 --board fysetc-s6-v2 --card "$T/s6.img"
want s6 .bootloader.family fysetc
result s6 '; renamed to OLD.BIN$'
files s6 OLD.BIN
put s6 "$T/s6b.bin" firmware.bin
boot s6 reset
result s6 '^flashed firmware.bin \(32768 bytes, version v2-s6\); rename failed: OLD.BIN exists$'
want s6 .bootloader.flashes 2
runs s6 v2-s6
boot s6 reset
want s6 .bootloader.flashes 3
boot s6 power-cycle
want s6 .bootloader.flashes 4
files s6 "OLD.BIN firmware.bin"
[ "$(size_of s6 OLD.BIN)" = 32768 ] && pass || fail "OLD.BIN changed"
clean s6

# --- Mellow Fly (Flyboard mini): FLY.CUR, replacing one already there --------------
new_card "$T/fly.img"
make_fw "$T/fly.bin" --board flyboard-mini --version-string v1-fly
put fly "$T/three" FLY.CUR
put fly "$T/fly.bin" firmware.bin
start_sim fly --board flyboard-mini --card "$T/fly.img"
result fly '^flashed firmware.bin .*; renamed to FLY.CUR$'
files fly FLY.CUR
[ "$(size_of fly FLY.CUR)" = 32768 ] && pass || fail "FLY.CUR was not replaced"
runs fly v1-fly
clean fly

# --- Elegoo ZNP and QIDI: their own names, matched in any case ---------------------
new_card "$T/znp.img"
make_fw "$T/znp.bin" --board znp-robin-nano-dw-v2.2 --version-string v1-znp
put znp "$T/znp.bin" znp_robin_nano.bin
start_sim znp --board znp-robin-nano-dw-v2.2 --card "$T/znp.img"
result znp '^flashed znp_robin_nano.bin \(32768 bytes, version v1-znp\); renamed to ZNP_ROBIN_NANO.CUR$'
files znp ZNP_ROBIN_NANO.CUR
runs znp v1-znp
clean znp
new_card "$T/qidi.img"
make_fw "$T/qidi.bin" --board qidi-x-plus3 --version-string v1-qidi
put qidi "$T/qidi.bin" X_4.bin
start_sim qidi --board qidi-x-plus3 --card "$T/qidi.img"
result qidi '; renamed to X_4.CUR$'
files qidi X_4.CUR
runs qidi v1-qidi
clean qidi

# --- MKS Robin E3: XOR-encoded Robin_e3.bin, renamed to Robin_e3.cur ---------------
new_card "$T/e3.img"
make_fw "$T/e3.bin" --board mks-robin-e3 --version-string v1-e3
robin "$T/e3.bin" "$T/e3.enc"
cmp -s "$T/e3.bin" "$T/e3.enc" && fail "the Robin encoder changed nothing" || pass
put e3 "$T/e3.enc" Robin_e3.bin
start_sim e3 --board mks-robin-e3 --card "$T/e3.img"
result e3 '^flashed Robin_e3.bin \(32768 bytes, version v1-e3\); renamed to Robin_e3.cur$'
files e3 Robin_e3.cur
runs e3 v1-e3
clean e3
# A plain image is scrambled by the bootloader's decoding: the board goes silent.
put e3 "$T/e3.bin" Robin_e3.bin
boot e3 reset
result e3 'no Klipper dictionary'
want e3 .firmware "not klipper"

# --- MKS Robin Nano v1.2: encoded, keeps its name, so it flashes at every boot ------
new_card "$T/nano.img"
make_fw "$T/nano.bin" --board mks-robin-v12 --version-string v1-nano
robin "$T/nano.bin" "$T/nano.enc"
put nano "$T/nano.enc" ROBIN_NANO35.BIN
start_sim nano --board mks-robin-v12 --card "$T/nano.img"
want nano .bootloader.card_access sd
result nano '^flashed ROBIN_NANO35.BIN \(32768 bytes, version v1-nano\); left as ROBIN_NANO35.BIN$'
runs nano v1-nano
boot nano reset
want nano .bootloader.flashes 2
files nano ROBIN_NANO35.BIN
clean nano

# --- Creality v4.2.2: any new *.bin; remembers the last name; renames nothing -------
new_card "$T/cr.img"
make_fw "$T/cra.bin" --board creality-v4.2.2 --version-string v1-cr
make_fw "$T/crb.bin" --board creality-v4.2.2 --version-string v2-cr --seed 2
put cr "$T/cra.bin" 20260101000000firmware.bin
start_sim cr --board creality-v4.2.2 --card "$T/cr.img"
want cr .bootloader.family unique-name
result cr '^flashed 20260101000000firmware.bin \(32768 bytes, version v1-cr\)'
want cr .bootloader.last_name 20260101000000firmware.bin
runs cr v1-cr
boot cr power-cycle
result cr '^no file'
want cr .bootloader.flashes 1
put cr "$T/crb.bin" 20260202000000firmware.BIN
boot cr power-cycle
result cr '^flashed 20260202000000firmware.BIN \(32768 bytes, version v2-cr\)'
runs cr v2-cr
# The older file is not the last one flashed any more, so it goes in again.
boot cr power-cycle
result cr '^flashed 20260101000000firmware.bin \(32768 bytes, version v1-cr\)'
want cr .bootloader.flashes 3
files cr "20260101000000firmware.bin 20260202000000firmware.BIN"
clean cr

# --- Chitu v6: update.cbd, checksum checked, not renamed ----------------------------
new_card "$T/chitu.img"
make_fw "$T/chitu.bin" --board chitu-v6 --version-string v1-chitu --size 30000
chitu "$T/chitu.bin" "$T/chitu.cbd"
put chitu "$T/chitu.cbd" update.cbd
start_sim chitu --board chitu-v6 --card "$T/chitu.img"
result chitu '^flashed update.cbd \(30000 bytes, version v1-chitu\); left as update.cbd$'
runs chitu v1-chitu
files chitu update.cbd
# Power returning after an unplug is a boot too: nothing renamed it, so again.
sim_ctl "$T/chitu.ctl" unplug >/dev/null
sim_ctl "$T/chitu.ctl" plug >/dev/null
wait_up chitu
want chitu .bootloader.flashes 2
make_fw "$T/chitu2.bin" --board chitu-v6 --version-string v2-chitu --size 30000
chitu "$T/chitu2.bin" "$T/chitu2.cbd"
printf 'X' | dd of="$T/chitu2.cbd" bs=1 seek=5000 conv=notrunc 2>/dev/null
put chitu "$T/chitu2.cbd" update.cbd
boot chitu power-cycle
result chitu '^checksum failed: update.cbd not flashed$'
want chitu .bootloader.flashes 2
runs chitu v1-chitu
clean chitu

# --- SD-mode bootloaders and a card left in SPI mode --------------------------------
# SKR 2: the bootloader reads the slot in SD mode; the firmware can reach it
# over SDIO (no mode change) or software SPI (the card stays in SPI mode).
new_card "$T/skr2.img"
make_fw "$T/skr2a.bin" --board btt-skr2-f407 --version-string v1-skr2
make_fw "$T/skr2b.bin" --board btt-skr2-f407 --version-string v2-skr2 --seed 2
make_fw "$T/skr2c.bin" --board btt-skr2-f407 --version-string v3-skr2 --seed 3 --dict-out "$T/skr2c.dict"
put skr2 "$T/skr2a.bin" firmware.bin
start_sim skr2 --board btt-skr2-f407 --card "$T/skr2.img"
want skr2 .bootloader.card_access sd
result skr2 '^flashed firmware.bin \(32768 bytes, version v1-skr2\); renamed to FIRMWARE.CUR$'
put skr2 "$T/skr2b.bin" firmware.bin
expect_rc 0 "$MCUFLASH" card ls "$T/skr2" --spi-pins PC8,PD2,PC12 --cs-pin PC11
expect_out 'firmware.bin'
wait_up skr2
want skr2 .card_spi_mode true
result skr2 '^card not readable in SD mode \(card in SPI mode\)'
runs skr2 v1-skr2
files skr2 "FIRMWARE.CUR firmware.bin"
boot skr2 power-cycle
result skr2 '^flashed firmware.bin \(32768 bytes, version v2-skr2\)'
runs skr2 v2-skr2
# Over SDIO the card never leaves SD mode: flashed and verified at once.
expect_rc 0 "$MCUFLASH" sdcard -f "$T/skr2c.bin" -d "$T/skr2c.dict" "$T/skr2" btt-skr2-f407
expect_out 'runs the new firmware \(v3-skr2\)'
runs skr2 v3-skr2
clean skr2

# Octopus: only software SPI reaches the slot, so a reset cannot flash; a power
# cycle does.
new_card "$T/oct.img"
make_fw "$T/oct.bin" --board btt-octopus-f446-v1 --version-string v2-oct --dict-out "$T/oct.dict"
start_sim oct --board btt-octopus-f446-v1 --card "$T/oct.img"
result oct '^no file'
expect_rc 9 "$MCUFLASH" sdcard -f "$T/oct.bin" -d "$T/oct.dict" "$T/oct" btt-octopus-f446-v1
wait_up oct
result oct 'card in SPI mode'
want oct .bootloader.flashes 0
files oct firmware.bin
boot oct power-cycle
result oct '^flashed firmware.bin \(32768 bytes, version v2-oct\); renamed to FIRMWARE.CUR$'
runs oct v2-oct
expect_rc 0 "$MCUFLASH" sdcard -c -f "$T/oct.bin" -d "$T/oct.dict" "$T/oct" btt-octopus-f446-v1
clean oct

finish
