#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start: install what is missing, build, then sync two throw-away
# Dovecot stores holding sample mail with interimap, three times, printing
# what it does and showing that both stores agree (tests/rig/rig.py demo).
# Until interimap is built, the test rig's own self-demonstration runs.
# Run as root. Usage: tests/demo.sh
#   QR_DEMO_INTERIMAP=PROGRAM  use another interimap, e.g. /usr/bin/interimap
#                              (Debian's Perl InterIMAP 0.5.7)
#   QR_BUILD_DIR=DIR           build folder (default: build)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests/deps.sh
build=${QR_BUILD_DIR:-build}
[ -f "$build/build.ninja" ] || meson setup "$build" --wrap-mode=nofallback
ninja -C "$build"
if [ -z "${QR_DEMO_INTERIMAP:-}" ]; then
    # tools/interimap/ (its own meson.build) or tools/ (tools/meson.build).
    for p in "$build/tools/interimap/interimap" "$build/tools/interimap"; do
        if [ -f "$p" ] && [ -x "$p" ]; then
            QR_DEMO_INTERIMAP=$(cd "$(dirname "$p")" && pwd)/$(basename "$p")
            export QR_DEMO_INTERIMAP
            break
        fi
    done
fi
exec python3 tests/rig/rig.py demo
