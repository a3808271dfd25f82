#!/bin/bash
# mcuflash fwinfo on firmware images built here with shell tools only: a
# plain image with an embedded zlib dictionary, the same image MKS Robin- and
# Chitu-encoded (encoders written here from the format descriptions), an
# image without a dictionary and a cut-off one.
. "$MF_TESTS/lib/e2e.sh"
dir=$T
expect_json_object() { # one line, one object
    [ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] || fail "JSON output is not one line: $1"
    printf '%s' "$1" | grep -q '^{.*}$' || fail "JSON output is not an object: $1"
}

# Bytes <-> decimal arrays, with bash builtins only.
read_bytes() { # read_bytes FILE -> global array B
    read -r -d '' -a B < <(od -An -v -tu1 "$1")
}
emit_bytes() { # emit_bytes VALUES... -> those bytes on stdout
    local hex
    printf -v hex '\\x%02x' "$@"
    printf '%b' "$hex"
}
pseudo_random() { # pseudo_random N -> N reproducible bytes on stdout
    openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 \
        -nosalt < /dev/zero 2>/dev/null | head -c "$1"
}

# zlib stream = 78 DA + the raw deflate data gzip writes + big-endian Adler-32.
zlib_compress() { # zlib_compress IN OUT
    local a=1 b=0 v len
    read_bytes "$1"
    for v in "${B[@]}"; do
        a=$(((a + v) % 65521))
        b=$(((b + a) % 65521))
    done
    gzip -9 -n -c "$1" > "$2.gz"
    len=$(stat -c %s "$2.gz")
    {
        printf '\x78\xda'
        tail -c +11 "$2.gz" | head -c $((len - 18))
        emit_bytes $((b >> 8)) $((b & 255)) $((a >> 8)) $((a & 255))
    } > "$2"
    rm -f "$2.gz"
}

dict='{"app":"Klipper","build_versions":"gcc: (15:12.2.rel1-1) 12.2.1 binutils: 2.40","commands":{"get_uptime":5,"identify offset=%u count=%c":1,"reset":14},"config":{"CLOCK_FREQ":72000000,"MCU":"stm32f103xe"},"enumerations":{"pin":{"PA0":[0,16]}},"license":"GNU GPLv3","responses":{"identify_response offset=%u data=%.*s":0,"uptime high=%u clock=%u":79},"version":"v0.12.0-385-g0b2a4d8e"}'
printf '%s' "$dict" > "$dir/klipper.dict"
zlib_compress "$dir/klipper.dict" "$dir/dict.z"
zlen=$(stat -c %s "$dir/dict.z")
offset=1001
{
    pseudo_random $offset
    cat "$dir/dict.z"
    pseudo_random 3000 | tail -c 2500
} > "$dir/klipper.bin"
size=$(stat -c %s "$dir/klipper.bin")

