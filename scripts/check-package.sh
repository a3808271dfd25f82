#!/bin/sh
# Build the Debian package from the project's files, check it with lintian,
# unpack it into a scratch root, compare its file list with
# scripts/install-manifest.sh, and run the programs it installs.
# With --clean-root, also install it with apt into a fresh Debian 12 root
# (made by mmdebstrap from the Debian archive) and run the demo there.
# Everything is made in a temporary directory; the tree is left as it was.
set -eu
clean_root=false
case "${1:-}" in
    "") ;;
    --clean-root) clean_root=true ;;
    *) echo "usage: scripts/check-package.sh [--clean-root]" >&2; exit 2 ;;
esac
if $clean_root && ! command -v mmdebstrap >/dev/null; then
    echo "package: --clean-root needs mmdebstrap (Debian package mmdebstrap)" >&2
    exit 1
fi
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/mcuflash-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The files git knows of (committed or not, ignored ones left out), so no
# build directory of the tree leaks into the package.
git rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    { echo "package: this check builds from the files git knows; run it in a git checkout"; exit 1; }
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard |
    tar --null --ignore-failed-read --warning=no-failed-read -cf - -T - | tar -xf - -C "$work/src"

echo "-- dpkg-buildpackage -b -us -uc"
# The test suite has already run; the package build only builds.
if ! (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" \
        dpkg-buildpackage -b -us -uc >"$work/build.log" 2>&1); then
    tail -n 40 "$work/build.log"
    echo "package: dpkg-buildpackage failed"
    exit 1
fi
version=$(cd "$work/src" && dpkg-parsechangelog -S Version)
deb=$work/mcuflash_${version}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { echo "package: $deb was not built"; exit 1; }

echo "-- lintian"
lint_rc=0
lintian --fail-on error "$deb" >"$work/lintian.log" 2>&1 || lint_rc=$?
grep -v 'running with root privileges' "$work/lintian.log" || true
[ "$lint_rc" -eq 0 ] || { echo "package: lintian reports errors"; exit 1; }

echo "-- file list"
dpkg -x "$deb" "$work/root"
have=$(cd "$work/root" && find . -type f -o -type l | sed 's|^\./||; s|\.gz$||' | sort)
# Debian's zsh reads vendor completions from their own directory.
want=$({ scripts/install-manifest.sh | sed 's|^|usr/|; s|/zsh/site-functions/|/zsh/vendor-completions/|'
         printf 'usr/share/doc/mcuflash/%s\n' changelog copyright; } | sort)
if [ "$have" != "$want" ]; then
    echo "package: its files differ from scripts/install-manifest.sh (< package, > expected):"
    printf '%s\n' "$have" >"$work/have"; printf '%s\n' "$want" >"$work/want"
    diff "$work/have" "$work/want" || true
    exit 1
fi
for f in zsh/vendor-completions/_mcuflash fish/vendor_completions.d/mcuflash.fish; do
    grep -qF "'/usr/share/bash-completion/completions/mcuflash'" "$work/root/usr/share/$f" ||
        { echo "package: $f does not ask the installed bash completion"; exit 1; }
done
for page in man1/mcuflash.1 man1/mcuflash-sim.1 man5/boards.cfg.5; do
    [ -f "$work/root/usr/share/man/$page.gz" ] || { echo "package: man page $page is not compressed"; exit 1; }
done

echo "-- installed programs"
bin=$work/root/usr/bin
got=$("$bin/mcuflash" --version)
[ "$got" = "mcuflash $version" ] || { echo "package: version $version, but mcuflash --version says '$got'"; exit 1; }
# The demo runs the installed mcuflash-sim found beside the installed mcuflash.
if ! "$bin/mcuflash" demo >"$work/demo.log" 2>&1; then
    tail -n 20 "$work/demo.log"
    echo "package: the installed mcuflash demo failed"
    exit 1
fi
tail -n 1 "$work/demo.log"

if $clean_root; then
    echo "-- apt install and the demo in a fresh Debian 12 root"
    # The demo runs in a PID namespace of its own: with the host's processes
    # in view, a host program on the same pty number would look like a holder.
    # The hooks' $1 (the new root) is mmdebstrap's to expand.
    # shellcheck disable=SC2016
    if ! mmdebstrap --variant=apt --mode=root bookworm "$work/clean-root" \
            --customize-hook="copy-in $deb /tmp" \
            --customize-hook='chroot "$1" apt-get install -y --install-recommends /tmp/'"${deb##*/}" \
            --customize-hook='unshare --pid --fork --mount-proc="$1/proc" chroot "$1" mcuflash demo' \
            >"$work/clean-root.log" 2>&1; then
        tail -n 30 "$work/clean-root.log"
        echo "package: installing or running it in a fresh Debian 12 root failed"
        exit 1
    fi
    grep '^Demo done' "$work/clean-root.log"
fi
echo "package: mcuflash $version builds, passes lintian, holds the expected files and runs"
