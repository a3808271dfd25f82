/* mcuflash-sim: a virtual Klipper board on a pseudo-terminal or a virtual
 * CAN bus.  Four modes: run a board (default), run a CAN bus (canbus),
 * talk to a running board's control socket (ctl), and write a fake
 * firmware image (make-firmware). */
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "moonraker.h"
#include "printer.h"
#include "sim.h"
#include "usb_sim.h"

int main(int argc, char **argv)
{
    /* The board's timing is kept to the microsecond; the kernel's default
     * 50 us of timer slack would add to every bus time it waits out. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (argc >= 2 && !strcmp(argv[1], "ctl"))
        return sim_ctl_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "canbus"))
        return sim_canbus_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "moonraker"))
        return sim_moonraker_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "printer"))
        return sim_printer_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "usb"))
        return sim_usb_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "make-firmware"))
        return sim_make_firmware_main(argc - 2, argv + 2);
    if (argc >= 2 && !strcmp(argv[1], "--version")) {
        printf("mcuflash-sim %s\n", MCUFLASH_VERSION);
        return 0;
    }
    return sim_run_main(argc - 1, argv + 1);
}
