/* Placeholder until the demo command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_demo(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'demo' is not available in this build.\n");
    return MF_E_FAIL;
}
