/* USB ids of Klipper's builds and of Katapult: the Klipper project's
 * allocation under the OpenMoko vendor id. */
#ifndef MF_METHOD_USBIDS_H
#define MF_METHOD_USBIDS_H

#define USB_VID_KLIPPER 0x1d50
#define USB_PID_KLIPPER 0x614e        /* Klipper's USB serial (usb_cdc.c) */
#define USB_PID_KLIPPER_BRIDGE 0x606f /* Klipper as a USB to CAN bridge */
#define USB_PID_KATAPULT 0x6177       /* Katapult's USB serial */

#endif
