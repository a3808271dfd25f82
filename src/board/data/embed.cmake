# Writes IN as `const char mf_builtin_boards_cfg[]` (NUL-terminated) into OUT.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," hex "${hex}")
file(WRITE ${OUT} "/* Generated from boards.cfg; do not edit. */\n"
  "const char mf_builtin_boards_cfg[] = {${hex}0x00};\n")
