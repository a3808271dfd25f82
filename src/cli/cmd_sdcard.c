/* Placeholder until the sdcard command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_sdcard(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'sdcard' is not available in this build.\n");
    return MF_E_FAIL;
}
