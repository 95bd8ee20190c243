#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build and run every test suite the way CI does:
#   1. build/       warnings as errors, every suite (unit, api, dovecot, ...);
#   2. build-asan/  AddressSanitizer + UndefinedBehaviorSanitizer, the
#                   suites that need no outside program (all but api);
#   3. build-fuzz/  (when clang is installed) every libFuzzer target for
#                   -Dfuzz_seconds (60) seconds each, under ASan+UBSan;
# then print one closing line `N passed, N failed`. Fails if any test
# failed or if a dovecot test was skipped. The dovecot suite starts real
# servers as the `mail` user, so run this as root.
# Usage: tests/run.sh   (QR_TEST_ARGS adds `meson test` arguments for build/)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
status=0

setup() { # setup DIR ARGS...
    dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" --wrap-mode=nofallback "$@"
    fi
}

setup build -Dwerror=true || exit 1
ninja -C build || exit 1
# shellcheck disable=SC2086
meson test -C build --print-errorlogs ${QR_TEST_ARGS:-} || status=1

setup build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
    -Ddovecot_tests=disabled || exit 1
ninja -C build-asan || exit 1
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --no-suite api --print-errorlogs || status=1

logs="build/meson-logs/testlog.json build-asan/meson-logs/testlog.json"
if command -v clang >/dev/null 2>&1; then
    CC=clang setup build-fuzz -Dwerror=true -Dfuzzing=libfuzzer \
        -Db_sanitize=address,undefined -Db_lundef=false -Ddovecot_tests=disabled || exit 1
    ninja -C build-fuzz || exit 1
    meson test -C build-fuzz --suite fuzz --print-errorlogs || status=1
    logs="$logs build-fuzz/meson-logs/testlog.json"
else
    echo "clang not found: libFuzzer runs skipped" >&2
fi

echo
echo "== summary =="
# shellcheck disable=SC2086
python3 tests/summary.py --no-skip dovecot $logs || status=1
exit $status
