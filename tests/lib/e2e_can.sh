# Helpers for end-to-end tests with a virtual CAN bus (source after e2e.sh).

# start_bus NAME ARGS...: run `mcuflash-sim canbus --path $T/NAME`; wait for the socket.
start_bus() {
    name=$1; shift
    "$MCUFLASH_SIM" canbus --path "$T/$name" "$@" >"$T/$name.log" 2>&1 &
    SIM_PIDS="$SIM_PIDS $!"
    for _ in $(seq 100); do
        [ -S "$T/$name" ] && return 0
        sleep 0.05
    done
    echo "virtual CAN bus $name did not start:"; cat "$T/$name.log"
    exit 1
}

# start_can_board NAME BUS UUID ARGS...: a board on bus $T/BUS with control
# socket $T/NAME.ctl; wait until it runs.
start_can_board() {
    name=$1 bus=$2 uuid=$3; shift 3
    "$MCUFLASH_SIM" --control "$T/$name.ctl" --link "can:$T/$bus" --canbus-uuid "$uuid" "$@" \
        >"$T/$name.log" 2>&1 &
    SIM_PIDS="$SIM_PIDS $!"
    for _ in $(seq 100); do
        if [ -S "$T/$name.ctl" ] && "$MCUFLASH_SIM" ctl "$T/$name.ctl" status 2>/dev/null |
            grep -q '"state":"running"'; then
            return 0
        fi
        sleep 0.05
    done
    echo "virtual CAN board $name did not start:"; cat "$T/$name.log"
    exit 1
}
