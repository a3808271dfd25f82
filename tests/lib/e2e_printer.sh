# Helpers for end-to-end tests of a whole printer (source after e2e.sh):
# a virtual printer of several boards, and its printer.cfg.
. "$MF_TESTS/lib/e2e_can.sh"

OCT=btt-octopus-f446-v1   # main board: USB, Katapult at 0x08008000, SD card
SDMAIN=btt-skr-mini-e3-v2 # a main board whose bootloader flashes from the card on a reset
MINI=btt-skr-mini-v3      # UART board
EBB=stm32g0b1xx           # CAN toolheads, Katapult at 0x08002000
TH1=0a1b2c3d4e5f
TH2=112233445566

# start_printer: the main board ($MAIN_BOARD, default $OCT) on USB with a
# card (and Katapult, unless MAIN_BOOTLOADER is set: empty leaves its
# SD-card bootloader), two CAN
# toolheads with Katapult on the bus can0, a UART board with Katapult;
# printer.cfg in $T/cfg, its MCUs in included files.
start_printer() {
    new_card "$T/main.img"
    # shellcheck disable=SC2086
    start_sim main --board "${MAIN_BOARD:-$OCT}" ${MAIN_BOOTLOADER---bootloader katapult} --card "$T/main.img"
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


# fake_systemctl [STATE] [STUCK]: a systemctl on PATH that records each call
# in $T/systemctl.log and keeps the klipper unit's state (active/inactive)
# in $T/service.state; with STUCK, stop leaves it active.
fake_systemctl() {
    mkdir -p "$T/bin"
    echo "${1:-active}" >"$T/service.state"
    cat >"$T/bin/systemctl" <<EOS
#!/bin/bash
echo "\$*" >>"$T/systemctl.log"
case "\$1" in
    is-active) [ "\$(cat "$T/service.state")" = active ] ;;
    stop) [ -n "${2:-}" ] || echo inactive >"$T/service.state" ;;
    start) echo active >"$T/service.state" ;;
esac
EOS
    chmod +x "$T/bin/systemctl"
    : >"$T/systemctl.log"
    PATH="$T/bin:$PATH"
}
# systemctl_calls: the recorded calls, joined with '|'.
systemctl_calls() { paste -sd'|' "$T/systemctl.log"; }

# printer_state: every virtual board's version, mode, Katapult writes and
# COMPLETEs, and the main board's card image: equal before and after means
# nothing was touched.
printer_state() {
    for b in main uart th1 th2; do
        sim_ctl "$T/$b.ctl" status | jq -c '[.version, .mode, .katapult.completes, .katapult.blocks_written]'
    done
    img_sum "$T/main.img"
}

# start_update_printer: the printer with a main board flashed through its
# SD card, a recording systemctl (klipper running), and v2 images for
# every board: main.bin, uart.bin, th.bin, th2.bin.
start_update_printer() {
    MAIN_BOARD=$SDMAIN MAIN_BOOTLOADER="" start_printer
    fake_systemctl active
    make_fw "$T/main.bin" $SDMAIN v2-main
    make_fw "$T/uart.bin" $MINI v2-uart --app-address 0x08002000 --link uart:250000
    make_fw_mcu $EBB v2-th "$T/th.bin" --app-address 0x08002000 --link can
    make_fw_mcu $EBB v2-th2 "$T/th2.bin" --app-address 0x08002000 --link can
}

# update_order: the MCUs the last update ($OUT) flashed, in the order it
# tried them, separated by spaces.
update_order() { printf '%s\n' "$OUT" | sed -n 's/^Updating \([a-z0-9]*\) .*/\1/p' | paste -sd' '; }
