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
want=$("$root/scripts/install-manifest.sh" | sort)
grep -q '^MCUFLASH_MAN_PAGES:BOOL=OFF' "$build/CMakeCache.txt" && want=$(printf '%s\n' "$want" | grep -v '^share/man/')
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
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
for f in share/zsh/site-functions/_mcuflash share/fish/vendor_completions.d/mcuflash.fish; do
    if grep -qF "'$configured/share/bash-completion/completions/mcuflash'" "$prefix/$f"; then pass; else
        fail "$f does not name $configured/share/bash-completion/completions/mcuflash"
    fi
done

# The installed mcuflash runs the installed virtual board: an image made by it
# is read back by fwinfo.
expect_rc 0 "$prefix/bin/mcuflash-sim" make-firmware --mcu stm32f446xx --version-string v-installed -o "$T/fw.bin"
expect_rc 0 "$prefix/bin/mcuflash" fwinfo "$T/fw.bin"
expect_out "stm32f446xx"
expect_out "v-installed"
finish
