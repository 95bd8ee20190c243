#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Check that three lists of the public API agree exactly:
the functions declared with QR_EXTERN in include/qresync/*.h, the names in
the version script libqresync.sym, and the symbols libqresync.so exports.
Prints TAP. Usage: check-symbols.py INCLUDE_DIR SYMFILE LIBRARY"""
import pathlib
import re
import subprocess
import sys


def header_symbols(include_dir):
    names = set()
    for path in sorted(pathlib.Path(include_dir).rglob("*.h")):
        text = path.read_text()
        for m in re.finditer(r"QR_EXTERN\s+[^;(]*?\b(qr_\w+)\s*\(", text):
            names.add(m.group(1))
    return names


def version_script_symbols(symfile):
    text = re.sub(r"/\*.*?\*/", "", pathlib.Path(symfile).read_text(), flags=re.S)
    names = set()
    for block in re.findall(r"global:(.*?)(?:local:|\})", text, flags=re.S):
        names.update(n.strip() for n in block.split(";") if n.strip())
    return names


def library_symbols(library):
    out = subprocess.run(["nm", "-D", "--defined-only", library],
                         check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TtWwDdBbRr":
            name = parts[2].split("@")[0]
            if not name.startswith("LIBQRESYNC_"):
                names.add(name)
    return names


def main():
    include_dir, symfile, library = sys.argv[1:4]
    headers = header_symbols(include_dir)
    script = version_script_symbols(symfile)
    exported = library_symbols(library)
    checks = [
        ("headers declare at least one function", bool(headers), ""),
        ("version script lists exactly the QR_EXTERN functions",
         headers == script,
         f"only in headers: {sorted(headers - script)}; only in script: {sorted(script - headers)}"),
        ("library exports exactly the version script",
         exported == script,
         f"only exported: {sorted(exported - script)}; not exported: {sorted(script - exported)}"),
        ("every export has the qr_ prefix",
         all(n.startswith("qr_") for n in exported),
         f"{sorted(n for n in exported if not n.startswith('qr_'))}"),
    ]
    failed = 0
    for i, (desc, ok, detail) in enumerate(checks, 1):
        print(f"{'ok' if ok else 'not ok'} {i} - {desc}")
        if not ok:
            failed += 1
            print(f"# {detail}")
    print(f"1..{len(checks)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
