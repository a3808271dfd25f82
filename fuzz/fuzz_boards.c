/* Board-file fuzzing: arbitrary text as a user's boards.cfg. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "board/board.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct mf_err err;
    struct board_db *db = board_db_new();
    if (db && board_db_add_text(db, text, "fuzz.cfg", &err) == 0 && board_db_finish(db, &err) == 0) {
        for (size_t i = 0; i < board_db_count(db); i++)
            board_db_find(db, board_db_board(db, i)->name, &err);
        const char *near[4];
        board_db_suggest(db, "skr", near, 4);
    }
    board_db_free(db);
    free(text);
    return 0;
}
