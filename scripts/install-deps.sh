#!/bin/sh
# Install the Debian packages mcuflash needs to build and test, if missing;
# with --build, only those that building it and running the demo need.
set -eu
# scdoc builds the man pages; dosfstools makes the demo's card images;
# libcurl talks to Moonraker; umockdev puts the demo's USB to CAN bridge on
# an emulated USB bus (mcuflash-sim builds that bus where libumockdev-dev is
# there), as it does the USB bootloaders for the tests.
pkgs="build-essential cmake ninja-build pkg-config zlib1g-dev libjansson-dev libssl-dev
      libusb-1.0-0-dev libelf-dev libcurl4-openssl-dev scdoc dosfstools umockdev libumockdev-dev"
# For the tests: mtools and jq read what the tests make, groff-base checks the
# man pages, zsh and fish run the shell completion, clang builds the fuzzers,
# llvm gives their sanitizers llvm-symbolizer for readable stacks; debhelper,
# fakeroot and lintian build and check the Debian package; dfu-util checks
# the DfuSe model.
case "${1:-}" in
    --build) ;;
    "") pkgs="$pkgs mtools jq groff-base zsh fish clang libclang-rt-14-dev llvm debhelper fakeroot lintian
              dfu-util" ;;
    *) echo "usage: scripts/install-deps.sh [--build]" >&2; exit 2 ;;
esac
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing Debian packages:$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "mcuflash: these packages are missing and installing them needs root:$missing" >&2
    echo "mcuflash: run this script as root, or: sudo apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
