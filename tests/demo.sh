#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Quick start: install what is missing, build, and run a throw-away demo on
# real local servers (the test rig's self-demo until interimap exists).
# Run as root. Usage: tests/demo.sh
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tests/deps.sh
[ -f build/build.ninja ] || meson setup build --wrap-mode=nofallback
ninja -C build
exec python3 tests/rig/rig.py demo
