#!/bin/sh
# Install the Debian packages mcuflash needs to build and test, if missing.
set -eu
# scdoc builds the man pages (groff-base checks them); llvm gives the fuzzers'
# sanitizers llvm-symbolizer for readable stacks; debhelper, fakeroot and
# lintian build and check the Debian package; umockdev emulates the USB
# bootloaders for the tests and dfu-util checks the DfuSe model against them.
pkgs="build-essential cmake ninja-build pkg-config zlib1g-dev libjansson-dev libssl-dev umockdev libumockdev-dev dfu-util
      libusb-1.0-0-dev libelf-dev dosfstools mtools jq clang libclang-rt-14-dev llvm
      scdoc groff-base debhelper fakeroot lintian"
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
