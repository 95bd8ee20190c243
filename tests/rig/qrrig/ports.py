# SPDX-License-Identifier: LGPL-2.1-or-later
"""TCP ports on 127.0.0.1: pick free ones, see which are listening."""

import socket
import time

HOST = "127.0.0.1"


def free_ports(count, host=HOST):
    """Return COUNT distinct ports that were free on HOST a moment ago.

    The kernel picks them (bind to port 0); all sockets are held open until
    every port is chosen so that the ports are distinct. Another program may
    still grab one before the server binds it: callers retry on a clash.
    """
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listeners():
    """Set of (address, port) of every TCP socket in LISTEN state (IPv4 from
    /proc/net/tcp, IPv6 from /proc/net/tcp6), addresses as text."""
    out = set()
    for path, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            f = open(path, encoding="ascii")
        except OSError:
            continue
        with f:
            next(f)
            for line in f:
                fields = line.split()
                addr, port = fields[1].split(":")
                if fields[3] == "0A":
                    out.add((_proc_addr(addr, family), int(port, 16)))
    return out


def listening_ports(host=HOST):
    """Set of TCP ports listening on HOST (or on every address)."""
    return {port for addr, port in listeners() if addr in (host, "0.0.0.0", "::")}


def is_listening(port, host=HOST):
    """True if something listens on HOST:PORT."""
    return port in listening_ports(host)


def wait_listening(ports, deadline, host=HOST, alive=None):
    """Wait until every port in PORTS listens or time.monotonic() > DEADLINE.

    ALIVE, if given, is called on each round; when it returns False the wait
    stops early. Returns the set of ports that are still not listening.
    """
    missing = set(ports)
    while True:
        missing -= listening_ports(host)
        if not missing or time.monotonic() > deadline:
            return missing
        if alive is not None and not alive():
            return missing
        time.sleep(0.02)


def _proc_addr(hexaddr, family):
    """/proc/net/tcp{,6} address (32-bit little-endian words, hex) -> text."""
    raw = bytes.fromhex(hexaddr)
    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, raw)
