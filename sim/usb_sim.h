/* mcuflash-sim usb: run a command with a USB bootloader device plugged in
 * (docs/usb.md). */
#ifndef SIM_USB_SIM_H
#define SIM_USB_SIM_H

int sim_usb_main(int argc, char **argv);

#endif
