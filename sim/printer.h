/* `mcuflash-sim printer`: a whole virtual printer in one command. */
#ifndef SIM_PRINTER_H
#define SIM_PRINTER_H

int sim_printer_main(int argc, char **argv);

#endif
