#!/bin/sh
# The files an install of mcuflash holds, one per line, relative to the
# prefix (/usr/local, or /usr in the Debian package): what `cmake --install`
# must put there.  Compared with real installs by tests/e2e/install_tree.sh
# and scripts/check-package.sh.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
doc=share/doc/mcuflash
cat <<EOF
bin/mcuflash
bin/mcuflash-sim
share/man/man1/mcuflash.1
share/man/man1/mcuflash-sim.1
share/man/man5/boards.cfg.5
share/bash-completion/completions/mcuflash
share/bash-completion/completions/mcuflash-sim
share/zsh/site-functions/_mcuflash
share/fish/vendor_completions.d/mcuflash.fish
share/fish/vendor_completions.d/mcuflash-sim.fish
$doc/examples/boards.cfg
$doc/README.md
lib/udev/rules.d/60-mcuflash.rules
EOF
for f in "$root"/docs/*.md; do
    echo "$doc/docs/${f##*/}"
done
