/* Placeholder until the info command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_info(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'info' is not available in this build.\n");
    return MF_E_FAIL;
}
