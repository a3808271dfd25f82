/* The board a virtual board is built as: a definition from the same
 * database mcuflash reads (built-in table, system and user files, given
 * files), on an MCU the simulator can model. */
#include <stdio.h>

#include "board/board.h"
#include "mcutypes.h"
#include "sim.h"

int sim_find_board(const char *name, const char *const *files, size_t n, struct board_db **db,
                   const struct board **out, struct mf_err *err)
{
    *out = NULL;
    if (board_db_load(files, n, db, err) < 0)
        return -1;
    const struct board *b = board_db_find(*db, name, err);
    if (!b)
        return -1;
    if (!mcu_type_find(b->mcu))
        return mf_fail(err, MF_E_USAGE,
                       "The board %s has MCU %s, which the virtual board cannot model; nothing was started. "
                       "Known types: %s.", b->name, b->mcu, mcu_type_names());
    *out = b;
    return 0;
}
