/* Placeholder until the boards command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_boards(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'boards' is not available in this build.\n");
    return MF_E_FAIL;
}
