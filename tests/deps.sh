#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Install, from Debian's packages, whatever is missing to build libqresync
# and run every test suite. Needs root (or sudo) only when something is
# missing. Usage: tests/deps.sh
set -eu
packages="
    gcc g++ clang libclang-rt-14-dev binutils pkg-config meson ninja-build
    libgnutls28-dev zlib1g-dev libsqlite3-dev libgsasl-dev libpcre2-dev
    python3 python3-aiosmtpd gnutls-bin sqlite3 util-linux procps iproute2
    dovecot-core dovecot-imapd dovecot-lmtpd
    interimap pullimap microsocks
"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "Installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing
