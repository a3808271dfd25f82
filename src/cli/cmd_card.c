/* Placeholder until the card command is implemented. */
#include <stdio.h>

#include "cli/commands.h"

int cmd_card(int argc, char **argv)
{
    fprintf(stderr, "mcuflash: 'card' is not available in this build.\n");
    return MF_E_FAIL;
}