# --- plain image ---------------------------------------------------------
out=$("$MCUFLASH" fwinfo "$dir/klipper.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a plain image exited $rc"
sha=$(sha1sum "$dir/klipper.bin" | cut -d' ' -f1)
expect_in "$out" "file:           $dir/klipper.bin"
expect_in "$out" "size:           $size bytes"
expect_in "$out" "sha1:           $sha"
expect_in "$out" "encoding:       plain"
expect_in "$out" "app:            Klipper"
expect_in "$out" "mcu:            stm32f103xe"
expect_in "$out" "version:        v0.12.0-385-g0b2a4d8e"
expect_in "$out" "build versions: gcc: (15:12.2.rel1-1) 12.2.1 binutils: 2.40"
expect_in "$out" "dictionary:     $zlen bytes compressed at offset $offset (0x3e9), ${#dict} bytes of JSON"

out=$("$MCUFLASH" fwinfo --json "$dir/klipper.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo --json on a plain image exited $rc"
expect_json_object "$out"
expect_in "$out" "\"sha1\":\"$sha\""
expect_in "$out" "\"size\":$size"
expect_in "$out" '"encoding":"plain"'
expect_in "$out" '"status":"found"'
expect_in "$out" "\"offset\":$offset"
expect_in "$out" "\"compressed_size\":$zlen"
expect_in "$out" '"mcu":"stm32f103xe"'
expect_in "$out" '"version":"v0.12.0-385-g0b2a4d8e"'

# --- MKS Robin: XOR bytes 320..31039 with the 32-byte key ------------------
robin_key=(0xA3 0xBD 0xAD 0x0D 0x41 0x11 0xBB 0x8D 0xDC 0x80 0x2D 0xD0 0xD2 0xC4 0x9B 0x1E
           0x26 0xEB 0xE3 0x33 0x4A 0x15 0xE4 0x0A 0xB3 0xB1 0x3C 0x93 0xBB 0xAF 0xF7 0x3E)
read_bytes "$dir/klipper.bin"
for ((pos = 320; pos < ${#B[@]} && pos < 31040; pos++)); do
    B[pos]=$((B[pos] ^ robin_key[pos & 31]))
done
emit_bytes "${B[@]}" > "$dir/Robin_e3.bin"
out=$("$MCUFLASH" fwinfo "$dir/Robin_e3.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a Robin image exited $rc"
expect_in "$out" "encoding:       MKS Robin"
expect_in "$out" "mcu:            stm32f103xe"
expect_in "$out" "at offset $offset (0x3e9) of the decoded image"
out=$("$MCUFLASH" fwinfo --json "$dir/Robin_e3.bin")
expect_json_object "$out"
expect_in "$out" '"encoding":"mks-robin"'
expect_in "$out" '"mcu":"stm32f103xe"'

# --- Chitu .cbd --------------------------------------------------------------
md5=$(md5sum "$dir/klipper.bin" | cut -c1-8)
key=$((16#$md5))
read_bytes "$dir/klipper.bin"
while (( ${#B[@]} % 2048 )); do B+=(48 120 48); done   # "0x0"
crc=$((0xEF3D4323))
for ((b = 0; b < ${#B[@]} / 2048; b++)); do
    for ((i = 0; i < 2048; i++)); do
        s=$((((i * i + b * 0x4BAD) & 0xFFFFFFFF) >> (i % 24)))
        B[b * 2048 + i]=$((B[b * 2048 + i] ^ (key & 255) ^ (s & 255)))
    done
done
for ((w = 0; w < ${#B[@]}; w += 4)); do
    crc=$((crc ^ (B[w] | B[w + 1] << 8 | B[w + 2] << 16 | B[w + 3] << 24)))
done
le32() { echo $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# shellcheck disable=SC2046
emit_bytes 0x44 0x3D 0x2D 0x3F $(le32 $key) $(le32 $crc) "${B[@]}" > "$dir/update.cbd"
out=$("$MCUFLASH" fwinfo "$dir/update.cbd"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a Chitu file exited $rc"
expect_in "$out" "encoding:       Chitu .cbd (decoded"
expect_in "$out" "decoded size:   $size bytes"
expect_in "$out" "mcu:            stm32f103xe"
out=$("$MCUFLASH" fwinfo --json "$dir/update.cbd")
expect_json_object "$out"
expect_in "$out" '"encoding":"chitu"'
expect_in "$out" "\"decoded_size\":$size"
expect_in "$out" '"version":"v0.12.0-385-g0b2a4d8e"'

# A damaged Chitu file is described, not an error.
cbd_size=$(stat -c %s "$dir/update.cbd")
{ head -c 100 "$dir/update.cbd"; printf 'X'; tail -c $((cbd_size - 101)) "$dir/update.cbd"; } > "$dir/bad.cbd"
out=$("$MCUFLASH" fwinfo "$dir/bad.cbd"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a damaged Chitu file exited $rc"
expect_in "$out" "encoding:       Chitu .cbd, damaged"
expect_in "$out" "checksum"

# --- no dictionary -------------------------------------------------------
pseudo_random 5000 > "$dir/other.bin"
out=$("$MCUFLASH" fwinfo "$dir/other.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on an image without a dictionary exited $rc"
expect_in "$out" "no Klipper dictionary found; the image may be converted or encrypted, or not a Klipper build"
expect_in "$out" "encoding:       unknown"
out=$("$MCUFLASH" fwinfo --json "$dir/other.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo --json on an image without a dictionary exited $rc"
expect_json_object "$out"
expect_in "$out" '"encoding":null'
expect_in "$out" '"status":"none"'

# --- cut off inside the dictionary ---------------------------------------
head -c $((offset + zlen / 2)) "$dir/klipper.bin" > "$dir/cut.bin"
out=$("$MCUFLASH" fwinfo "$dir/cut.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a cut-off image exited $rc"
expect_in "$out" "cut off: one starts at offset $offset"
out=$("$MCUFLASH" fwinfo --json "$dir/cut.bin")
expect_json_object "$out"
expect_in "$out" '"status":"truncated"'

# --- the virtual board's image maker --------------------------------------
"$MCUFLASH_SIM" make-firmware --mcu stm32f407xx --version-string v9.9.9-fwinfo -o "$dir/sim.bin" \
    --dict-out "$dir/sim.dict" >/dev/null || fail "make-firmware failed"
out=$("$MCUFLASH" fwinfo "$dir/sim.bin"); rc=$?
[ $rc -eq 0 ] || fail "fwinfo on a make-firmware image exited $rc"
expect_in "$out" "stm32f407xx"
expect_in "$out" "v9.9.9-fwinfo"

finish
