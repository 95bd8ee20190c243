#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Security tests of qr_conn against scripted fake IMAP servers over real
TCP on 127.0.0.1 (TAP output).

Usage: test-conn-security.py CONN-PROBE RIG-DIR

Each case starts a one-connection fake server in a thread (plain TCP,
STARTTLS or IMAPS with Python's ssl module and throw-away certificates
made by tests/rig/qrrig/certs.py), runs conn-probe against it, and checks
the safe outcome: the error code and message, that the client closed the
connection, and that nothing it should not send (credentials, a command
in clear text after STARTTLS) reached the server. The server records
every byte the client sent, before and after TLS.
"""

import base64
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

PROBE = sys.argv[1]
sys.path.insert(0, sys.argv[2])

QR = {"EIO": -6, "ETLS": -7, "ECOMPRESS": -8, "EPROTO": -9, "EAUTH": -14,
      "ECAPABILITY": -15, "EOF": -5}
USER, PASSWORD = "joe", "Sup3r-Secret-pw"
PLAIN_B64 = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())

count = 0
failures = 0


class Peer:
    """The server side of one connection, recording what the client sends."""

    def __init__(self, sock):
        self.sock = sock
        self.plain = b""        # bytes received before TLS
        self.tls = b""          # bytes received inside TLS
        self.buf = b""
        self.in_tls = False
        self.client_closed = False

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

    def readline(self, timeout=5):
        while b"\n" not in self.buf:
            data = self._recv(timeout)
            if not data:
                raise EOFError("client closed or silent")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line + b"\n"

    def starttls(self, ctx):
        self.in_tls = True
        self.sock = ctx.wrap_socket(self.sock, server_side=True)

    def drain(self, timeout=3):
        """Record until the client closes (or timeout)."""
        end = time.time() + timeout
        while not self.client_closed and time.time() < end:
            self._recv(0.2)


class Server:
    """Listen on 127.0.0.1:0 and run handler(peer) on the first client."""

    def __init__(self, handler, tls_ctx=None):
        self.lsock = socket.socket()
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(1)
        self.port = self.lsock.getsockname()[1]
        self.handler = handler
        self.tls_ctx = tls_ctx
        self.peer = None
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        self.lsock.settimeout(20)
        try:
            sock, _ = self.lsock.accept()
            if self.tls_ctx:
                try:
                    sock = self.tls_ctx.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):
                    self.peer = Peer(sock)
                    self.peer.client_closed = True
                    return
            self.peer = Peer(sock)
            if self.tls_ctx:
                self.peer.in_tls = True
            self.handler(self.peer)
            self.peer.drain()
        except EOFError:
            pass
        except Exception as e:  # noqa: BLE001 - reported as a diagnostic
            self.error = repr(e)
        finally:
            self.lsock.close()

    def join(self):
        self.thread.join(25)


def probe(port, *args):
    out = subprocess.run([PROBE, "--host", "127.0.0.1", "--port", str(port),
                          "--user", USER, "--password", PASSWORD, *args],
                         capture_output=True, text=True, timeout=60,
                         errors="surrogateescape").stdout
    res = {"log": [], "result": None, "message": "", "elapsed": None, "raw": out}
    for line in out.splitlines():
        if line.startswith("log "):
            res["log"].append(line[4:])
        elif line.startswith("result "):
            parts = line.split(" ", 2)
            res["result"] = int(parts[1])
            res["message"] = parts[2] if len(parts) > 2 else ""
        elif line.startswith("elapsed "):
            res["elapsed"] = int(line.split()[1])
    return res


def run(name, handler, args, expect, tls_ctx=None, checks=()):
    """Run one case; expect is a QR code name, 0, or a tuple of them."""
    global count, failures
    count += 1
    srv = Server(handler, tls_ctx)
    res = probe(srv.port, *args)
    srv.join()
    peer = srv.peer
    problems = []
    codes = expect if isinstance(expect, tuple) else (expect,)
    wanted = [0 if c == 0 else QR[c] for c in codes]
    if res["result"] not in wanted:
        problems.append(f"result {res['result']} not in {wanted}: {res['message']}")
    if srv.error:
        problems.append("server: " + srv.error)
    if peer is None:
        problems.append("no connection")
    else:
        sent = peer.plain + peer.tls
        if expect != 0:
            if PASSWORD.encode() in sent or PLAIN_B64 in sent:
                problems.append("credentials reached the server")
            if not peer.client_closed:
                problems.append("the client did not close the connection")
        for check in checks:
            msg = check(res, peer)
            if msg:
                problems.append(msg)
    if expect != 0 and "\n" in res["message"]:
        problems.append("multi-line message")
    if problems:
        failures += 1
        print(f"not ok {count} - {name}")
        for p in problems:
            print("# " + p)
        for line in res["raw"].splitlines()[-12:]:
            print("#   " + line.encode("unicode_escape").decode())
    else:
        print(f"ok {count} - {name}")


# --- scripted servers ---------------------------------------------------------

def greet(caps, cond="OK"):
    return f"* {cond} [CAPABILITY {caps}] fake ready\r\n".encode()


def tag_of(line):
    return line.split(b" ", 1)[0]


def serve_commands(peer, answers):
    """Answer each command: answers maps a command name to bytes (with
    {tag} replaced) or a callable(peer, tag, line)."""
    while True:
        line = peer.readline()
        tag = tag_of(line)
        name = line.split(b" ")[1].strip().upper().decode() if b" " in line else ""
        ans = answers.get(name)
        if ans is None:
            peer.send(tag + b" BAD unexpected\r\n")
        elif callable(ans):
            if ans(peer, tag, line) == "stop":
                return
        else:
            peer.send(ans.replace(b"{tag}", tag))
        if name == "LOGOUT":
            return


def h_greeting_only(caps, cond="OK"):
    def h(peer):
        peer.send(greet(caps, cond))
        serve_commands(peer, {"LOGOUT": b"* BYE bye\r\n{tag} OK done\r\n"})
    return h


def h_starttls_answer(answer):
    def h(peer):
        peer.send(greet("IMAP4rev1 STARTTLS AUTH=PLAIN"))
        line = peer.readline()
        peer.send(answer.replace(b"{tag}", tag_of(line)))
        peer.drain()
    return h


def auth_ok(peer, tag, line):
    if line.strip().upper().endswith(b"AUTHENTICATE PLAIN"):
        peer.send(b"+ \r\n")
        line = peer.readline()
    if PLAIN_B64 in line or PASSWORD.encode() in line:
        peer.send(tag + b" OK [CAPABILITY IMAP4rev1 ENABLE QRESYNC] logged in\r\n")
    else:
        peer.send(tag + b" NO bad credentials\r\n")


AFTER_LOGIN = {
    "AUTHENTICATE": auth_ok,
    "LOGIN": auth_ok,
    "CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
    "NOOP": b"{tag} OK noop\r\n",
    "LOGOUT": b"* BYE bye\r\n{tag} OK done\r\n",
}


def h_starttls_full(ctx, pre_caps, post_caps, inject=None, inject_later=None, silent=False):
    """STARTTLS then the normal exchange with post_caps after TLS."""
    def h(peer):
        peer.send(greet(pre_caps))
        line = peer.readline()
        if b"STARTTLS" not in line:
            peer.send(tag_of(line) + b" BAD expected STARTTLS\r\n")
            return
        ok = tag_of(line) + b" OK begin TLS\r\n"
        peer.send(ok + (inject or b""))
        if inject_later:
            time.sleep(0.3)
            peer.send(inject_later)
        if silent or inject or inject_later:
            peer.drain(4)
            return
        # The ClientHello must come first: nothing in clear after STARTTLS.
        peer.sock.settimeout(5)
        first = peer.sock.recv(1, socket.MSG_PEEK)
        if first != b"\x16":
            peer.plain += peer.sock.recv(4096)
            raise RuntimeError(f"expected a TLS ClientHello, got {first!r}")
        try:
            peer.starttls(ctx)
        except (ssl.SSLError, OSError):
            peer.client_closed = True  # the client refused our certificate
            return
        answers = dict(AFTER_LOGIN)
        answers["CAPABILITY"] = f"* CAPABILITY {post_caps}\r\n{{tag}} OK done\r\n".encode()
        serve_commands(peer, answers)
    return h


def h_plain_login(caps):
    def h(peer):
        peer.send(greet(caps))
        serve_commands(peer, AFTER_LOGIN)
    return h


def h_silent(peer):
    peer.drain(5)


def h_compress_corrupt(peer):
    peer.send(greet("IMAP4rev1 COMPRESS=DEFLATE", cond="PREAUTH"))
    line = peer.readline()
    peer.send(tag_of(line) + b" OK compressing\r\n" + b"\xff\xfe\xfd garbage, not deflate\r\n")
    peer.drain()


def h_imaps(peer):
    peer.send(greet("IMAP4rev1 AUTH=PLAIN"))
    serve_commands(peer, AFTER_LOGIN)


def h_alert(peer):
    peer.send(b"* OK [ALERT] Disk \x1b[31mfull\x07 now [CAPABILITY IMAP4rev1 AUTH=PLAIN]\r\n")
    serve_commands(peer, AFTER_LOGIN)


# --- checks --------------------------------------------------------------------

def msg_has(text):
    return lambda res, peer: None if text in res["message"] else f"message lacks {text!r}"


def plain_is(expected):
    return lambda res, peer: (None if peer.plain == expected
                              else f"client sent {peer.plain!r}, expected {expected!r}")


def no_auth_cmd(res, peer):
    sent = peer.plain + peer.tls
    if b"LOGIN" in sent or b"AUTHENTICATE" in sent:
        return "an authentication command was sent"
    return None


def tls_ctx(pair):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pair.cert, pair.key)
    return ctx


def main():
    from qrrig.certs import CertFactory  # noqa: E402 - path set above
    try:
        certs = CertFactory(tempfile.mkdtemp(prefix="qr-sec-"))
        good = certs.server()
        bad = {"self-signed": certs.self_signed(), "expired": certs.expired(),
               "wrong-host": certs.wrong_host(),
               "unknown-ca": CertFactory(tempfile.mkdtemp(prefix="qr-sec2-")).server()}
    except Exception as e:  # noqa: BLE001
        print(f"1..0 # SKIP cannot make certificates: {e}")
        return 0
    ca = ["--cafile", certs.cafile]
    good_ctx = tls_ctx(good)
    st = ["--type", "imap"]

    run("STARTTLS not advertised while required", h_greeting_only("IMAP4rev1 AUTH=PLAIN"),
        st, "ECAPABILITY", checks=[msg_has("Server did not advertise STARTTLS capability."),
                                   msg_has("127.0.0.1:"), no_auth_cmd])
    for answer, code in ((b"{tag} NO not now\r\n", "ETLS"), (b"{tag} BAD what\r\n", "ETLS"),
                         (b"+ go ahead\r\n", "EPROTO")):
        run(f"STARTTLS answered {answer[:6]!r}", h_starttls_answer(answer), st + ca, code,
            checks=[no_auth_cmd, plain_is(b"A1 STARTTLS\r\n")])
    run("PREAUTH on plain TCP with STARTTLS required",
        h_greeting_only("IMAP4rev1 STARTTLS", cond="PREAUTH"), st, "ETLS",
        checks=[msg_has("MiTM"), plain_is(b"")])
    inj = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected\r\n"
    run("bytes after the STARTTLS OK in the same segment",
        h_starttls_full(good_ctx, "IMAP4rev1 STARTTLS", "", inject=inj), st + ca, "EPROTO",
        checks=[msg_has("injection"), plain_is(b"A1 STARTTLS\r\n")])
    run("bytes after the STARTTLS OK in a later segment, before the handshake",
        h_starttls_full(good_ctx, "IMAP4rev1 STARTTLS", "", inject_later=inj), st + ca,
        ("EPROTO", "ETLS"), checks=[no_auth_cmd])
    run("capabilities after TLS replace the old ones (LOGINDISABLED, AUTH=PLAIN)",
        h_starttls_full(good_ctx, "IMAP4rev1 STARTTLS LOGINDISABLED",
                        "IMAP4rev1 AUTH=PLAIN SASL-IR"),
        st + ca + ["--auth", "PLAIN", "--early-noop"], 0,
        checks=[plain_is(b"A1 STARTTLS\r\n"),
                lambda res, peer: None if b"AUTHENTICATE PLAIN " + PLAIN_B64 in peer.tls
                else f"no SASL-IR PLAIN inside TLS: {peer.tls!r}"])
    run("LOGINDISABLED honoured", h_greeting_only("IMAP4rev1 LOGINDISABLED AUTH=PLAIN"),
        st + ["--starttls", "0", "--allow-plaintext"], "EAUTH",
        checks=[msg_has("Logins are disabled"), no_auth_cmd])
    run("no password on unencrypted TCP", h_greeting_only("IMAP4rev1 AUTH=PLAIN"),
        st + ["--starttls", "0"], "EAUTH", checks=[no_auth_cmd])
    run("plaintext password when explicitly allowed", h_plain_login("IMAP4rev1 AUTH=PLAIN"),
        st + ["--starttls", "0", "--allow-plaintext", "--auth", "LOGIN"], 0)
    run("silent server after connect: io timeout",
        h_silent, st + ["--io-timeout", "500"], "EIO",
        checks=[msg_has("no data from the server"),
                lambda res, peer: None if res["elapsed"] < 3000 else f"took {res['elapsed']} ms"])
    run("silent server after STARTTLS: timeout",
        h_starttls_full(good_ctx, "IMAP4rev1 STARTTLS", "", silent=True),
        st + ca + ["--io-timeout", "500", "--connect-timeout", "500"], ("EIO", "ETLS"),
        checks=[lambda res, peer: None if res["elapsed"] < 3000 else f"took {res['elapsed']} ms"])
    run("[ALERT] and control characters escaped in logs", h_alert,
        st + ["--starttls", "0", "--allow-plaintext"], 0,
        checks=[lambda res, peer: None if any("[ALERT]" in l and "\\x1b" in l for l in res["log"])
                else "no escaped [ALERT] line",
                lambda res, peer: None if not any("\x1b" in l or "\x07" in l for l in res["log"])
                else "raw control character in a log line",
                lambda res, peer: None if not any(PASSWORD in l for l in res["log"])
                else "password in the log"])
    run("corrupt deflate stream after COMPRESS OK", h_compress_corrupt,
        st + ["--starttls", "0", "--compress", "1"], "ECOMPRESS", checks=[msg_has("nflat")])
    for what, pair in bad.items():
        run(f"IMAPS refuses a {what} certificate", h_imaps, ca, "ETLS", tls_ctx=tls_ctx(pair))
        run(f"STARTTLS refuses a {what} certificate",
            h_starttls_full(tls_ctx(pair), "IMAP4rev1 STARTTLS", "IMAP4rev1 AUTH=PLAIN"),
            st + ca, "ETLS", checks=[no_auth_cmd])
    pin = good.spki_sha256()
    wrong = "sha256$" + "00" * 32
    run("IMAPS pin mismatch refused", h_imaps, ca + ["--fingerprint", wrong], "ETLS",
        tls_ctx=good_ctx, checks=[msg_has("Fingerprint")])
    run("STARTTLS pin mismatch refused",
        h_starttls_full(good_ctx, "IMAP4rev1 STARTTLS", "IMAP4rev1 AUTH=PLAIN"),
        st + ca + ["--fingerprint", wrong], "ETLS", checks=[no_auth_cmd])
    run("matching pin among several accepted (self-signed, verify off)", h_imaps,
        ["--verify", "0", "--fingerprint", f"{wrong} sha256${bad['self-signed'].spki_sha256()}"],
        0, tls_ctx=tls_ctx(bad["self-signed"]))
    run("matching pin among several accepted (verified chain)", h_imaps,
        ca + ["--fingerprint", f"{wrong} sha256${pin}"], 0, tls_ctx=good_ctx)
    run("IMAPS with the right CA works", h_imaps, ca, 0, tls_ctx=good_ctx)
    print(f"1..{count}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
