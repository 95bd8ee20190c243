#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Sum up one or more Meson test logs (meson-logs/testlog.json).

Each TAP case counts once (`ok` / `not ok` lines); a test that is not TAP
counts once by its result, and so does a TAP test that failed without
reporting a failing case (a crash, a timeout). Prints the failures, then
one closing line `N passed, N failed` (with `, N skipped` when any were).
Exits 1 if anything failed, or if a test of a suite named with --no-skip
was skipped (CI must not pass by skipping the real-server tests).
Usage: summary.py [--no-skip SUITE]... TESTLOG.json...
"""
import json
import re
import sys

CASE = re.compile(r"^(not ok|ok)\b(.*)$")


def main(argv):
    no_skip, logs = set(), []
    args = iter(argv)
    for a in args:
        if a == "--no-skip":
            no_skip.add(next(args))
        else:
            logs.append(a)
    passed = failed = skipped = 0
    problems = []
    for log in logs:
        try:
            with open(log) as f:
                entries = [json.loads(line) for line in f if line.strip()]
        except OSError as e:
            failed += 1
            problems.append(f"{log}: no test log ({e.strerror}): that run did not happen")
            continue
        for t in entries:
            name, result = t["name"], t["result"]
            suites = name.split(" / ")[0].split(":")[1:] if ":" in name else []
            if result == "SKIP":
                skipped += 1
                if no_skip & set(suites):
                    failed += 1
                    problems.append(f"{log}: {name}: skipped, but this suite must run")
                continue
            cases = [CASE.match(line) for line in (t.get("stdout") or "").splitlines()]
            cases = [m for m in cases if m]
            bad_cases = 0
            for m in cases:
                if "# SKIP" in m.group(2):
                    skipped += 1
                elif m.group(1) == "ok":
                    passed += 1
                else:
                    failed += 1
                    bad_cases += 1
                    problems.append(f"{log}: {name}: not ok{m.group(2)}")
            test_ok = result in ("OK", "EXPECTEDFAIL")
            if not cases:
                if test_ok:
                    passed += 1
                else:
                    failed += 1
                    problems.append(f"{log}: {name}: {result}")
            elif not test_ok and bad_cases == 0:
                failed += 1
                problems.append(f"{log}: {name}: {result} (exit status {t.get('returncode')})")
    for p in problems:
        print(p)
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed or not (passed or failed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
