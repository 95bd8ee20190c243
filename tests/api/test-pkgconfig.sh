#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install the build into a scratch folder, then compile and run a program
# from outside the tree with nothing but `pkg-config --cflags --libs
# libqresync`, as a user of the installed library would. Prints TAP.
# Usage: test-pkgconfig.sh BUILD_DIR CC
set -u
build=$1
cc=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check() { # check DESCRIPTION STATUS [DETAIL-FILE]
    n=$((n + 1))
    if [ "$2" -eq 0 ]; then
        echo "ok $n - $1"
    else
        echo "not ok $n - $1"
        fail=1
        [ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/# /' "$3"
    fi
}

meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1
check "meson install into a DESTDIR" $? "$tmp/install.log"

pcfile=$(find "$tmp/root" -name libqresync.pc | head -n 1)
[ -n "$pcfile" ]
check "libqresync.pc is installed" $?
grep -qx 'Requires.private: gnutls, zlib, sqlite3, libgsasl' "${pcfile:-/dev/null}"
check "libqresync.pc has Requires.private: gnutls, zlib, sqlite3, libgsasl" $? "${pcfile:-/dev/null}"
header=$(find "$tmp/root" -path '*/include/qresync/qresync.h' | head -n 1)
[ -n "$header" ] && [ -f "$(dirname "$header")/version.h" ]
check "headers are installed under include/qresync/" $?
so=$(find "$tmp/root" -name 'libqresync.so.0' | head -n 1)
[ -n "$so" ]
check "libqresync.so.0 is installed" $?

export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_PATH="$(dirname "${pcfile:-/nonexistent}")"
cat >"$tmp/hello.c" <<'C'
#include <qresync/qresync.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    printf("%s\n", qr_version());
    return strcmp(qr_version(), QR_VERSION_STRING) != 0;
}
C
flags=$(pkg-config --cflags --libs libqresync 2>"$tmp/pc.err")
check "pkg-config --cflags --libs libqresync" $? "$tmp/pc.err"
# shellcheck disable=SC2086
"$cc" -o "$tmp/hello" "$tmp/hello.c" $flags >"$tmp/cc.log" 2>&1
check "an outside program compiles and links with those flags only" $? "$tmp/cc.log"
out=$(LD_LIBRARY_PATH="$(dirname "${so:-/nonexistent}")" "$tmp/hello" 2>&1)
status=$?
check "it runs against the installed library" $status
expected=$(sed -n 's/^Version: //p' "${pcfile:-/dev/null}")
echo "$out" >"$tmp/out"
[ "$out" = "$expected" ] && [ -n "$expected" ]
check "it prints qr_version() = the .pc Version ($expected)" $? "$tmp/out"
echo "1..$n"
exit $fail
