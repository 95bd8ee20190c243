#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Run one libFuzzer target for a bounded time on a scratch copy of its
# corpus (so the source tree is never written), with the IMAP dictionary.
# Any crash, leak, timeout or sanitizer report fails; the crashing input is
# kept in the build folder (fuzz-artifacts/) and named in the output.
# Prints TAP. Usage: libfuzzer-run.sh FUZZER CORPUS_DIR DICT SECONDS ARTIFACT_DIR
set -u
fuzzer=$1
corpus=$2
dict=$3
seconds=$4
artifacts=$5
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
[ -d "$corpus" ] && cp -R "$corpus/." "$work/corpus/"
name=$(basename "$fuzzer")
dictarg=""
[ -f "$dict" ] && dictarg="-dict=$dict"
# shellcheck disable=SC2086
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 $dictarg -artifact_prefix="$artifacts/$name-" \
    "$work/corpus" >"$work/log" 2>&1
status=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
if [ "$status" -eq 0 ]; then
    echo "ok 1 - $name ran ${seconds}s without a finding (${runs:-?} executions)"
else
    echo "not ok 1 - $name found a problem (exit status $status)"
    grep -E 'ERROR|SUMMARY|artifact|Test unit written' "$work/log" | head -n 20 | sed 's/^/# /'
fi
echo "1..1"
exit "$status"
