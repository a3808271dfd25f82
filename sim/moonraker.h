/* `mcuflash-sim moonraker`: Moonraker's service API, faked for tests. */
#ifndef SIM_MOONRAKER_H
#define SIM_MOONRAKER_H

int sim_moonraker_main(int argc, char **argv);

#endif
