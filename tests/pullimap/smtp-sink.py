#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""An SMTP sink on 127.0.0.1 for the pullimap tests (aiosmtpd).

    smtp-sink.py --dir DIR [--port N] [--no-pipelining] [--no-8bitmime]
                 [--smtputf8] [--size N]

Accepts every transaction and records it in DIR, exactly as received:

* `conn-NNNN.json`, rewritten after each command: {"conn": N, "ehlo":
  [reply lines], "commands": [{"line": the command line without its line
  end, as Latin-1 text, "crlf": whether it ended in CRLF, "early": whether
  more client bytes had already arrived when the line was read, i.e. the
  client sent ahead of our reply (pipelining)}], "closed": bool}
* `txn-NNNN.json` for each accepted transaction: {"conn", "mail" (the raw
  MAIL line), "rcpt" (raw RCPT lines), "mail_from", "mail_options",
  "rcpt_tos", "rcpt_options" (as aiosmtpd parsed them), "size",
  "complete" (true), "reply" (the code, 250)}; `txn-NNNN.raw`, the DATA
  bytes as they crossed the wire (dot-stuffed, without the final `.`
  line); `txn-NNNN.eml`, aiosmtpd's unstuffed content (what an MTA would
  store).

EHLO offers PIPELINING (aiosmtpd 1.4 never does, but reads commands in
order, so pipelined commands work: a handle_EHLO hook adds the keyword),
8BITMIME (unless --no-8bitmime), SMTPUTF8 with --smtputf8, and SIZE N with
--size N (N > 0; then bigger messages are refused with 552). Without
--size there is no SIZE keyword and no limit. Lines up to 64 KiB are
accepted (RFC 5321 says 1000 octets).

The port is printed on stdout as `PORT N` once the server listens
(--port 0, the default, picks a free one). SIGTERM or SIGINT stop it.
Needs python3-aiosmtpd (Debian) and the Python that has it.
"""
import argparse
import asyncio
import json
import os
import signal
import sys

from aiosmtpd.smtp import SMTP

COUNTERS = {"conn": 0, "txn": 0}


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def latin1(b):
    return bytes(b).decode("latin-1")


class RecordingReader:
    """Stands in for the connection's StreamReader: passes every read on
    and records command lines (readuntil with the default separator) and
    DATA lines (readuntil(b'\\r\\n')) exactly as received."""

    def __init__(self, reader, conn):
        self._r = reader
        self._conn = conn

    def __getattr__(self, name):
        return getattr(self._r, name)

    async def readuntil(self, separator=b"\n"):
        line = await self._r.readuntil(separator)
        early = len(self._r._buffer) > 0
        if separator == b"\n":
            self._conn.command(line, early)
        else:
            self._conn.data_line(line)
        return line

    async def read(self, n=-1):
        data = await self._r.read(n)
        self._conn.data_line(data)   # only used for over-long data lines
        return data


class Conn:
    def __init__(self, args):
        COUNTERS["conn"] += 1
        self.n = COUNTERS["conn"]
        self.dir = args.dir
        self.record = {"conn": self.n, "ehlo": [], "commands": [], "closed": False}
        self.data = None      # bytearray while DATA is being read
        self.txn_lines = {"mail": None, "rcpt": []}
        self.save()

    def save(self):
        write_json(os.path.join(self.dir, f"conn-{self.n:04d}.json"), self.record)

    def command(self, line, early):
        crlf = line.endswith(b"\r\n")
        text = line[:-2] if crlf else line.rstrip(b"\n")
        self.record["commands"].append({"line": latin1(text), "crlf": crlf, "early": early})
        verb = text.split(b" ", 1)[0].split(b":", 1)[0].upper()
        if verb == b"MAIL":
            self.txn_lines = {"mail": latin1(text), "rcpt": []}
        elif verb == b"RCPT":
            self.txn_lines["rcpt"].append(latin1(text))
        elif verb == b"DATA":
            self.data = bytearray()
        elif verb in (b"RSET", b"EHLO", b"HELO", b"LHLO"):
            self.txn_lines = {"mail": None, "rcpt": []}
        self.save()

    def data_line(self, line):
        if self.data is not None and line != b".\r\n":
            self.data += line


class Handler:
    def __init__(self, args):
        self.args = args

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        out = []
        for r in responses:
            if r[4:].upper() == "8BITMIME" and not self.args.eightbitmime:
                continue
            out.append(r)
        if self.args.pipelining:
            out.insert(len(out) - 1, "250-PIPELINING")
        server.qr_conn.record["ehlo"] = out
        server.qr_conn.save()
        return out

    async def handle_DATA(self, server, session, envelope):
        conn = server.qr_conn
        COUNTERS["txn"] += 1
        n = COUNTERS["txn"]
        base = os.path.join(self.args.dir, f"txn-{n:04d}")
        reply = f"250 2.0.0 OK queued as {n}"
        with open(base + ".raw", "wb") as f:
            f.write(bytes(conn.data or b""))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or b"")
        write_json(base + ".json", {
            "conn": conn.n, "mail": conn.txn_lines["mail"], "rcpt": conn.txn_lines["rcpt"],
            "mail_from": envelope.mail_from, "mail_options": envelope.mail_options,
            "rcpt_tos": envelope.rcpt_tos, "rcpt_options": envelope.rcpt_options,
            "size": len(envelope.original_content or b""), "complete": True,
            "reply": 250})
        conn.data = None
        return reply


class RecordingSMTP(SMTP):
    line_length_limit = 1 << 16   # longer lines than RFC 5321 (the stream reader's limit too)

    def __init__(self, handler, args, **kw):
        self.qr_args = args
        self.qr_conn = None
        super().__init__(handler, **kw)

    def _client_connected_cb(self, reader, writer):
        self.qr_conn = Conn(self.qr_args)
        super()._client_connected_cb(RecordingReader(reader, self.qr_conn), writer)

    def connection_lost(self, error):
        if self.qr_conn is not None:
            self.qr_conn.record["closed"] = True
            self.qr_conn.save()
        super().connection_lost(error)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-pipelining", dest="pipelining", action="store_false")
    ap.add_argument("--no-8bitmime", dest="eightbitmime", action="store_false")
    ap.add_argument("--smtputf8", action="store_true")
    ap.add_argument("--size", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = Handler(args)

    def factory():
        return RecordingSMTP(handler, args, data_size_limit=args.size or None,
                             enable_SMTPUTF8=args.smtputf8, decode_data=False,
                             hostname="sink.test", ident="qr-smtp-sink", loop=loop)

    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", args.port))
    port = server.sockets[0].getsockname()[1]
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, loop.stop)
    print(f"PORT {port}", flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
