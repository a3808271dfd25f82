#!/bin/bash
# `cmake --install` of this build into a scratch prefix holds exactly the files
# of scripts/install-manifest.sh, and the installed programs run from there:
# mcuflash reads the example board file and an image the installed virtual
# board made, and the installed man pages are the ones the build made.
. "$MF_TESTS/lib/e2e.sh"
root=$MF_TESTS/..
build=$(dirname "$MCUFLASH")
prefix=$T/prefix

if ! cmake --install "$build" --prefix "$prefix" >"$T/install.log" 2>&1; then
    fail "cmake --install failed:"; cat "$T/install.log"; finish; exit
fi
# The manifest with this build's choices: the completion directories and
# whether man pages are built.
cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
zsh_dir=$(cache MCUFLASH_ZSH_COMPLETION_DIR)
fish_dir=$(cache MCUFLASH_FISH_COMPLETION_DIR)
bash_dir=$(cache MCUFLASH_BASH_COMPLETION_DIR)
want=$("$root/scripts/install-manifest.sh" |
       sed "s|^share/zsh/site-functions/|$zsh_dir/|; s|^share/fish/vendor_completions.d/|$fish_dir/|;
            s|^share/bash-completion/completions/|$bash_dir/|" | sort)
[ "$(cache MCUFLASH_MAN_PAGES)" = OFF ] && want=$(printf '%s\n' "$want" | grep -v '^share/man/')
have=$(cd "$prefix" && find . -type f -o -type l | sed 's|^\./||' | sort)
if [ "$have" = "$want" ]; then pass; else
    fail "installed files differ from scripts/install-manifest.sh (< installed, > expected):"
    diff <(printf '%s\n' "$have") <(printf '%s\n' "$want")
fi

expect_rc 0 "$prefix/bin/mcuflash" --version
expect_out "^mcuflash [0-9]+\.[0-9]+\.[0-9]+$"
expect_rc 0 env HOME="$T" XDG_CONFIG_HOME="$T" "$prefix/bin/mcuflash" boards \
    --board-file "$prefix/share/doc/mcuflash/examples/boards.cfg" example
expect_out "^example-spi-board +stm32f401xc +spi2 +spi +my-printer"
expect_out "^example-sdio-board +stm32f407xx"
for page in man1/mcuflash.1 man1/mcuflash-sim.1 man5/boards.cfg.5; do
    [ -f "$prefix/share/man/$page" ] || continue
    if cmp -s "$prefix/share/man/$page" "$build/man/${page#*/}"; then pass; else fail "installed $page is not the built one"; fi
done

# The zsh and fish completions ask the bash completion where the configured
# prefix puts it.
configured=$(cache CMAKE_INSTALL_PREFIX)
for f in "$zsh_dir/_mcuflash" "$fish_dir/mcuflash.fish"; do
    if grep -qF "'$configured/$bash_dir/mcuflash'" "$prefix/$f"; then pass; else
        fail "$f does not name $configured/$bash_dir/mcuflash"
    fi
done

# The installed mcuflash runs the installed virtual board: an image made by it
# is read back by fwinfo.
expect_rc 0 "$prefix/bin/mcuflash-sim" make-firmware --mcu stm32f446xx --version-string v-installed -o "$T/fw.bin"
expect_rc 0 "$prefix/bin/mcuflash" fwinfo "$T/fw.bin"
expect_out "stm32f446xx"
expect_out "v-installed"
finish
