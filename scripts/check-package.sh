#!/bin/sh
# Build the Debian package from the project's files, check it with lintian,
# unpack it into a scratch root, compare its file list with
# scripts/install-manifest.sh, and run the programs it installs.
# Everything is made in a temporary directory; the tree is left as it was.
set -eu
cd "$(dirname "$0")/.."
work=$(mktemp -d "${TMPDIR:-/tmp}/mcuflash-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The files git knows of (committed or not, ignored ones left out), so no
# build directory of the tree leaks into the package.
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
want=$({ scripts/install-manifest.sh | sed 's|^|usr/|'
         printf 'usr/share/doc/mcuflash/%s\n' changelog copyright; } | sort)
if [ "$have" != "$want" ]; then
    echo "package: its files differ from scripts/install-manifest.sh (< package, > expected):"
    printf '%s\n' "$have" >"$work/have"; printf '%s\n' "$want" >"$work/want"
    diff "$work/have" "$work/want" || true
    exit 1
fi
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
echo "package: mcuflash $version builds, passes lintian, holds the expected files and runs"
