#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Build examples/qr-changes and examples/qr-copy against an installed copy
# of the library with nothing but `pkg-config --cflags --libs libqresync`
# (as tests/api/test-pkgconfig.sh does), then run them against two of the
# rig's Dovecot tunnel stores and check their exact output. Prints TAP.
# Usage (wrapped by the rig):
#   rig.py run --stores 2 --skip-exit 0 -- sh test-examples.sh BUILD_DIR CC
set -u
build=$1
cc=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
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
# same DESCRIPTION EXPECTED-FILE ACTUAL-FILE: exact comparison
same() {
    diff -u "$2" "$3" >"$tmp/diff" 2>&1
    check "$1" $? "$tmp/diff"
}
mail() { "$QR_RIG_CLI" mail "$@"; }

meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >"$tmp/install.log" 2>&1
check "meson install into a DESTDIR" $? "$tmp/install.log"
pcfile=$(find "$tmp/root" -name libqresync.pc | head -n 1)
so=$(find "$tmp/root" -name 'libqresync.so.0' | head -n 1)
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
export PKG_CONFIG_PATH="$(dirname "${pcfile:-/nonexistent}")"
export LD_LIBRARY_PATH="$(dirname "${so:-/nonexistent}")"
flags=$(pkg-config --cflags --libs libqresync 2>"$tmp/pc.err")
check "pkg-config --cflags --libs libqresync" $? "$tmp/pc.err"
for ex in qr-changes qr-copy; do
    # shellcheck disable=SC2086
    "$cc" -std=c11 -Wall -Wextra -Werror -o "$tmp/$ex" "$src/examples/$ex.c" \
        "$src/examples/config.c" $flags >"$tmp/cc.log" 2>&1
    check "examples/$ex.c builds warning-free with the pkg-config flags only" $? "$tmp/cc.log"
done

# interimap-style configuration: one section per store
cat >"$tmp/qr.conf" <<CONF
# the rig's PREAUTH tunnels
[store0]
type = tunnel
command = $QR_RIG_STORE0_COMMAND
null-stderr = YES

[store1]
type = tunnel
command = $QR_RIG_STORE1_COMMAND
null-stderr = YES
CONF

message() { printf 'From: ex@example.org\r\nSubject: %s\r\nMessage-ID: <%s@ex>\r\n\r\nbody %s\r\n' "$1" "$1" "$1"; }
uids=""
for i in 1 2 3; do
    message "m$i" >"$tmp/m$i"
    uids="$uids $(mail store0 append INBOX "$tmp/m$i" --flags '\Seen' --date "2021-0$i-02T03:04:05Z")"
done
[ "$uids" = " 1 2 3" ]
check "rig: three messages in store0's INBOX (UIDs$uids)" $?

changes() { "$tmp/qr-changes" "$tmp/qr.conf" store0 INBOX "$tmp/state" >"$tmp/out" 2>"$tmp/err"; }
changes
check "qr-changes: first run succeeds" $? "$tmp/err"
printf 'new 1\nnew 2\nnew 3\n' >"$tmp/want"
same "qr-changes: first run lists every message as new" "$tmp/want" "$tmp/out"
sed -n 's/^uids //p' "$tmp/state" >"$tmp/got-uids"
echo "1:3" >"$tmp/want"
same "qr-changes: the state file lists the known UIDs 1:3" "$tmp/want" "$tmp/got-uids"
[ ! -e "$tmp/state.tmp" ]
check "qr-changes: no temporary state file left" $?
hms1=$(sed -n 's/^highestmodseq //p' "$tmp/state")

changes
check "qr-changes: a run without changes succeeds" $? "$tmp/err"
: >"$tmp/want"
same "qr-changes: ... and prints nothing" "$tmp/want" "$tmp/out"

message m4 >"$tmp/m4"
mail store0 flags add INBOX 1 '\Flagged' >"$tmp/rig.log" 2>&1 &&
    mail store0 expunge INBOX 2 >>"$tmp/rig.log" 2>&1 &&
    new=$(mail store0 append INBOX "$tmp/m4" --date 2021-04-02T03:04:05Z 2>>"$tmp/rig.log") &&
    [ "$new" = 4 ]
check "rig: flag added to UID 1, UID 2 expunged, UID 4 appended" $? "$tmp/rig.log"

changes
check "qr-changes: the QRESYNC run succeeds" $? "$tmp/err"
modseq=$(sed -n 's/^flags 1 \([0-9]*\) .*/\1/p' "$tmp/out")
[ -n "$modseq" ] && [ -n "$hms1" ] && [ "$modseq" -gt "$hms1" ]
check "qr-changes: the update's MODSEQ ($modseq) is above the saved HIGHESTMODSEQ ($hms1)" $? "$tmp/out"
printf 'vanished 2\nflags 1 %s (\\Flagged \\Seen)\nnew 4\n' "$modseq" >"$tmp/want"
same "qr-changes: prints exactly the vanished UID, the flag update and the new UID" \
    "$tmp/want" "$tmp/out"
sed -n 's/^uids //p' "$tmp/state" >"$tmp/got-uids"
echo "1,3:4" >"$tmp/want"
same "qr-changes: the state file now lists 1,3:4" "$tmp/want" "$tmp/got-uids"

"$tmp/qr-changes" "$tmp/qr.conf" nosuch INBOX "$tmp/state" >"$tmp/out" 2>"$tmp/err"
st=$?
[ "$st" -ne 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q 'no section \[nosuch\]' "$tmp/err"
check "qr-changes: a missing section fails with one line on stderr" $? "$tmp/err"

"$tmp/qr-copy" "$tmp/qr.conf" store0 INBOX store1 INBOX >"$tmp/out" 2>"$tmp/err"
check "qr-copy: copies store0 INBOX to store1 INBOX" $? "$tmp/err"
printf '1 -> 1\n3 -> 2\n4 -> 3\n' >"$tmp/want"
same "qr-copy: prints SRC_UID -> DST_UID per message" "$tmp/want" "$tmp/out"
mail store0 compare store1 >"$tmp/cmp" 2>&1
check "rig: store0 and store1 compare equal (bodies, flags, internal dates)" $? "$tmp/cmp"

echo "1..$n"
exit $fail
