#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A tunnel command that wraps another one and fails on purpose.

    cut-tunnel.py [--up N] [--down N] [--marker FILE] -- COMMAND ARG...
    cut-tunnel.py --hang [--marker FILE]

Used as interimap's `command = ...` (tests/interimap/). It starts COMMAND
(a real tunnel, e.g. the rig store's `env ... setpriv ... imap -c CONF`),
forwards its standard input to the command and the command's output to
its standard output, and counts the bytes of each direction:

* `--up N`: after N bytes from the client to the server (commands and
  APPEND literals), the connection drops: exactly N bytes are forwarded,
  the command is killed (SIGKILL) and the proxy exits, so the client sees
  end-of-file on reading and EPIPE on writing, as after a network cut.
* `--down N`: the same after N bytes from the server to the client.
* `--hang`: start nothing, answer nothing; wait until the client closes
  its end, then exit (a server that never greets).

`--marker FILE` is written when the proxy starts (`started`) and again
when it cuts the connection (`cut up=U down=D`), so a test knows when
either happened. The proxy exits 0 in every case; it needs only the
Python standard library and no shell.
"""
import os
import select
import signal
import subprocess
import sys


def usage():
    sys.stderr.write("usage: cut-tunnel.py [--up N] [--down N] [--marker FILE] -- COMMAND...\n"
                     "       cut-tunnel.py --hang [--marker FILE]\n")
    sys.exit(2)


def mark(path, text):
    if path:
        with open(path + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(path + ".tmp", path)


def write_all(fd, data):
    while data:
        try:
            n = os.write(fd, data)
        except OSError:
            return False
        data = data[n:]
    return True


def main(argv):
    limits = {"up": None, "down": None}
    marker = None
    hang = False
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            i += 1
            break
        if a in ("--up", "--down"):
            if i + 1 >= len(argv):
                usage()
            limits[a[2:]] = int(argv[i + 1])
            i += 2
        elif a == "--marker":
            if i + 1 >= len(argv):
                usage()
            marker = argv[i + 1]
            i += 2
        elif a == "--hang":
            hang = True
            i += 1
        else:
            usage()
    command = argv[i:]
    mark(marker, "started")
    if hang:
        while os.read(0, 65536):
            pass
        return 0
    if not command:
        usage()
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
    to_child, from_child = child.stdin.fileno(), child.stdout.fileno()
    count = {"up": 0, "down": 0}
    stdin_open = True

    def cut():
        mark(marker, "cut up=%d down=%d" % (count["up"], count["down"]))
        try:
            child.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        child.wait()
        sys.exit(0)

    def forward(direction, data, dest):
        """Forward DATA, cut at the limit; False when DEST is gone."""
        limit = limits[direction]
        if limit is not None and count[direction] + len(data) >= limit:
            data = data[:limit - count[direction]]
            count[direction] += len(data)
            write_all(dest, data)
            cut()
        count[direction] += len(data)
        return write_all(dest, data)

    while True:
        fds = [from_child] + ([0] if stdin_open else [])
        ready, _, _ = select.select(fds, [], [])
        if 0 in ready:
            data = os.read(0, 65536)
            if not data:
                stdin_open = False
                child.stdin.close()
            elif not forward("up", data, to_child):
                stdin_open = False
        if from_child in ready:
            data = os.read(from_child, 65536)
            if not data or not forward("down", data, 1):
                break
    child.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
