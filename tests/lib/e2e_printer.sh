# Helpers for end-to-end tests of a whole printer (source after sdcard_lib.sh):
# a virtual printer of several boards, and its printer.cfg.
. "$MF_TESTS/lib/e2e_can.sh"

OCT=btt-octopus-f446-v1   # main board: USB, Katapult at 0x08008000, SD card
MINI=btt-skr-mini-v3      # UART board
EBB=stm32g0b1xx           # CAN toolheads, Katapult at 0x08002000
TH1=0a1b2c3d4e5f
TH2=112233445566

# start_printer: the main board on USB with a card, two CAN toolheads with
# Katapult on the bus can0, a UART board; printer.cfg in $T/cfg, its MCUs
# in an included file.
start_printer() {
    new_card "$T/main.img"
    start_sim main --board $OCT --bootloader katapult --card "$T/main.img"
    start_sim uart --board $MINI --link uart:250000 --bootloader katapult
    start_bus can0 --bitrate 1000000
    start_can_board th1 can0 $TH1 --mcu $EBB --bootloader katapult
    start_can_board th2 can0 $TH2 --mcu $EBB --bootloader katapult
    mkdir -p "$T/cfg/mcus"
    printf '[include mcus/*.cfg]\n\n[mcu]\nserial: %s\n\n[printer]\nkinematics: corexy\n' "$T/main" >"$T/cfg/printer.cfg"
    printf '[mcu uartboard]\nserial: %s\nbaud: 250000\n' "$T/uart" >"$T/cfg/mcus/uart.cfg"
    printf '[mcu toolhead]\ncanbus_uuid: %s\ncanbus_interface: sim:%s\n\n[mcu toolhead2]\ncanbus_uuid: %s\ncanbus_interface: sim:%s\n' \
        $TH1 "$T/can0" $TH2 "$T/can0" >"$T/cfg/mcus/toolheads.cfg"
    CFG="$T/cfg/printer.cfg"
}

# make_fw_mcu MCU VERSION OUT ARGS...: an image for an MCU type and OUT.dict.
make_fw_mcu() {
    "$MCUFLASH_SIM" make-firmware --mcu "$1" --version-string "$2" -o "$3" --dict-out "$3.dict" "${@:4}" \
        >/dev/null || fail "make-firmware $*"
}
