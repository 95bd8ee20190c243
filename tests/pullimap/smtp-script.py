#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A scripted SMTP peer on 127.0.0.1 for pullimap's failure cases (stdlib).

    smtp-script.py --dir DIR [--port N] [--no-pipelining] [--lmtp]
                   [--rule STEP:N:ACTION]...

A permissive SMTP server (any address is accepted) that records what it
receives in DIR in the same format as smtp-sink.py (conn-NNNN.json;
txn-NNNN.json with "complete" and the final "reply"; txn-NNNN.raw, the
dot-stuffed DATA bytes received so far, kept when the connection ends
mid-DATA; txn-NNNN.eml, the unstuffed message, once the final `.` came),
and deviates from the normal replies where a rule says so.

STEP is one of greeting, ehlo, quit (N counts connections from 1), mail,
rcpt, data, body, end, rset (N counts transactions, i.e. MAIL commands,
from 1 across connections); N may be `*`. ACTION:

  reply=TEXT   reply TEXT instead (lines separated by `|`; CRLF is added)
  raw=TEXT     send TEXT as is (Python escapes such as \\r\\n are decoded)
  close        close the connection without a reply
  hang         stop: write `hang STEP N` to DIR/events, then wait for the
               file DIR/release (its content is an ACTION to perform then,
               or `normal` for the usual reply) or for the client to go away
  body only:   close@K, hang@K: the same once K bytes of DATA have arrived

The normal replies: greeting `220 script.test ESMTP qr-smtp-script`;
EHLO/LHLO `250-script.test`, `250-PIPELINING` (unless --no-pipelining),
`250 8BITMIME`; MAIL/RCPT `250`; DATA `354`; end of data `250`; QUIT
`221` and close. With --lmtp the end of data gets one reply per accepted
recipient. DIR/events also gets `conn N open`, `conn N closed by client`
or `by server`, `txn N complete`, `txn N reply CODE`. The port is printed
on stdout as `PORT N`. SIGTERM stops it.
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time

LOCK = threading.Lock()
COUNTERS = {"conn": 0, "txn": 0}
CONN_STEPS = ("greeting", "ehlo", "quit")
TXN_STEPS = ("mail", "rcpt", "data", "body", "end", "rset")
HANG_LIMIT = 120.0


class Closed(Exception):
    pass


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def latin1(b):
    return bytes(b).decode("latin-1")


class Peer:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.rules = []
        for r in args.rule:
            step, n, action = r.split(":", 2)
            if step not in CONN_STEPS + TXN_STEPS:
                raise SystemExit(f"bad step {step!r}")
            self.rules.append((step, n, action))

    def event(self, text):
        with LOCK:
            with open(os.path.join(self.dir, "events"), "a", encoding="utf-8") as f:
                f.write(text + "\n")

    def rule(self, step, n):
        for s, rn, action in self.rules:
            if s == step and (rn == "*" or int(rn) == n):
                return action
        return None


