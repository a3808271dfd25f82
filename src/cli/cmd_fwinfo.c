/* Placeholder until the fwinfo command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_fwinfo(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'fwinfo' is not available in this build.\n");
    return MF_E_FAIL;
}
