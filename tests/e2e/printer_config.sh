#!/bin/bash
# An MCU of printer.cfg as the TARGET of mcuflash flash: found through an
# [include] glob, reached as Klipper reaches it (serial and baud, or its CAN
# node); an unknown name lists the MCUs; a broken printer.cfg is named by
# file and line; nothing is touched when the name does not resolve.
. "$MF_TESTS/lib/e2e.sh"
. "$MF_TESTS/lib/e2e_printer.sh"
start_printer

# The main board by name, over USB.
make_fw "$T/main.bin" $OCT v2-main --app-address 0x08008000
expect_rc 0 "$MCUFLASH" flash --config "$CFG" -f "$T/main.bin" -d "$T/main.bin.dict" mcu
expect_last "^Flashed: the board now runs v2-main\.$"
runs "$T/main" v2-main

# A CAN toolhead by name, from the included file.
make_fw_mcu $EBB v2-th "$T/th.bin" --app-address 0x08002000 --link can
th2_before=$(field th2 .version)
expect_rc 0 "$MCUFLASH" flash --config "$CFG" -f "$T/th.bin" -d "$T/th.bin.dict" toolhead
expect_out "In Katapult .* on sim:$T/can0"
expect_last "^Flashed: the board now runs v2-th\.$"
[ "$(field th1 .version)" = v2-th ] && [ "$(field th2 .version)" = "$th2_before" ] && pass || fail "toolhead by name"

# The UART board at the baud printer.cfg gives: -c (the board still runs
# its old build) repeats the device and that baud in its advice; -b wins.
make_fw "$T/uart.bin" $MINI v2-uart --app-address 0x08002000 --link uart:250000
sed -i 's/^baud: 250000/baud: 115200/' "$T/cfg/mcus/uart.cfg"
expect_rc 9 "$MCUFLASH" flash --config "$CFG" -c -f "$T/uart.bin" uartboard
expect_out "'mcuflash flash -c -b 115200 -f $T/uart.bin $T/uart'"
expect_rc 9 "$MCUFLASH" flash --config "$CFG" -c -b 230400 -f "$T/uart.bin" uartboard
expect_out "'mcuflash flash -c -b 230400 -f $T/uart.bin $T/uart'"
sed -i 's/^baud: 115200/baud: 250000/' "$T/cfg/mcus/uart.cfg"

# Unknown names list the MCUs; nothing is touched.
completes=$(field th1 .katapult.completes)
expect_rc 2 "$MCUFLASH" flash --config "$CFG" -f "$T/th.bin" nozzle
expect_out "'nozzle' is neither a device nor an MCU of $CFG \(its MCUs: mcu, toolhead, toolhead2, uartboard\)"
[ "$(field th1 .katapult.completes)" = "$completes" ] && pass || fail "an unknown name touched a board"

# A syntax error in an included file is named by file and line.
printf '[mcu broken\nserial: /dev/null\n' >"$T/cfg/mcus/zz.cfg"
expect_rc 6 "$MCUFLASH" flash --config "$CFG" -f "$T/th.bin" toolhead
expect_out "$T/cfg/mcus/zz.cfg.* 1"
# So is a restart_method Klipper does not know.
printf '[mcu spare]\nserial: /dev/null\n\nrestart_method: reboot\n' >"$T/cfg/mcus/zz.cfg"
expect_rc 6 "$MCUFLASH" status --config "$CFG"
expect_out "^mcuflash: $T/cfg/mcus/zz.cfg line 4: restart_method 'reboot' in \[mcu spare\] is none of Klipper's \(arduino, cheetah, command, rpi_usb\); nothing was done"
rm "$T/cfg/mcus/zz.cfg"
# A folder given as printer.cfg or included, and a file with no [mcu], are
# refused rather than read as a printer without MCUs.
expect_rc 6 "$MCUFLASH" status --config "$T/cfg"
expect_out "^mcuflash: Cannot read the printer configuration $T/cfg \(Is a directory\); nothing was done"
printf '[printer]\nkinematics: none\n' >"$T/nomcu.cfg"
expect_rc 6 "$MCUFLASH" status --config "$T/nomcu.cfg"
expect_out "^mcuflash: $T/nomcu.cfg has no \[mcu\] section, which every Klipper printer.cfg has; nothing was done"
mkdir "$T/cfg/mcus/zz.cfg"
expect_rc 6 "$MCUFLASH" status --config "$CFG"
expect_out "includes $T/cfg/mcus/zz.cfg, which cannot be read \(Is a directory\)"
rmdir "$T/cfg/mcus/zz.cfg"

# Without --config, the default place in $HOME; without one there, a clear refusal.
mkdir -p "$T/home/printer_data/config"
expect_rc 6 env HOME="$T/home" "$MCUFLASH" flash -f "$T/th.bin" toolhead
expect_out "no printer.cfg in $T/home/printer_data/config or $T/home.*--config FILE"
cp -r "$T/cfg/." "$T/home/printer_data/config/"
expect_rc 0 env HOME="$T/home" "$MCUFLASH" flash -c -f "$T/main.bin" -d "$T/main.bin.dict" mcu
expect_out "v2-main"
# info takes a name too, a CAN node included.
expect_rc 0 env HOME="$T/home" "$MCUFLASH" info toolhead2
expect_out "^Device: +CAN node $TH2 on sim:$T/can0$"
expect_out "^MCU: +$EBB$"
expect_rc 0 env HOME="$T/home" "$MCUFLASH" info uartboard
expect_out "^Device: +$T/uart$"
expect_rc 2 env HOME="$T/home" "$MCUFLASH" info nozzle
expect_out "'nozzle' is neither a device nor an MCU"

# A port held while the Klipper service runs: the message names the service.
fake_systemctl active
sleep 30 <"$T/uart" &
holder=$!
sleep 0.2
expect_rc 3 "$MCUFLASH" flash --config "$CFG" -f "$T/uart.bin" uartboard
expect_out "^mcuflash: $T/uart is in use by pid $holder \(sleep 30\); nothing was sent to the board; the klipper service runs: stop it first \(sudo systemctl stop klipper\)"
echo inactive >"$T/service.state"
expect_rc 3 "$MCUFLASH" flash --config "$CFG" -f "$T/uart.bin" uartboard
expect_out "in use by pid $holder \(sleep 30\); nothing was sent"
expect_no_out "klipper service runs"
kill $holder; wait $holder 2>/dev/null
finish