class Conn(threading.Thread):
    def __init__(self, peer, sock):
        super().__init__(daemon=True)
        self.peer = peer
        self.sock = sock
        self.buf = b""
        with LOCK:
            COUNTERS["conn"] += 1
            self.n = COUNTERS["conn"]
        self.record = {"conn": self.n, "ehlo": [], "commands": [], "closed": False}
        self.txn = None
        self.rcpt_ok = 0

    # -- recording

    def save(self):
        write_json(os.path.join(self.peer.dir, f"conn-{self.n:04d}.json"), self.record)

    def save_txn(self):
        t = self.txn
        base = os.path.join(self.peer.dir, f"txn-{t['n']:04d}")
        with open(base + ".raw", "wb") as f:
            f.write(bytes(t["raw"]))
        if t["complete"]:
            with open(base + ".eml", "wb") as f:
                f.write(bytes(t["eml"]))
        write_json(base + ".json", {"conn": self.n, "mail": t["mail"], "rcpt": t["rcpt"],
                                    "size": len(t["eml"]), "complete": t["complete"],
                                    "reply": t["reply"]})

    # -- I/O

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed("client")
        self.buf += data

    def readline(self, sep=b"\n"):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                line, self.buf = self.buf[:i + len(sep)], self.buf[i + len(sep):]
                return line
            self.fill()

    def hang(self, step, n):
        self.peer.event(f"hang {step} {n}")
        release = os.path.join(self.peer.dir, "release")
        t0 = time.monotonic()
        while time.monotonic() - t0 < HANG_LIMIT:
            if os.path.exists(release):
                with open(release, encoding="utf-8") as f:
                    action = f.read().strip()
                os.unlink(release)
                self.peer.event(f"released {step} {n} {action}")
                return action
            r, _, _ = select.select([self.sock], [], [], 0.01)
            if r:
                data = self.sock.recv(65536)
                if not data:
                    raise Closed("client")
                self.buf += data
        raise Closed("server")

    def act(self, step, n, default):
        """Perform the rule for STEP N, or reply DEFAULT (a list of lines).
        Returns the reply code sent (0 when the reply was raw)."""
        action = self.peer.rule(step, n)
        if action == "hang":
            action = self.hang(step, n)
            if action == "normal":
                action = None
        if action is None:
            lines = default
        elif action == "close":
            raise Closed("server")
        elif action.startswith("reply="):
            lines = action[6:].split("|")
        elif action.startswith("raw="):
            self.send(action[4:].encode("latin-1").decode("unicode_escape").encode("latin-1"))
            return 0
        else:
            raise SystemExit(f"bad action {action!r}")
        self.send(b"".join(ln.encode("latin-1") + b"\r\n" for ln in lines))
        return int(lines[-1][:3])

    # -- protocol

    def run(self):
        self.peer.event(f"conn {self.n} open")
        self.save()
        who = "server"
        try:
            self.session()
        except Closed as e:
            who = str(e)
        except OSError:
            who = "client"
        finally:
            if self.txn is not None and not self.txn["complete"]:
                self.save_txn()
            self.record["closed"] = True
            self.save()
            self.peer.event(f"conn {self.n} closed by {who}")
            try:
                self.sock.close()
            except OSError:
                pass

    def session(self):
        self.act("greeting", self.n, ["220 script.test ESMTP qr-smtp-script"])
        while True:
            line = self.readline()
            early = len(self.buf) > 0
            crlf = line.endswith(b"\r\n")
            text = line[:-2] if crlf else line.rstrip(b"\n")
            self.record["commands"].append({"line": latin1(text), "crlf": crlf, "early": early})
            self.save()
            verb = text.split(b" ", 1)[0].split(b":", 1)[0].upper()
            if verb in (b"EHLO", b"LHLO", b"HELO"):
                ehlo = ["250-script.test"]
                if self.peer.args.pipelining:
                    ehlo.append("250-PIPELINING")
                ehlo.append("250 8BITMIME")
                self.record["ehlo"] = ehlo
                self.txn = None
                self.act("ehlo", self.n, ehlo)
            elif verb == b"MAIL":
                with LOCK:
                    COUNTERS["txn"] += 1
                    n = COUNTERS["txn"]
                self.txn = {"n": n, "mail": latin1(text), "rcpt": [], "raw": bytearray(),
                            "eml": bytearray(), "complete": False, "reply": None,
                            "ok": False}
                self.rcpt_ok = 0
                self.txn["ok"] = self.act("mail", n, ["250 2.1.0 OK"]) == 250
            elif verb == b"RCPT":
                if self.txn is None or not self.txn["ok"]:
                    self.send(b"503 5.5.1 MAIL first\r\n")
                    continue
                self.txn["rcpt"].append(latin1(text))
                if self.act("rcpt", self.txn["n"], ["250 2.1.5 OK"]) == 250:
                    self.rcpt_ok += 1
            elif verb == b"DATA":
                if self.txn is None or not self.txn["ok"] or not self.rcpt_ok:
                    self.send(b"503 5.5.1 RCPT first\r\n")
                    continue
                if self.act("data", self.txn["n"], ["354 go ahead"]) != 354:
                    continue
                self.data()
            elif verb == b"RSET":
                n = self.txn["n"] if self.txn is not None else 0
                self.txn = None
                self.act("rset", n, ["250 2.0.0 OK"])
            elif verb == b"NOOP":
                self.send(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                self.act("quit", self.n, ["221 2.0.0 bye"])
                raise Closed("server")
            else:
                self.send(b"500 5.5.2 unknown command\r\n")

    def data(self):
        t = self.txn
        n = t["n"]
        body = self.peer.rule("body", n) or ""
        limit = int(body.split("@")[1]) if "@" in body else None
        while True:
            if limit is not None and len(t["raw"]) >= limit:
                self.save_txn()
                if body.startswith("close@"):
                    raise Closed("server")
                action = self.hang("body", n)
                if action == "close":
                    raise Closed("server")
                limit = None
            line = self.readline(b"\r\n")
            if line == b".\r\n":
                break
            t["raw"] += line
            t["eml"] += line[1:] if line.startswith(b".") else line
        t["complete"] = True
        self.save_txn()
        self.peer.event(f"txn {n} complete")
        replies = max(1, self.rcpt_ok) if self.peer.args.lmtp else 1
        code = 0
        for _ in range(replies):
            code = self.act("end", n, [f"250 2.0.0 OK queued as {n}"])
        t["reply"] = code
        self.save_txn()
        self.peer.event(f"txn {n} reply {code}")
        self.txn = None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--no-pipelining", dest="pipelining", action="store_false")
    ap.add_argument("--lmtp", action="store_true")
    ap.add_argument("--rule", action="append", default=[])
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    peer = Peer(args)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(16)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    print(f"PORT {srv.getsockname()[1]}", flush=True)
    while True:
        sock, _ = srv.accept()
        Conn(peer, sock).start()


if __name__ == "__main__":
    sys.exit(main())
