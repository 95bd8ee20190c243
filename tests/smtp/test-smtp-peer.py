#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qr_smtp (libqresync/smtp/) against scripted SMTP/LMTP peers over real TCP
on 127.0.0.1 (TAP output).

Usage: test-smtp-peer.py SMTP-PROBE RIG-DIR

Each case starts a one-connection peer in a thread, runs smtp-probe against
it, and checks the exact bytes the client sent (before and after STARTTLS),
the result codes, the reply and error the library reports, and the log.
A peer step `expect(BYTES)` reads exactly len(BYTES) bytes and compares
them, so a client that waited for a reply where it should have pipelined
(or the reverse, with `quiet()`) fails the case. TLS uses Python's ssl
module with throw-away certificates made by tests/rig/qrrig/certs.py.
"""

import base64
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

PROBE = sys.argv[1]
sys.path.insert(0, sys.argv[2])

QR = {"EINVAL": -3, "EAGAIN": -4, "EOF": -5, "EIO": -6, "ETLS": -7, "EPROTO": -9,
      "ENO": -11, "EAUTH": -14, "ECAPABILITY": -15, "EUSER": -20}
USER, PASSWORD = "joe", "Sup3r-Secret-pw"
PLAIN_IR = base64.b64encode(b"\0joe\0" + PASSWORD.encode())
TMP = tempfile.mkdtemp(prefix="qr-smtp-")

count = 0
failures = 0


class Mismatch(Exception):
    pass


class Peer:
    """The server side of one connection: what the client sent, in order."""

    def __init__(self, sock):
        self.sock = sock
        self.plain = b""      # bytes received before TLS
        self.tls = b""        # bytes received inside TLS
        self.buf = b""
        self.in_tls = False
        self.client_closed = False
        self.allow_trailing = False  # bytes after the script are expected (a cut body)

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, timeout):
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError):
            return None
        except (ssl.SSLError, ConnectionError, OSError):
            data = b""
        if not data:
            self.client_closed = True
            return b""
        if self.in_tls:
            self.tls += data
        else:
            self.plain += data
        return data

    def expect(self, want, timeout=5):
        """Read exactly len(want) bytes; they must be want."""
        end = time.time() + timeout
        while len(self.buf) < len(want):
            data = self._recv(max(0.05, end - time.time()))
            if data is None and time.time() >= end:
                raise Mismatch(f"timeout: expected {want!r}, got {self.buf!r}")
            if data == b"":
                raise Mismatch(f"client closed: expected {want!r}, got {self.buf!r}")
            if data:
                self.buf += data
        got, self.buf = self.buf[:len(want)], self.buf[len(want):]
        if got != want:
            raise Mismatch(f"expected {want!r}, got {got!r}")

    def read_until(self, marker, timeout=10):
        end = time.time() + timeout
        while marker not in self.buf:
            data = self._recv(max(0.05, end - time.time()))
            if not data and (data == b"" or time.time() >= end):
                raise Mismatch(f"no {marker!r} in {self.buf[-80:]!r}")
            if data:
                self.buf += data
        got, self.buf = self.buf.split(marker, 1)
        return got + marker

    def quiet(self, secs=0.3):
        """Nothing more may arrive for secs (the client waits for a reply)."""
        if self.buf:
            raise Mismatch(f"unexpected bytes {self.buf!r}")
        end = time.time() + secs
        while time.time() < end:
            data = self._recv(0.05)
            if data:
                raise Mismatch(f"client did not wait: sent {data!r}")
            if data == b"":
                return

    def starttls(self, ctx):
        if self.buf:
            raise Mismatch(f"bytes before the TLS handshake: {self.buf!r}")
        self.in_tls = True
        self.sock = ctx.wrap_socket(self.sock, server_side=True)

    def drain(self, timeout=3):
        end = time.time() + timeout
        while not self.client_closed and time.time() < end:
            data = self._recv(0.1)
            if data:
                self.buf += data


class Server:
    """Listen on ADDR:0 and run handler(peer) on the first client."""

    def __init__(self, handler, family=socket.AF_INET, addr="127.0.0.1"):
        self.lsock = socket.socket(family)
        self.lsock.bind((addr, 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.handler = handler
        self.peer = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.lsock.settimeout(20)
        try:
            sock, _ = self.lsock.accept()
            self.peer = Peer(sock)
            self.handler(self.peer)
            self.peer.drain()
            if self.peer.buf and not self.peer.allow_trailing:
                self.error = f"unexpected trailing bytes {self.peer.buf[:200]!r}"
        except Mismatch as e:
            self.error = str(e)
            if self.peer:
                self.peer.drain()
        except Exception as e:  # noqa: BLE001 - reported as a diagnostic
            self.error = repr(e)
        finally:
            self.lsock.close()

    def join(self):
        self.thread.join(30)


class NoServer:
    """For cases that never connect."""
    port, peer, error = 9, None, None

    def join(self):
        pass


def body_file(data):
    path = os.path.join(TMP, f"body-{count}-{len(data)}")
    with open(path, "wb") as f:
        f.write(data)
    return path


def send_args(sender, rcpt, body, size=0, eightbit=0, utf8=0):
    return ["--send", sender, rcpt, body_file(body), str(size), str(eightbit), str(utf8)]


def probe(port, args):
    proc = subprocess.run([PROBE, "--host", "127.0.0.1", "--port", str(port),
                           "--helo", "probe.test", "--io-timeout", "8000", *args],
                          capture_output=True, timeout=60)
    out = proc.stdout.decode("utf-8", "surrogateescape")
    res = {"log": [], "send": [], "reply": [], "error": [], "ext": {}, "raw": out,
           "status": proc.returncode, "stderr": proc.stderr.decode("utf-8", "replace")}
    for line in out.splitlines():
        key, _, rest = line.partition(" ")
        if key == "log":
            res["log"].append(rest.split(" ", 1)[1] if " " in rest else "")
        elif key in ("new", "connect", "quit", "elapsed"):
            res[key] = int(rest)
        elif key == "send":
            res["send"].append(int(rest))
        elif key == "reply":
            code, _, text = rest.partition(" ")
            res["reply"].append((int(code), text))
        elif key == "error":
            code, _, text = rest.partition(" ")
            res["error"].append((int(code), text))
        elif key == "ext":
            name, val = rest.split()
            res["ext"][name] = int(val)
    return res


def code(c):
    return 0 if c == 0 else QR[c]


def codes(c):
    """Expected result: a code name, 0, or a tuple of alternatives."""
    return [code(x) for x in c] if isinstance(c, tuple) else [code(c)]


def run(name, handler, args, connect=0, sends=(), quit_rc=0, checks=(), server=None):
    """One case: connect/sends/quit are the expected return codes."""
    global count, failures
    count += 1
    srv = server or Server(handler)
    res = probe(srv.port, args)
    srv.join()
    problems = []
    if res["status"] != 0 or res["stderr"]:  # a sanitizer report, a crash
        problems.append(f"probe exit {res['status']}: {res['stderr'][-2000:]}")
    if srv.error:
        problems.append("peer: " + srv.error)
    if connect is not None and res.get("connect") not in codes(connect):
        problems.append(f"connect {res.get('connect')}, expected {codes(connect)}")
    if len(res["send"]) != len(sends) or any(
            got not in codes(want) for got, want in zip(res["send"], sends)):
        problems.append(f"send results {res['send']}, expected {list(sends)}")
    if quit_rc is not None and res.get("quit") != code(quit_rc):
        problems.append(f"quit {res.get('quit')}, expected {code(quit_rc)}")
    for e in res["error"]:
        if "\n" in e[1] or "\r" in e[1]:
            problems.append("multi-line error message")
    if any(PASSWORD in line for line in res["log"]):
        problems.append("the password reached the log")
    for check in checks:
        msg = check(res, srv.peer)
        if msg:
            problems.append(msg)
    if problems:
        failures += 1
        print(f"not ok {count} - {name}")
        for p in problems:
            print("# " + p)
        for line in res["raw"].splitlines()[-25:]:
            print("#   " + line.encode("unicode_escape").decode())
    else:
        print(f"ok {count} - {name}")


# --- checks -----------------------------------------------------------------------

def error_is(i, text):
    """The i-th error line (0: connect) is exactly text (PORT replaced)."""
    def check(res, peer):
        if i >= len(res["error"]):
            return f"no error line {i}"
        got = res["error"][i][1]
        return None if got == text else f"error {i}: {got!r}, expected {text!r}"
    return check


def error_has(i, text):
    def check(res, peer):
        if i >= len(res["error"]):
            return f"no error line {i}"
        got = res["error"][i][1]
        return None if text in got else f"error {i} {got!r} lacks {text!r}"
    return check


def reply_is(i, c, text=None):
    def check(res, peer):
        if i >= len(res["reply"]):
            return f"no reply line {i}"
        got = res["reply"][i]
        if got[0] != c or (text is not None and got[1] != text):
            return f"reply {i}: {got!r}, expected {(c, text)!r}"
        return None
    return check


def plain_is(expected):
    return lambda res, peer: (None if peer and peer.plain == expected
                              else f"client sent {peer.plain if peer else None!r}, expected "
                                   f"{expected!r}")


def tls_is(expected):
    return lambda res, peer: (None if peer and peer.tls == expected
                              else f"client sent in TLS {peer.tls if peer else None!r}, expected "
                                   f"{expected!r}")


def log_has(text, times=None):
    def check(res, peer):
        n = sum(1 for line in res["log"] if line == text)
        if times is None:
            return None if n > 0 else f"no log line {text!r}"
        return None if n == times else f"log line {text!r} seen {n} times, expected {times}"
    return check


def fast(limit_ms):
    return lambda res, peer: (None if res.get("elapsed", 1e9) < limit_ms
                              else f"took {res.get('elapsed')} ms")


def closed(res, peer):
    return None if peer and peer.client_closed else "the client did not close"


# --- peers ------------------------------------------------------------------------

GREET = b"220 mx.test ESMTP ready\r\n"
BODY = b"Subject: t\r\n\r\n.dot\nbare LF\rbare CR\r\n..two\r\nno end"
WIRE = b"Subject: t\r\n\r\n..dot\r\nbare LF\r\nbare CR\r\n...two\r\nno end\r\n.\r\n"


def ehlo_reply(*exts, name=b"mx.test"):
    lines = [name] + list(exts)
    return b"".join(b"250" + (b" " if i == len(lines) - 1 else b"-") + l + b"\r\n"
                    for i, l in enumerate(lines))


def h_session(exts, transactions, verb=b"EHLO", quit_reply=b"221 bye\r\n"):
    """Greeting, EHLO, then each transaction: a list of (expect, reply, quiet)."""
    def h(p):
        p.send(GREET)
        p.expect(verb + b" probe.test\r\n")
        p.send(ehlo_reply(*exts))
        for steps in transactions:
            for want, reply, quiet in steps:
                if want is not None:
                    p.expect(want)
                if quiet:
                    p.quiet()
                if reply is not None:
                    p.send(reply)
        if quit_reply is not None:
            p.expect(b"QUIT\r\n")
            p.send(quit_reply)
    return h


def plain_txn(sender=b"a@b", rcpt=b"c@d", wire=WIRE, params=b"", final=b"250 2.0.0 queued\r\n"):
    return [(b"MAIL FROM:<" + sender + b">" + params + b"\r\n", b"250 2.1.0 ok\r\n", True),
            (b"RCPT TO:<" + rcpt + b">\r\n", b"250 2.1.5 ok\r\n", True),
            (b"DATA\r\n", b"354 go ahead\r\n", True),
            (wire, final, False)]


def piped_txn(sender=b"a@b", rcpt=b"c@d", wire=WIRE, params=b"", final=b"250 2.0.0 queued\r\n"):
    return [(b"MAIL FROM:<" + sender + b">" + params + b"\r\nRCPT TO:<" + rcpt +
             b">\r\nDATA\r\n", b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n", True),
            (wire, final, False)]


def tls_ctx(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def h_starttls(ctx, pre_exts, post_exts, after, injected=b""):
    """STARTTLS, then EHLO again inside TLS and `after(peer)`."""
    def h(p):
        p.send(GREET)
        p.expect(b"EHLO probe.test\r\n")
        p.send(ehlo_reply(*pre_exts))
        p.expect(b"STARTTLS\r\n")
        p.send(b"220 2.0.0 go ahead\r\n" + injected)
        if injected:
            return
        try:
            p.starttls(ctx)
        except (ssl.SSLError, OSError):
            p.client_closed = True  # the client refused our certificate
            return
        p.expect(b"EHLO probe.test\r\n")
        p.send(ehlo_reply(*post_exts))
        after(p)
    return h


def after_one_message(p):
    for want, reply, quiet in piped_txn():
        p.expect(want)
        p.send(reply)
    p.expect(b"QUIT\r\n")
    p.send(b"221 bye\r\n")


# --- the cases ----------------------------------------------------------------------

def encode(body):
    """The DATA transparency rules, independently: line breaks to CRLF,
    dot-stuffing, CRLF before the dot when missing."""
    lines = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    ends = body.endswith((b"\n", b"\r"))
    if ends or body == b"":
        lines = lines[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def cases_transaction():
    ehlo = b"EHLO probe.test\r\n"
    run("SMTP without PIPELINING: one command at a time, exact bytes",
        h_session([b"8BITMIME"], [plain_txn()]), send_args("a@b", "c@d", BODY),
        sends=[0], checks=[plain_is(ehlo + b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + WIRE +
                                    b"QUIT\r\n"),
                           reply_is(1, 250, "2.0.0 queued"), error_is(1, ""),
                           log_has("C: [...]", 1), log_has("S: 220 mx.test ESMTP ready"),
                           log_has("C: MAIL FROM:<a@b>"), log_has("S: 354 go ahead"),
                           lambda r, p: None if r["ext"] == {"PIPELINING": 0, "8BITMIME": 1,
                                                             "SMTPUTF8": 0, "SIZE": 0,
                                                             "STARTTLS": 0} else f"ext {r['ext']}"])
    run("PIPELINING offered: MAIL, RCPT and DATA in one write",
        h_session([b"PIPELINING"], [piped_txn()]), send_args("a@b", "c@d", BODY), sends=[0],
        checks=[reply_is(1, 250, "2.0.0 queued")])
    run("PIPELINING offered but turned off: one at a time",
        h_session([b"PIPELINING"], [plain_txn()]),
        ["--pipelining", "0"] + send_args("a@b", "c@d", BODY), sends=[0])
    run("keywords are case-insensitive (pipelining in lower case)",
        h_session([b"pipelining"], [piped_txn()]), send_args("a@b", "c@d", BODY), sends=[0])
    run("LMTP: LHLO, one final reply",
        h_session([b"PIPELINING", b"ENHANCEDSTATUSCODES"],
                  [piped_txn(final=b"250 2.0.0 <c@d> Saved\r\n")], verb=b"LHLO"),
        ["--lmtp"] + send_args("a@b", "c@d", BODY), sends=[0],
        checks=[reply_is(1, 250, "2.0.0 <c@d> Saved")])
    run("empty body: just the dot; null sender <>",
        h_session([], [plain_txn(sender=b"", wire=b".\r\n")]), send_args("", "c@d", b""),
        sends=[0])
    run("byte-exact body, 8-bit bytes kept, read one byte at a time",
        h_session([b"PIPELINING", b"8BITMIME"],
                  [piped_txn(wire=b"\xe9t\xe9\x00\xff\r\n..\r\n.\r\n", params=b" BODY=8BITMIME")]),
        ["--chunk", "1"] + send_args("a@b", "c@d", b"\xe9t\xe9\x00\xff\n.", 0, 1), sends=[0])
    big = b"".join(b".line %d .\n.%d\r\n\r" % (i, i) for i in range(20000))
    run("a 500 KB body in 16 KiB reads",
        h_session([b"PIPELINING"], [piped_txn(wire=encode(big))]),
        send_args("a@b", "c@d", big), sends=[0])
    run("the same in 7-byte reads",
        h_session([b"PIPELINING"], [piped_txn(wire=encode(big))]),
        ["--chunk", "7"] + send_args("a@b", "c@d", big), sends=[0])
    run("SIZE, BODY=8BITMIME and SMTPUTF8 when offered and needed",
        h_session([b"PIPELINING", b"SIZE 1000000", b"8BITMIME", b"SMTPUTF8"],
                  [piped_txn(params=b" SIZE=123 BODY=8BITMIME"),
                   piped_txn(sender="j\u00fc@b".encode(), params=b" BODY=8BITMIME SMTPUTF8"),
                   piped_txn(params=b" BODY=8BITMIME SMTPUTF8")]),
        send_args("a@b", "c@d", BODY, 123, 1) + send_args("j\u00fc@b", "c@d", BODY) +
        send_args("a@b", "c@d", BODY, 0, 0, 1), sends=[0, 0, 0])
    run("no parameters when not offered (SIZE given, 8-bit body)",
        h_session([b"PIPELINING"], [piped_txn()]), send_args("a@b", "c@d", BODY, 123, 1),
        sends=[0])
    run("an 8-bit address without SMTPUTF8: refused before sending",
        h_session([b"PIPELINING", b"8BITMIME"], []),
        send_args("a@b", "r\u00e9@d", BODY) + send_args("a@b", "c@d", BODY, 0, 0, 1),
        sends=["ECAPABILITY", "ECAPABILITY"],
        checks=[plain_is(ehlo + b"QUIT\r\n"), error_has(1, "needs SMTPUTF8")])
    for bad, what in (("c@d\r\nRSET", "CRLF"), ("c@d\nDATA", "LF"), ("c@d>", ">"),
                      ("<c@d", "<"), ("c@d\x1b[31m", "ESC")):
        run(f"a recipient with {what} is refused (QR_EINVAL), nothing sent",
            h_session([b"PIPELINING"], []), send_args("a@b", bad, BODY), sends=["EINVAL"],
            checks=[plain_is(ehlo + b"QUIT\r\n"), error_has(1, "RCPT TO: invalid recipient")])
    run("a sender with CR is refused (QR_EINVAL), nothing sent",
        h_session([], []), send_args("a@b\rRSET", "c@d", BODY), sends=["EINVAL"],
        checks=[plain_is(ehlo + b"QUIT\r\n"), error_has(1, "MAIL FROM: invalid sender")])


def cases_refusals():
    rset = (b"RSET\r\n", b"250 2.0.0 reset\r\n", False)
    mail = b"MAIL FROM:<a@b>\r\n"
    run("4xx at MAIL (no PIPELINING): QR_ENO, RSET, the next message goes through",
        h_session([], [[(mail, b"451 4.3.0 try later\r\n", True), rset], plain_txn()]),
        send_args("a@b", "c@d", BODY) + send_args("a@b", "c@d", BODY), sends=["ENO", 0],
        checks=[reply_is(1, 451, "4.3.0 try later"), error_has(1, "MAIL FROM: 451 4.3.0 try later"),
                reply_is(2, 250, "2.0.0 queued"), log_has("C: RSET")])
    run("5xx at RCPT (PIPELINING): first refusal reported, RSET, next message fine",
        h_session([b"PIPELINING"],
                  [[(b"MAIL FROM:<a@b>\r\nRCPT TO:<x@d>\r\nDATA\r\n",
                     b"250 ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n554 5.5.1 no valid "
                     b"recipients\r\n", True), rset], piped_txn()]),
        send_args("a@b", "x@d", BODY) + send_args("a@b", "c@d", BODY), sends=["ENO", 0],
        checks=[reply_is(1, 550, "5.1.1 no such|5.1.1 user"),
                error_has(1, ": RCPT TO: 550 5.1.1 no such 5.1.1 user"),
                lambda r, p: None if r["error"][1][1].startswith("smtp 127.0.0.1:")
                else "message does not name the server"])
    run("5xx at MAIL with PIPELINING: MAIL's reply is the one reported",
        h_session([b"PIPELINING"],
                  [[(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
                     b"553 5.1.8 bad sender\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n",
                     True), rset]]),
        send_args("a@b", "c@d", BODY), sends=["ENO"],
        checks=[reply_is(1, 553, "5.1.8 bad sender"), error_has(1, "MAIL FROM: 553")])
    run("DATA refused (no PIPELINING): QR_ENO and RSET",
        h_session([], [plain_txn()[:2] + [(b"DATA\r\n", b"554 5.3.4 no\r\n", True), rset]]),
        send_args("a@b", "c@d", BODY), sends=["ENO"], checks=[reply_is(1, 554, "5.3.4 no"),
                                                                error_has(1, "DATA: 554")])
    run("final reply 5xx: QR_ENO, no RSET, next message fine",
        h_session([b"PIPELINING"], [piped_txn(final=b"552 5.3.4 too big\r\n"), piped_txn()]),
        send_args("a@b", "c@d", BODY) + send_args("a@b", "c@d", BODY), sends=["ENO", 0],
        checks=[reply_is(1, 552, "5.3.4 too big"), error_has(1, "end of data: 552")])
    run("final reply 4xx (LMTP): QR_ENO with the code",
        h_session([], [plain_txn(final=b"452 4.2.2 mailbox full\r\n")], verb=b"LHLO"),
        ["--lmtp"] + send_args("a@b", "c@d", BODY), sends=["ENO"],
        checks=[reply_is(1, 452, "4.2.2 mailbox full")])
    run("DATA accepted by a broken server after a refused RCPT: empty body, RSET",
        h_session([b"PIPELINING"],
                  [[(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
                     b"250 ok\r\n550 no\r\n354 go\r\n", True),
                    (b".\r\n", b"554 nothing\r\n", False),
                    rset]]),
        send_args("a@b", "c@d", BODY), sends=["ENO"], checks=[reply_is(1, 550, "no")])
    run("421 at MAIL: QR_ENO and the connection is closed",
        h_session([], [[(mail, b"421 4.3.2 shutting down\r\n", True)]], quit_reply=None),
        send_args("a@b", "c@d", BODY) + send_args("a@b", "c@d", BODY), sends=["ENO", "EOF"],
        checks=[reply_is(1, 421), closed, error_has(2, "MAIL FROM: the connection was lost")])
    run("RSET refused: QR_ENO kept, the connection closed",
        h_session([], [[(mail, b"450 busy\r\n", True), (b"RSET\r\n", b"500 what\r\n", False)]],
                  quit_reply=None),
        send_args("a@b", "c@d", BODY), sends=["ENO"],
        checks=[reply_is(1, 450, "busy"), error_has(1, "MAIL FROM: 450 busy"), closed])
    run("greeting 554: connect fails with QR_ENO",
        lambda p: p.send(b"554 no service\r\n"), [], connect="ENO", checks=[reply_is(0, 554)])
    run("EHLO refused: QR_ENO",
        lambda p: (p.send(GREET), p.expect(b"EHLO probe.test\r\n"), p.send(b"502 no\r\n")),
        [], connect="ENO", checks=[error_has(0, "EHLO: 502 no")])
    run("unexpected 3xx for MAIL: QR_EPROTO",
        h_session([], [[(mail, b"354 what\r\n", True)]], quit_reply=None),
        send_args("a@b", "c@d", BODY), sends=["EPROTO"],
        checks=[error_has(1, "MAIL FROM: unexpected reply 354 what"), closed])


def h_raw(*chunks, close=True):
    def h(p):
        for c in chunks:
            if isinstance(c, bytes):
                p.send(c)
            else:
                c(p)
        if close:
            p.sock.shutdown(socket.SHUT_RDWR)
    return h


def cases_broken():
    ehlo = lambda p: p.expect(b"EHLO probe.test\r\n")  # noqa: E731
    run("greeting line ending in a bare LF: QR_EPROTO", h_raw(b"220 hi\n"), [], connect="EPROTO",
        checks=[error_has(0, "greeting: invalid reply (reply line not ending in CRLF): 220 hi")])
    run("greeting without a line end, then close: QR_EOF", h_raw(b"220 hi"), [], connect="EOF",
        checks=[error_has(0, "in the middle of a reply line")])
    run("a bad code: QR_EPROTO", h_raw(b"2x0 hi\r\n"), [], connect="EPROTO",
        checks=[error_has(0, "malformed reply code")])
    run("a code that changes in a multi-line EHLO reply: QR_EPROTO",
        h_raw(GREET, ehlo, b"250-mx\r\n251 PIPELINING\r\n"), [], connect="EPROTO",
        checks=[error_has(0, "EHLO: invalid reply (reply code changed")])
    run("silent peer: QR_EAGAIN after io-timeout",
        h_raw(lambda p: p.drain(4), close=False), ["--io-timeout", "300"], connect="EAGAIN",
        checks=[fast(3000), error_has(0, "greeting: no reply within 300 ms")])
    run("no final reply: QR_EAGAIN after io-timeout",
        h_session([b"PIPELINING"], [piped_txn(final=None)], quit_reply=None),
        ["--io-timeout", "400"] + send_args("a@b", "c@d", BODY), sends=["EAGAIN"],
        checks=[fast(4000), error_has(1, "end of data: no reply within 400 ms"), closed])
    big = b"x" * 1000 + b"\n"

    def close_mid_data(p):
        p.send(GREET)
        p.expect(b"EHLO probe.test\r\n")
        p.send(ehlo_reply(b"PIPELINING"))
        p.expect(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n")
        p.send(b"250 ok\r\n250 ok\r\n354 go\r\n")
        p.expect(b"x" * 1000)
        p.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        p.sock.close()
        p.client_closed = True
        p.allow_trailing = True
    run("peer closes mid-DATA (4 MB body): a connection error",
        close_mid_data, send_args("a@b", "c@d", big * 4000), sends=[("EIO", "EOF")],
        checks=[error_has(1, "DATA: ")])
    def cut(p):
        p.allow_trailing = True
    run("read callback fails mid-body: its code, connection dropped, no final dot",
        h_raw(GREET, lambda p: p.expect(b"EHLO probe.test\r\n"), ehlo_reply(b"PIPELINING"),
              lambda p: p.expect(b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"),
              b"250 ok\r\n250 ok\r\n354 go\r\n", cut, close=False),
        ["--fail-read", "10"] + send_args("a@b", "c@d", BODY), sends=["EUSER"],
        checks=[error_has(1, "DATA: the message source failed after 10 bytes"), closed,
                lambda r, p: None if p and p.buf == b"Subject: t" else f"after DATA: {p.buf!r}"])


def cases_tls(certs, good, bad):
    ca = ["--cafile", certs.cafile]
    ehlo = b"EHLO probe.test\r\n"
    good_ctx = tls_ctx(good)
    run("STARTTLS offered: TLS, EHLO again, the message inside TLS",
        h_starttls(good_ctx, [b"STARTTLS", b"SIZE 10"], [b"PIPELINING"], after_one_message),
        ca + send_args("a@b", "c@d", BODY, 99), sends=[0],
        checks=[plain_is(ehlo + b"STARTTLS\r\n"),
                tls_is(ehlo + b"MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n" + WIRE +
                       b"QUIT\r\n")])
    run("STARTTLS with a pin (verify off) works",
        h_starttls(good_ctx, [b"STARTTLS"], [b"PIPELINING"], after_one_message),
        ["--verify", "0", "--fingerprint", "sha256$" + good.spki_sha256()] +
        send_args("a@b", "c@d", BODY), sends=[0])
    for what, pair in bad.items():
        run(f"STARTTLS refuses a {what} certificate: QR_ETLS, nothing sent inside",
            h_starttls(tls_ctx(pair), [b"STARTTLS"], [], lambda p: None),
            ca + send_args("a@b", "c@d", BODY), connect="ETLS",
            checks=[plain_is(ehlo + b"STARTTLS\r\n"), tls_is(b""), error_has(0, "STARTTLS: ")])
    run("ssl_hostname is the name checked: a certificate for another name accepted",
        h_starttls(tls_ctx(bad["wrong-host"]), [b"STARTTLS"], [b"PIPELINING"], after_one_message),
        ca + ["--hostname", "wrong.invalid"] + send_args("a@b", "c@d", BODY), sends=[0])
    run("ssl_hostname is the name checked: the right certificate for 127.0.0.1 refused",
        h_starttls(good_ctx, [b"STARTTLS"], [], lambda p: None),
        ca + ["--hostname", "other.invalid"], connect="ETLS", checks=[tls_is(b"")])
    run("STARTTLS pin mismatch: QR_ETLS",
        h_starttls(good_ctx, [b"STARTTLS"], [], lambda p: None),
        ca + ["--fingerprint", "sha256$" + "00" * 32], connect="ETLS", checks=[tls_is(b"")])
    run("STARTTLS required but not offered: QR_ECAPABILITY",
        h_session([b"PIPELINING"], [], quit_reply=None), ["--starttls", "required"],
        connect="ECAPABILITY", checks=[plain_is(ehlo), closed,
                                       error_has(0, "STARTTLS: the server does not offer")])
    run("STARTTLS never: not used even when offered",
        h_session([b"STARTTLS"], []), ["--starttls", "never"],
        checks=[plain_is(ehlo + b"QUIT\r\n")])
    run("STARTTLS refused (454): QR_ENO",
        lambda p: (p.send(GREET), p.expect(ehlo), p.send(ehlo_reply(b"STARTTLS")),
                   p.expect(b"STARTTLS\r\n"), p.send(b"454 4.7.0 not now\r\n")),
        ca, connect="ENO", checks=[reply_is(0, 454)])
    run("bytes after the STARTTLS 220 (injection): QR_EPROTO before the handshake",
        h_starttls(good_ctx, [b"STARTTLS"], [], None, injected=b"250 injected\r\n"), ca,
        connect="EPROTO", checks=[error_has(0, "injection"), plain_is(ehlo + b"STARTTLS\r\n")])
    def silent_tls(p):
        p.send(GREET)
        p.expect(ehlo)
        p.send(ehlo_reply(b"STARTTLS"))
        p.expect(b"STARTTLS\r\n")
        p.send(b"220 go\r\n")
        p.allow_trailing = True  # the ClientHello, never answered
    run("silent server after STARTTLS: handshake timeout", silent_tls,
        ca + ["--connect-timeout", "400"], connect="ETLS", checks=[fast(3000)])

    def auth_plain_inside(p):
        p.expect(b"AUTH PLAIN " + PLAIN_IR + b"\r\n")
        p.send(b"235 2.7.0 ok\r\n")
        after_one_message(p)
    run("AUTH PLAIN inside TLS (initial response), then a message",
        h_starttls(good_ctx, [b"STARTTLS"], [b"PIPELINING", b"AUTH PLAIN LOGIN"],
                   auth_plain_inside),
        ca + ["--auth", "PLAIN", "--user", USER, "--password", PASSWORD] +
        send_args("a@b", "c@d", BODY), sends=[0],
        checks=[log_has("C: AUTH PLAIN <redacted>", 1), plain_is(ehlo + b"STARTTLS\r\n")])


def cases_auth():
    ehlo = b"EHLO probe.test\r\n"
    creds = ["--user", USER, "--password", PASSWORD]

    def auth_session(exts, steps, quit_reply=b"221 bye\r\n"):
        return h_session(exts, [steps], quit_reply=quit_reply)
    run("AUTH PLAIN over plain TCP refused without allow-plaintext: nothing sent",
        auth_session([b"AUTH PLAIN"], [], quit_reply=None), ["--auth", "PLAIN"] + creds,
        connect="EAUTH", checks=[plain_is(ehlo), error_has(0, "AUTH: refusing to send a password")])
    run("AUTH PLAIN allowed in clear; 535 is QR_EAUTH with the reply",
        auth_session([b"AUTH=PLAIN", b"AUTH PLAIN"],
                     [(b"AUTH PLAIN " + PLAIN_IR + b"\r\n", b"535 5.7.8 bad credentials\r\n",
                       False)],
                     quit_reply=None),
        ["--auth", "PLAIN", "--allow-plaintext"] + creds, connect="EAUTH",
        checks=[reply_is(0, 535, "5.7.8 bad credentials"),
                error_has(0, "AUTH: AUTH PLAIN failed: 535 5.7.8 bad credentials")])
    run("AUTH LOGIN: two 334 rounds, then a message",
        auth_session([b"AUTH LOGIN"],
                     [(b"AUTH LOGIN\r\n", b"334 VXNlcm5hbWU6\r\n", False),
                      (base64.b64encode(USER.encode()) + b"\r\n", b"334 UGFzc3dvcmQ6\r\n", False),
                      (base64.b64encode(PASSWORD.encode()) + b"\r\n", b"235 ok\r\n", False)] +
                     plain_txn()),
        ["--auth", "LOGIN", "--allow-plaintext"] + creds + send_args("a@b", "c@d", BODY),
        sends=[0], checks=[log_has("C: <redacted>", 2)])
    run("the first configured mechanism the server offers wins",
        auth_session([b"AUTH LOGIN PLAIN"],
                     [(b"AUTH PLAIN " + PLAIN_IR + b"\r\n", b"235 ok\r\n", False)]),
        ["--auth", "CRAM-MD5 PLAIN LOGIN", "--allow-plaintext"] + creds)
    run("no mechanism in common: QR_ECAPABILITY",
        auth_session([b"AUTH CRAM-MD5 GSSAPI"], [], quit_reply=None),
        ["--auth", "PLAIN LOGIN", "--allow-plaintext"] + creds, connect="ECAPABILITY",
        checks=[error_has(0, "CRAM-MD5 GSSAPI"), plain_is(ehlo)])
    run("no AUTH offered at all: QR_ECAPABILITY",
        auth_session([b"PIPELINING"], [], quit_reply=None),
        ["--auth", "PLAIN", "--allow-plaintext"] + creds, connect="ECAPABILITY")
    run("a malformed challenge cancels with *",
        auth_session([b"AUTH LOGIN"],
                     [(b"AUTH LOGIN\r\n", b"334 !!notbase64\r\n", False),
                      (b"*\r\n", b"501 5.0.0 cancelled\r\n", False)], quit_reply=None),
        ["--auth", "LOGIN", "--allow-plaintext"] + creds, connect="EPROTO",
        checks=[error_has(0, "not base64")])
    run("AUTH data logged in full at TRACE only",
        auth_session([b"AUTH PLAIN"],
                     [(b"AUTH PLAIN " + PLAIN_IR + b"\r\n", b"235 ok\r\n", False)]),
        ["--auth", "PLAIN", "--allow-plaintext", "--trace"] + creds,
        checks=[log_has("C: AUTH PLAIN " + PLAIN_IR.decode(), 1)])


def cases_hosts():
    global count, failures
    run("host \"localhost\" by name",
        h_session([], []), ["--host", "localhost"], checks=[])
    try:
        s6 = Server(h_session([b"PIPELINING"], [piped_txn()]), socket.AF_INET6, "::1")
    except OSError:
        count += 1
        print(f"ok {count} - IPv6 literal # SKIP no ::1 here")
        return
    run("IPv6 literal ::1 without brackets: a message", None,
        ["--host", "::1"] + send_args("a@b", "c@d", BODY), sends=[0], server=s6)
    s6 = Server(lambda p: p.send(b"554 5.3.2 no service\r\n"), socket.AF_INET6, "::1")
    run("IPv6 literal [::1]: the place in messages is bracketed", None, ["--host", "[::1]"],
        connect="ENO", server=s6,
        checks=[error_is(0, f"smtp [::1]:{s6.port}: greeting: 554 5.3.2 no service")])


def main():
    global count, failures
    assert encode(BODY) == WIRE and encode(b"") == b".\r\n" and encode(b"a\r") == b"a\r\n.\r\n"
    cases_transaction()
    cases_refusals()
    cases_broken()
    cases_auth()
    cases_hosts()
    run("bad options: helo with CRLF refused at creation", None, ["--helo", "x\r\nRSET"],
        connect=None, quit_rc=None, server=NoServer(),
        checks=[lambda r, p: None if r.get("new") == -3 else f"new {r.get('new')}"])
    from qrrig.certs import CertFactory  # noqa: E402 - path set above
    try:
        certs = CertFactory(os.path.join(TMP, "certs"))
        good = certs.server()
        bad = {"self-signed": certs.self_signed(), "expired": certs.expired(),
               "wrong-host": certs.wrong_host(),
               "unknown-ca": CertFactory(os.path.join(TMP, "certs2")).server()}
    except Exception as e:  # noqa: BLE001
        count += 1
        print(f"ok {count} - STARTTLS cases # SKIP cannot make certificates: {e}")
    else:
        cases_tls(certs, good, bad)
    print(f"1..{count}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
