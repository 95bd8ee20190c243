#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Self-tests of the Dovecot test rig (tests/rig/qrrig), TAP output.

Every server the rig can start is started, driven and stopped here, with
exact expectations. Exit status: 0 if all pass, 1 if any fails, 77 (or
--skip-exit N) when Dovecot is not installed or we are not root.
Usage: test-rig.py [--skip-exit N] [PATTERN]  (PATTERN selects tests by name)
"""

import base64
import datetime
import hashlib
import importlib.util
import io
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, HERE)

import qrrig  # noqa: E402
from qrrig import Rig, RigError, compare_dumps, make_message  # noqa: E402
from qrrig import ports, system  # noqa: E402
from qrrig.certs import spki_der  # noqa: E402
from qrrig.imap import ImapClient, ImapError, mutf7_decode, mutf7_encode  # noqa: E402

TESTS = []


def test(fn):
    TESTS.append(fn)
    return fn


class Failure(Exception):
    pass


def eq(actual, expected, what=""):
    if actual != expected:
        raise Failure(f"{what}\n     got: {actual!r}\nexpected: {expected!r}")


def true(cond, what):
    if not cond:
        raise Failure(what)


def raises(exc_type, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise Failure(f"{getattr(fn, '__name__', fn)} did not raise {exc_type.__name__}")


# --- shared fixtures -------------------------------------------------------------

class Ctx:
    rig = None
    _daemon = None

    @property
    def daemon(self):
        if self._daemon is None:
            self._daemon = self.rig.daemon("main", users={"alice": "alice-Secret-1",
                                                          "bob": "b\"ob pass\\word"})
        return self._daemon


CTX = Ctx()
MSG1 = make_message("one", "first body\n")
MSG2 = make_message("two", "second body\n", headers=["X-Test: 2"])
MSG3 = make_message("three", "third body\n")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def default_caps():
    return CTX.rig.default_capabilities()


# --- tunnel stores -------------------------------------------------------------------

@test
def store_direct_preauth():
    """tunnel store, direct form: PREAUTH greeting with Dovecot's capabilities"""
    s = CTX.rig.store("direct")
    line, caps = s.greeting("direct")
    true(line.startswith("* PREAUTH [CAPABILITY IMAP4rev1 "), line)
    true(line.endswith("] Logged in as qrrig"), line)
    eq(caps, {c.upper() for c in default_caps()}, "CAPABILITY after greeting")
    true({"UIDPLUS", "CONDSTORE", "QRESYNC", "LITERAL+", "MULTIAPPEND"} <= caps, "core caps")
    eq("COMPRESS=DEFLATE" in caps, False, "no COMPRESS unless asked")
    eq(s.tunnel_command.split()[:4], ["/usr/bin/env", "USER=qrrig", f"HOME={s.path}",
                                       "/usr/bin/setpriv"], "command prefix")
    eq(s.tunnel_command.split()[-3:], ["/usr/lib/dovecot/imap", "-c", s.conf], "direct tail")


@test
def store_doveadm_preauth():
    """tunnel store, doveadm form: PREAUTH too"""
    s = CTX.rig.stores["direct"]
    line, caps = s.greeting("doveadm")
    true(line.startswith("* PREAUTH [CAPABILITY IMAP4rev1 "), line)
    true("LITERAL+" in caps and "QRESYNC" in caps, sorted(caps))
    eq(s.doveadm_command.split()[-5:], ["/usr/bin/doveadm", "-c", s.conf, "exec", "imap"],
       "doveadm tail")


@test
def store_command_needs_no_shell_or_env():
    """tunnel command string works split on blanks with interimap's env (PATH only)"""
    s = CTX.rig.stores["direct"]
    for cmd in (s.tunnel_command, s.doveadm_command):
        true(not any(c in cmd for c in "$&*(){}[]'\";\\|?<>~`\n"), f"shell chars in {cmd}")
        p = subprocess.run(cmd.split(), input=b"a LOGOUT\r\n", capture_output=True,
                           env={"PATH": "/usr/bin:/bin"}, timeout=10)
        lines = p.stdout.decode().splitlines()
        eq(p.returncode, 0, "exit status")
        true(lines[0].startswith("* PREAUTH "), lines[0])
        eq(lines[1:], ["* BYE Logging out", lines[2]], "LOGOUT replies")
        true(lines[2].startswith("a OK Logout completed"), lines[2])
        true(b"Info: Disconnected: Logged out" in p.stderr, p.stderr)


@test
def store_runs_as_mail():
    """store files and tunnel processes belong to user mail"""
    s = CTX.rig.stores["direct"]
    uid, gid = system.mail_ids()
    for path in (s.path, s.maildir, s.conf):
        st = os.stat(path)
        eq((st.st_uid, st.st_gid), (uid, gid), path)
    with s.open() as c:
        pid = c.transport.proc.pid
        deadline = time.monotonic() + 2
        while True:  # env -> setpriv -> imap: all exec, same pid
            exe = os.readlink(f"/proc/{pid}/exe")
            if exe == "/usr/lib/dovecot/imap" or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        eq(exe, "/usr/lib/dovecot/imap", "tunnel executable")
        with open(f"/proc/{pid}/status") as f:
            st = dict(line.split(":", 1) for line in f)
        eq(st["Uid"].split(), [str(uid)] * 4, "process uids")
        eq(st["Gid"].split(), [str(gid)] * 4, "process gids")
        eq(st["Groups"].split(), [], "supplementary groups")


@test
def store_separators():
    """separator '/' and '.' show in LIST"""
    for sep, name in (("/", "slash"), (".", "dot")):
        s = CTX.rig.store(name, separator=sep)
        s.create(f"a{sep}b")
        eq(s.list_mailboxes(), [
            {"name": "INBOX", "delimiter": sep, "attributes": [], "subscribed": False},
            {"name": "a", "delimiter": sep, "attributes": ["\\NonExistent"],
             "subscribed": False},
            {"name": f"a{sep}b", "delimiter": sep, "attributes": [], "subscribed": False},
        ], f"LIST with separator {sep}")
        with s.open() as c:
            res = c.command("LIST", '""', '""')
            eq(res.responses("LIST")[0].data, [["\\Noselect"], sep, ""], "LIST \"\" \"\"")


@test
def store_capability_override():
    """imap_capability: drop LITERAL+ (direct form only), or an explicit list"""
    s = CTX.rig.store("nolit", drop_capabilities=["LITERAL+", "MULTIAPPEND"])
    want = {c.upper() for c in default_caps()} - {"LITERAL+", "MULTIAPPEND"}
    line, caps = s.greeting("direct")
    eq(caps, want, "direct form capabilities")
    true("LITERAL+" not in line and "MULTIAPPEND" not in line, line)
    _, caps = s.greeting("doveadm")
    true("LITERAL+" in caps, "doveadm form ignores imap_capability (documented)")
    s2 = CTX.rig.store("explicit", capabilities="IMAP4rev1 ENABLE UIDPLUS CONDSTORE QRESYNC")
    line, caps = s2.greeting()
    eq(line, "* PREAUTH [CAPABILITY IMAP4rev1 ENABLE UIDPLUS CONDSTORE QRESYNC] "
             "Logged in as qrrig", "greeting")
    eq(caps, {"IMAP4REV1", "ENABLE", "UIDPLUS", "CONDSTORE", "QRESYNC"}, "explicit list")
    # The helpers still work (they use the doveadm form).
    eq(s2.append("INBOX", MSG1), 1, "append on a store with a short list")


@test
def store_compress():
    """COMPRESS=DEFLATE advertised when asked (also added to an explicit list) and works"""
    s = CTX.rig.store("zip", compress=True)
    _, caps = s.greeting()
    eq(caps, {c.upper() for c in default_caps()} | {"COMPRESS=DEFLATE"}, "caps")
    s2 = CTX.rig.store("zip2", capabilities=["IMAP4rev1", "UIDPLUS"], compress=True)
    eq(s2.greeting()[1], {"IMAP4REV1", "UIDPLUS", "COMPRESS=DEFLATE"}, "explicit + compress")
    s.create("Zipped")
    with s.open() as c:
        c.compress()
        res = c.command("LIST", '""', '"*"')
        eq(sorted(r.data[2] for r in res.responses("LIST")), ["INBOX", "Zipped"], "LIST")
        res = c.command("COMPRESS", "DEFLATE", check=False)
        eq((res.status, res.code), ("NO", ["COMPRESSIONACTIVE"]), "second COMPRESS")


@test
def store_roundtrip():
    """add messages, flags, keywords, expunge: dump gives the exact state"""
    s = CTX.rig.store("rt")
    s.create("Sub/Box")
    u1 = s.append("INBOX", MSG1, flags=["\\Seen"], date="02-Jan-2020 03:04:05 +0200")
    u2 = s.append("INBOX", MSG2, flags="\\Flagged $Forwarded", date=1600000000)
    t3 = time.time()
    u3 = s.append("INBOX", MSG3)                 # INTERNALDATE: now
    u4 = s.append("Sub/Box", MSG3, flags=["kw1", "kw2"], date="2021-05-06T07:08:09Z")
    eq((u1, u2, u3, u4), (1, 2, 3, 1), "APPENDUIDs")
    before = s.status("INBOX")["HIGHESTMODSEQ"]
    s.add_flags("INBOX", [1, 3], ["\\Answered", "custom"])
    s.remove_flags("INBOX", 2, ["$Forwarded"])
    s.set_flags("Sub/Box", "1", "\\Draft kw3")
    s.expunge("INBOX", 2)
    d = s.dump()
    eq(sorted(d), ["INBOX", "Sub", "Sub/Box"], "mailboxes")
    inbox = d["INBOX"]
    now = datetime.datetime.fromisoformat(inbox["messages"][1]["internaldate"][:-1] + "+00:00")
    true(abs(now.timestamp() - t3) < 5, f"INTERNALDATE of UID 3 is now: {now}")
    inbox["messages"][1]["internaldate"] = "NOW"
    eq(inbox["messages"], [
        {"uid": 1, "flags": ["\\Answered", "\\Seen", "custom"],
         "internaldate": "2020-01-02T01:04:05Z", "sha256": sha(MSG1), "size": len(MSG1)},
        {"uid": 3, "flags": ["\\Answered", "custom"], "internaldate": "NOW",
         "sha256": sha(MSG3), "size": len(MSG3)},
    ], "INBOX messages")
    eq(inbox["uidnext"], 4, "INBOX UIDNEXT")
    true(isinstance(inbox["uidvalidity"], int) and inbox["uidvalidity"] > 0, "UIDVALIDITY")
    true(inbox["highestmodseq"] > before, "HIGHESTMODSEQ grew")
    eq((inbox["delimiter"], inbox["attributes"], inbox["subscribed"]), ("/", [], False), "INBOX")
    eq(d["Sub/Box"]["messages"], [{"uid": 1, "flags": ["\\Draft", "kw3"],
                                   "internaldate": "2021-05-06T07:08:09Z",
                                   "sha256": sha(MSG3), "size": len(MSG3)}], "Sub/Box")
    eq(d["Sub"], {"delimiter": "/", "attributes": ["\\NonExistent"], "subscribed": False,
                  "uidvalidity": None, "uidnext": None, "highestmodseq": None,
                  "messages": []}, "Sub")
    eq(s.body("INBOX", 3), MSG3, "body")
    eq(json.loads(json.dumps(d)), d, "JSON-able")
    d["INBOX"]["messages"][1]["internaldate"] = s.messages("INBOX")[1]["internaldate"]
    eq(s.dump(), d, "dump is stable (read-only)")


@test
def store_unicode_names():
    """mailbox names travel as modified UTF-7 and come back as Unicode"""
    eq(mutf7_encode("Entwürfe & Co"), "Entw&APw-rfe &- Co", "encode")
    eq(mutf7_decode("Entw&APw-rfe &- Co"), "Entwürfe & Co", "decode")
    eq(mutf7_encode("日本語"), "&ZeVnLIqe-", "encode CJK")
    s = CTX.rig.stores["rt"]
    s.create("Entwürfe")
    with s.open() as c:
        names = [r.data[2] for r in c.command("LIST", '""', '"Entw*"').responses("LIST")]
    eq(names, ["Entw&APw-rfe"], "raw LIST name")
    true("Entwürfe" in s.dump(), "dump key")
    s.delete("Entwürfe")
    true("Entwürfe" not in s.dump(), "deleted")


@test
def store_subscriptions():
    """subscribe/unsubscribe show in dump and compare"""
    a, b = CTX.rig.store("suba"), CTX.rig.store("subb")
    for s in (a, b):
        s.create("Lists")
    a.subscribe("Lists")
    a.create("Ghost")
    a.subscribe("Ghost")
    a.delete("Ghost")           # Dovecot keeps the subscription
    d = a.dump()
    eq(d["Lists"]["subscribed"], True, "Lists subscribed")
    eq((d["Ghost"]["attributes"], d["Ghost"]["subscribed"]), (["\\NonExistent"], True),
       "subscribed, non-existent")
    eq(a.compare(b), ["Ghost: listed as \\NonExistent (subscribed) only in A",
                      "Lists: subscribed in A only"], "diff")
    eq(a.compare(b, subscriptions=False), ["Ghost: listed as \\NonExistent (subscribed) only in A"],
       "diff without subscriptions")
    a.unsubscribe("Lists")
    a.unsubscribe("Ghost")
    eq(a.compare(b), [], "equal again")


@test
def compare_equal_and_different():
    """compare: equal content with other UIDs, then exact differences"""
    a, b = CTX.rig.store("cmpa"), CTX.rig.store("cmpb", separator=".")
    a.create("x/y")
    b.create("x.y")
    a.append("INBOX", MSG1, ["\\Seen"], date=1000)
    a.append("INBOX", MSG2, date=2000)
    b.append("INBOX", MSG3, date=3000)      # uid 1 in b, then expunged
    b.expunge("INBOX", 1)
    b.append("INBOX", MSG2, date=2000)
    b.append("INBOX", MSG1, ["\\Seen"], date=1000)
    a.append("x/y", MSG3, ["kw"], date=3000)
    b.append("x.y", MSG3, ["kw"], date=3000)
    eq(a.compare(b), [], "same content, different UIDs and separators")
    diffs = a.compare(b, ignore_uids=False)
    true("INBOX: UIDNEXT A=3 B=4" in diffs, diffs)
    true(f"INBOX: message uid=1 sha256={sha(MSG1)[:12]} size={len(MSG1)} flags=(\\Seen) "
         f"date=1970-01-01T00:16:40Z: 1 in A, 0 in B" in diffs, diffs)
    b.add_flags("INBOX", 3, ["\\Flagged"])
    eq(a.compare(b, names=("a", "b")), [
        f"INBOX: message sha256={sha(MSG1)[:12]} size={len(MSG1)} flags=(\\Flagged \\Seen) "
        f"date=1970-01-01T00:16:40Z: 0 in a, 1 in b",
        f"INBOX: message sha256={sha(MSG1)[:12]} size={len(MSG1)} flags=(\\Seen) "
        f"date=1970-01-01T00:16:40Z: 1 in a, 0 in b"], "flag difference")
    eq(a.compare(b, flags=False), [], "flags ignored")
    a.create("only-a")
    eq(a.compare(b, flags=False), ["only-a: mailbox only in A"], "extra mailbox")
    eq(compare_dumps(a.dump(), a.dump(), ignore_uids=False), [], "self compare")


# --- daemon ----------------------------------------------------------------------

@test
def daemon_starts():
    """daemon: three listeners on 127.0.0.1, greeting, one session, private dirs"""
    d = CTX.daemon
    p = [d.imap_port, d.imaps_port, d.lmtp_port]
    eq(len(set(p)), 3, "distinct ports")
    eq({(addr, port) for addr, port in ports.listeners() if port in p},
       {("127.0.0.1", port) for port in p}, "listening on 127.0.0.1 only")
    with d.connect("imap") as c:
        eq(c.greeting.kind, "OK", "greeting")
        true(c.greeting.text.endswith("ready."), c.greeting.text)
        true("STARTTLS" in c.capabilities, sorted(c.capabilities))
    procs = d.processes()
    true(d.pid in procs and len(procs) >= 5, procs)
    for pid in procs:
        st = system.proc_stat(pid)
        if st is not None:      # a login process may just have exited
            eq(st["sid"], d.pid, f"session of {pid}")
    with open(d.conf) as f:
        conf = f.read()
    for line in (f"base_dir = {d.path}/run", f"state_dir = {d.path}/state", "listen = 127.0.0.1",
                 f"log_path = {d.path}/log/dovecot.log"):
        true(line in conf.splitlines(), line)
    true(os.path.exists(os.path.join(d.path, "run", "master.pid")), "master.pid")
    true(not os.path.exists("/run/dovecot/master.pid"), "no global base_dir use")
    true("starting up for imap, lmtp" in system.tail(d.log_path), "log")


@test
def daemon_imaps_verified():
    """IMAPS: handshake verified against the rig CA for localhost; pin matches"""
    d = CTX.daemon
    with d.connect("imaps") as c:
        sock = c.transport.sock
        eq(type(sock), ssl.SSLSocket, "TLS")
        der = sock.getpeercert(binary_form=True)
        eq(hashlib.sha256(spki_der(der)).hexdigest(), d.cert.spki_sha256(), "SPKI pin")
        eq(sock.getpeercert()["subject"], ((("commonName", "localhost"),),), "subject")
        eq(c.greeting.kind, "OK", "greeting")
    ctx = ssl.create_default_context()          # system CAs only
    e = raises(ssl.SSLCertVerificationError, ImapClient.connect, "127.0.0.1", d.imaps_port,
               ctx, "localhost")
    eq(e.verify_code, 20, "unknown CA: unable to get local issuer certificate")
    ctx = d.ssl_context()
    e = raises(ssl.SSLCertVerificationError, ImapClient.connect, "127.0.0.1", d.imaps_port,
               ctx, "other.example")
    eq(e.verify_code, 62, "host name mismatch")
    with ImapClient.connect("127.0.0.1", d.imaps_port, ctx, "127.0.0.1") as c:
        eq(c.greeting.kind, "OK", "IP SAN 127.0.0.1 verifies")


@test
def daemon_starttls():
    """STARTTLS on the plain port: TLS verified, STARTTLS gone afterwards"""
    d = CTX.daemon
    with d.connect("imap") as c:
        before = set(c.capabilities)
        after = c.starttls(d.ssl_context(), "localhost")
        eq(type(c.transport.sock), ssl.SSLSocket, "TLS")
        eq(before - after, {"STARTTLS"}, "only STARTTLS disappears")
        c.login("alice", "alice-Secret-1")
    with d.connect("starttls", user="bob") as c:
        eq(c.command("NOOP").status, "OK", "bob logged in after STARTTLS")


@test
def daemon_auth():
    """LOGIN and AUTHENTICATE PLAIN succeed; a wrong password fails"""
    d = CTX.daemon
    for mode in ("imaps", "starttls"):
        with d.connect(mode) as c:
            true({"AUTH=PLAIN", "AUTH=LOGIN"} <= c.capabilities, sorted(c.capabilities))
            res = c.login("alice", "alice-Secret-1")
            eq(res.status, "OK", "LOGIN")
        with d.connect(mode) as c:
            eq(c.authenticate_plain("bob", 'b"ob pass\\word').status, "OK", "PLAIN")
        with d.connect(mode) as c:
            eq(c.authenticate_plain("alice", "alice-Secret-1", sasl_ir=True).status, "OK",
               "PLAIN with SASL-IR")
        with d.connect(mode) as c:
            t0 = time.monotonic()
            e = raises(ImapError, c.login, "alice", "wrong")
            eq((e.status, e.code), ("NO", ["AUTHENTICATIONFAILED"]), "wrong password")
            eq(e.text, "Authentication failed.", "text")
            true(time.monotonic() - t0 < 1.0, "auth_failure_delay = 0")
    with d.connect("imaps") as c:
        e = raises(ImapError, c.authenticate_plain, "nobody", "x")
        eq(e.status, "NO", "unknown user")


@test
def daemon_scram():
    """SCRAM-SHA-256 and SCRAM-SHA-1 advertised; real exchanges succeed"""
    d = CTX.daemon
    with d.connect("imaps") as c:
        true({"AUTH=SCRAM-SHA-256", "AUTH=SCRAM-SHA-1"} <= c.capabilities,
             sorted(c.capabilities))
        res = c.authenticate_scram("alice", "alice-Secret-1", "sha256")
        eq(res.status, "OK", "SCRAM-SHA-256 (server signature verified)")
        eq(c.command("SELECT", "INBOX").status, "OK", "usable session")
    with d.connect("imaps") as c:
        eq(c.authenticate_scram("bob", 'b"ob pass\\word', "sha1").status, "OK", "SCRAM-SHA-1")
    with d.connect("imaps") as c:
        e = raises(ImapError, c.authenticate_scram, "alice", "wrong", "sha256")
        eq((e.status, e.code), ("NO", ["AUTHENTICATIONFAILED"]), "wrong password")


@test
def daemon_compress():
    """COMPRESS=DEFLATE advertised after login (not before) and works"""
    d = CTX.daemon
    with d.connect("imaps") as c:
        eq("COMPRESS=DEFLATE" in c.capabilities, False, "before login")
        c.login("alice", "alice-Secret-1")
        true("COMPRESS=DEFLATE" in c.capability(), "after login")
        c.compress()
        res = c.command("STATUS", "INBOX", "(MESSAGES)")
        eq(res.responses("STATUS")[0].data[0], "INBOX", "STATUS over deflate")


@test
def daemon_lmtp():
    """LMTP: LHLO/MAIL/RCPT/DATA accepted, the message lands in the user's INBOX"""
    d = CTX.daemon
    u = d.user("bob")
    before = len(u.messages("INBOX"))
    msg = make_message("via lmtp", "delivered body\n")
    s = socket.create_connection(("127.0.0.1", d.lmtp_port), timeout=10)
    f = s.makefile("rb")

    def reply():
        lines = [f.readline()]
        while lines[-1][3:4] == b"-":
            lines.append(f.readline())
        return int(lines[-1][:3]), lines

    eq(reply()[0], 220, "banner")
    for cmd, code in ((b"LHLO qrrig", 250), (b"MAIL FROM:<sender@example.net>", 250),
                      (b"RCPT TO:<bob@localhost>", 250), (b"DATA", 354)):
        s.sendall(cmd + b"\r\n")
        eq(reply()[0], code, cmd.decode())
    s.sendall(msg + b".\r\n")
    code, lines = reply()
    eq(code, 250, "DATA accepted")
    true(b"Saved" in lines[-1], lines)
    s.sendall(b"RCPT TO:<nobody@localhost>\r\n")
    eq(reply()[0], 503, "RCPT without MAIL")
    s.sendall(b"QUIT\r\n")
    eq(reply()[0], 221, "QUIT")
    s.close()
    msgs = u.messages("INBOX")
    eq(len(msgs), before + 1, "one more message")
    body = u.body("INBOX", msgs[-1]["uid"])
    true(body.endswith(msg), "original message at the end")
    true(b"\r\nDelivered-To: bob@localhost\r\n" in body[:body.index(msg)], body[:300])
    replies = d.deliver("alice", MSG1)
    eq([code for code, _ in replies], [250, 250, 250, 250], "deliver() replies")
    e = raises(RigError, d.deliver, "nobody", MSG1)
    true("550" in str(e), str(e))


@test
def daemon_user_helpers():
    """daemon users have the store helpers; mail is owned by mail"""
    d = CTX.daemon
    u = d.user("alice")
    u.create("Archive")
    uid = u.append("Archive", MSG2, ["\\Seen"], date=86400)
    eq(u.dump()["Archive"]["messages"], [{"uid": uid, "flags": ["\\Seen"],
                                          "internaldate": "1970-01-02T00:00:00Z",
                                          "sha256": sha(MSG2), "size": len(MSG2)}], "dump")
    st = os.stat(u.maildir)
    eq((st.st_uid, st.st_gid), system.mail_ids(), "maildir owner")
    s = CTX.rig.store("likealice")
    s.create("Archive")
    s.append("Archive", MSG2, ["\\Seen"], date=86400)
    for m in u.messages("INBOX"):
        s.append("INBOX", u.body("INBOX", m["uid"]), m["flags"], m["internaldate"])
    eq(u.compare(s), [], "user vs store")


@test
def daemon_expired_cert():
    """a daemon serving the expired certificate is rejected by verification"""
    d = CTX.rig.daemon("expired", cert=CTX.rig.certs.expired())
    try:
        e = raises(ssl.SSLCertVerificationError, ImapClient.connect, "127.0.0.1",
                   d.imaps_port, d.ssl_context(), "localhost")
        eq(e.verify_code, 10, "certificate has expired")
        with ImapClient.connect("127.0.0.1", d.imaps_port, d.ssl_context(False)) as c:
            der = c.transport.sock.getpeercert(binary_form=True)
            eq(hashlib.sha256(spki_der(der)).hexdigest(), d.cert.spki_sha256(), "pin")
    finally:
        d.stop()


@test
def daemon_port_clash_retry():
    """a port taken between choice and bind: the daemon retries with new ports"""
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    taken = busy.getsockname()[1]
    real = qrrig.daemon.portlib.free_ports
    calls = []

    def fake(n):
        calls.append(n)
        got = real(n)
        return [taken] + got[1:] if len(calls) == 1 else got
    qrrig.daemon.portlib.free_ports = fake
    try:
        d = CTX.rig.daemon("clash")
    finally:
        qrrig.daemon.portlib.free_ports = real
        busy.close()
    try:
        print(f"# start attempts (ports, seconds, error): {d.attempts}")
        eq(len(calls), 2, "two attempts")
        true(taken not in (d.imap_port, d.imaps_port, d.lmtp_port), "new ports")
        true("Address already in use" in system.tail(d.master_log, 100) +
             system.tail(d.log_path, 100), "clash logged")
        with d.connect("imaps", user=True) as c:
            eq(c.command("NOOP").status, "OK", "serves")
    finally:
        d.stop()


@test
def two_daemons_and_stop():
    """two daemons side by side; stopping one leaves the other; nothing remains"""
    d1 = CTX.daemon
    d2 = CTX.rig.daemon("second", users={"carol": "c-pw"})
    eq(len({d1.imap_port, d1.imaps_port, d1.lmtp_port, d2.imap_port, d2.imaps_port,
            d2.lmtp_port}), 6, "six distinct ports")
    true(d1.instance_name != d2.instance_name, "instance names")
    with d2.connect("imaps", user="carol") as c:
        eq(c.command("NOOP").status, "OK", "second daemon")
    procs = d2.processes()
    d2_ports = {d2.imap_port, d2.imaps_port, d2.lmtp_port}
    d2.stop()
    eq([p for p in procs if system.alive(p)], [], "no process of the instance left")
    eq(d2.processes(), [], "processes() empty")
    eq(d2_ports & ports.listening_ports(), set(), "no listener left")
    for port in d2_ports:
        raises(ConnectionRefusedError, socket.create_connection, ("127.0.0.1", port), 2)
    with d1.connect("imaps", user="alice") as c:
        eq(c.command("NOOP").status, "OK", "first daemon still serves")


# --- certificates ------------------------------------------------------------------

def _tls_attempt(cert, cafile, hostname="localhost"):
    """Serve CERT once on a free port; return the client's verify_code (0 = ok)."""
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(cert.cert, cert.key)
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(1)

    def serve():
        conn, _ = lsock.accept()
        try:
            with sctx.wrap_socket(conn, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass
    t = threading.Thread(target=serve)
    t.start()
    try:
        cctx = ssl.create_default_context(cafile=cafile)
        with socket.create_connection(lsock.getsockname(), timeout=5) as s:
            try:
                with cctx.wrap_socket(s, server_hostname=hostname):
                    return 0
            except ssl.SSLCertVerificationError as e:
                return e.verify_code
    finally:
        t.join(5)
        lsock.close()


@test
def cert_helpers():
    """cert helpers: valid/expired/not-yet-valid/self-signed/wrong-host as claimed"""
    f = CTX.rig.certs
    eq(_tls_attempt(f.server("t-ok"), f.cafile), 0, "valid")
    eq(_tls_attempt(f.server("t-ip"), f.cafile, "127.0.0.1"), 0, "valid for 127.0.0.1")
    eq(_tls_attempt(f.expired(), f.cafile), 10, "expired")
    eq(_tls_attempt(f.not_yet_valid(), f.cafile), 9, "not yet valid")
    ss = f.self_signed()
    eq(_tls_attempt(ss, f.cafile), 18, "self-signed")
    eq(_tls_attempt(ss, ss.cert), 0, "self-signed trusted as its own CA")
    eq(_tls_attempt(f.wrong_host(), f.cafile), 62, "wrong host name")
    eq(_tls_attempt(f.wrong_host("t-wh2"), f.cafile, "wrong.invalid"), 0, "right name")


@test
def cert_pins():
    """SPKI pin = certtool's pin-sha256, differs from the certificate hash"""
    f = CTX.rig.certs
    for cert in (f.ca, f.server("pin"), f.self_signed("pin-ss")):
        out = system.run([system.CERTTOOL, "-i", "--infile", cert.cert]).stdout.decode()
        pin = next(l.split("pin-sha256:")[1].strip() for l in out.splitlines()
                   if "pin-sha256:" in l)
        eq(cert.spki_sha256(), base64.b64decode(pin).hex(), f"{cert.name} pin")
        true(cert.spki_sha256() != cert.cert_sha256(), "pin is not the certificate digest")
        eq(len(cert.spki_sha256()), 64, "hex length")


# --- life cycle ----------------------------------------------------------------------

def _child_rig(code):
    """Start a python child that makes a rig with a daemon and prints
    'ROOT PID'; return (Popen, root, pid)."""
    prog = ("import sys, time; sys.path.insert(0, %r)\n"
            "from qrrig import Rig\n"
            "r = Rig(); d = r.daemon()\n"
            "print(r.root, d.pid, flush=True)\n%s\n") % (HERE, code)
    p = subprocess.Popen([sys.executable, "-B", "-c", prog], stdout=subprocess.PIPE, text=True)
    root, pid = p.stdout.readline().split()
    return p, root, int(pid)


@test
def cleanup_on_sigterm():
    """SIGTERM to a process owning a rig stops the daemon and removes the folder"""
    p, root, pid = _child_rig("time.sleep(60)")
    true(system.alive(pid), "daemon running")
    p.send_signal(signal.SIGTERM)
    eq(p.wait(10), 128 + signal.SIGTERM, "exit status")
    eq(system.alive(pid), False, "master gone")
    eq(system.session_members(pid), [], "children gone")
    eq(os.path.exists(root), False, "folder removed")


@test
def cleanup_on_sigkill():
    """SIGKILL to the owner: the master dies with it (PDEATHSIG); stop DIR cleans up"""
    p, root, pid = _child_rig("time.sleep(60)")
    p.kill()
    p.wait(10)
    left = system.wait_gone([pid], 5)
    eq(left, [], "master gone")
    eq(system.wait_gone(system.session_members(pid), 5), [], "children gone")
    true(os.path.exists(os.path.join(root, "rig.json")), "folder left behind")
    Rig.load(root).close()
    eq(os.path.exists(root), False, "stop by folder removes it")


@test
def cleanup_exception_and_leftover_tunnels():
    """an exception in a with-block stops everything, incl. unclosed tunnels"""
    holder = {}
    try:
        with Rig() as r:
            s = r.store()
            tunnel = subprocess.Popen(s.tunnel_command.split(), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            tunnel.stdout.readline()
            holder.update(root=r.root, tunnel=tunnel, daemon=r.daemon())
            eq(s.leftover_processes(), [tunnel.pid], "tunnel seen as leftover")
            raise KeyError("boom")
    except KeyError:
        pass
    eq(holder["tunnel"].wait(5), 0, "tunnel ended (imap exits 0 on SIGTERM)")
    eq(system.alive(holder["daemon"].pid), False, "daemon stopped")
    eq(os.path.exists(holder["root"]), False, "folder removed")


@test
def keep_folder():
    """QR_RIG_KEEP=1 keeps the folder (processes still stopped)"""
    os.environ["QR_RIG_KEEP"] = "1"
    try:
        r = Rig()
    finally:
        del os.environ["QR_RIG_KEEP"]
    s = r.store()
    r.close()
    true(os.path.exists(s.conf), "kept")
    system.remove_tree(r.root)


# --- CLI ----------------------------------------------------------------------------

CLI = os.path.join(HERE, "rig.py")


def _load_cli():
    spec = importlib.util.spec_from_file_location("rigcli", CLI)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@test
def cli_run():
    """rig.py run: env exported, command status returned, everything stopped"""
    check = ("import os, socket, sys, json\n"
             "e = os.environ\n"
             "socket.create_connection(('127.0.0.1', int(e['QR_RIG_IMAPS_PORT']))).close()\n"
             "print(json.dumps({k: v for k, v in e.items() if k.startswith('QR_RIG_')}))\n"
             "sys.exit(5)\n")
    p = subprocess.run([sys.executable, CLI, "run", "--stores", "2", "--separator", "/.",
                        "--daemon", "--compress", "--drop-capability", "LITERAL+",
                        "--", sys.executable, "-c", check],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 5, f"command status (stderr: {p.stderr})")
    env = json.loads(p.stdout)
    for k in ("QR_RIG_DIR", "QR_RIG_CLI", "QR_RIG_STORE0_COMMAND", "QR_RIG_STORE0_CONF",
              "QR_RIG_STORE1_COMMAND", "QR_RIG_STORE1_DOVEADM_COMMAND", "QR_RIG_IMAP_PORT",
              "QR_RIG_IMAPS_PORT", "QR_RIG_LMTP_PORT", "QR_RIG_CAFILE", "QR_RIG_USER",
              "QR_RIG_PASSWORD", "QR_RIG_SPKI_SHA256", "QR_RIG_DAEMON_PID", "QR_RIG_HOST"):
        true(env.get(k), f"{k} set")
    eq((env["QR_RIG_STORES"], env["QR_RIG_STORE0_SEPARATOR"], env["QR_RIG_STORE1_SEPARATOR"]),
       ("2", "/", "."), "stores")
    eq((env["QR_RIG_USER"], env["QR_RIG_PASSWORD"]), ("alice", "alice-Secret-1"), "user")
    eq(os.path.exists(env["QR_RIG_DIR"]), False, "folder removed")
    eq(system.alive(int(env["QR_RIG_DAEMON_PID"])), False, "daemon stopped")
    p = subprocess.run([sys.executable, CLI, "run", "--", "sh", "-c", "kill -TERM $$"],
                       capture_output=True, timeout=30)
    eq(p.returncode, 128 + signal.SIGTERM, "killed command")


@test
def cli_skip_when_missing():
    """rig.py run exits 77 without running the command when Dovecot is missing"""
    cli = _load_cli()
    saved = qrrig.system.DOVECOT
    qrrig.system.DOVECOT = "/nonexistent/dovecot"
    marker = os.path.join(CTX.rig.root, "ran")
    out = io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = out
    try:
        st = cli.main(["run", "--daemon", "--", "touch", marker])
        st2 = cli.main(["run", "--skip-exit", "0", "--", "touch", marker])
    finally:
        sys.stdout, sys.stderr = old
        qrrig.system.DOVECOT = saved
    eq((st, st2), (77, 0), "skip status")
    eq(os.path.exists(marker), False, "command not run")
    true(out.getvalue().startswith("1..0 # SKIP /nonexistent/dovecot not found"), out.getvalue())


@test
def cli_start_mail_stop():
    """rig.py start / mail / stop DIR by hand"""
    p = subprocess.run([sys.executable, CLI, "start", "--stores", "1", "--daemon", "--json"],
                       capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, p.stderr)
    desc = json.loads(p.stdout)
    root, pid = desc["root"], desc["daemons"][0]["pid"]
    try:
        true(system.alive(pid), "daemon left running")

        def mail(*args, input=None):
            return subprocess.run([sys.executable, CLI, "mail", "--dir", root, *args],
                                  input=input, capture_output=True, timeout=30)
        r = mail("store0", "append", "INBOX", "--flags", "\\Seen kw", "--date",
                 "2020-02-03T04:05:06Z", input=MSG1)
        eq((r.returncode, r.stdout), (0, b"1\n"), r.stderr)
        r = mail("alice", "deliver", input=MSG1)
        eq(r.returncode, 0, r.stderr)
        r = mail("daemon0:alice", "flags", "set", "INBOX", "1", "\\Seen", "kw")
        eq(r.returncode, 0, r.stderr)
        delivered = mail("alice", "body", "INBOX", "1").stdout
        r = mail("store0", "compare", "alice", "--no-internaldate")
        eq((r.returncode, r.stdout.decode().splitlines()), (1, sorted([
            f"INBOX: message sha256={sha(MSG1)[:12]} size={len(MSG1)} flags=(\\Seen kw): "
            "1 in store0, 0 in alice",
            f"INBOX: message sha256={sha(delivered)[:12]} size={len(delivered)} "
            "flags=(\\Seen kw): 0 in store0, 1 in alice"], key=lambda l: l[22:])),
           "compare output")
        r = mail("store0", "dump")
        eq(json.loads(r.stdout)["INBOX"]["messages"][0]["internaldate"], "2020-02-03T04:05:06Z",
           "dump via CLI")
    finally:
        p = subprocess.run([sys.executable, CLI, "stop", root], capture_output=True, text=True,
                           timeout=60)
    eq(p.returncode, 0, p.stderr)
    eq(system.alive(pid), False, "daemon stopped")
    eq(os.path.exists(root), False, "folder removed")


@test
def cli_demo():
    """rig.py demo finishes quickly with status 0"""
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, CLI, "demo"], capture_output=True, text=True, timeout=60)
    eq(p.returncode, 0, p.stdout[-2000:] + p.stderr)
    true("after copying the extra message: equal" in p.stdout, p.stdout[-500:])
    true(time.monotonic() - t0 < 10, "fast")


# --- runner --------------------------------------------------------------------------

def main(argv):
    skip_exit = qrrig.SKIP
    pattern = None
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--skip-exit":
            skip_exit = int(args.pop(0))
        else:
            pattern = a
    missing = qrrig.missing_requirements(daemon=True)
    if missing:
        print(f"1..0 # SKIP {'; '.join(missing)}")
        return skip_exit
    tests = [t for t in TESTS if pattern is None or pattern in t.__name__]
    print(f"1..{len(tests)}", flush=True)
    failed = 0
    t_start = time.monotonic()
    CTX.rig = Rig()
    try:
        for n, fn in enumerate(tests, 1):
            desc = f"{fn.__name__}: {fn.__doc__.strip()}"
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:  # report and go on with the next test
                failed += 1
                print(f"not ok {n} - {desc}")
                text = str(e) if isinstance(e, Failure) else traceback.format_exc()
                for line in text.rstrip().splitlines():
                    print(f"# {line}")
                if isinstance(e, Failure):
                    tb = traceback.extract_tb(e.__traceback__)
                    print(f"# at line {tb[-2].lineno if len(tb) > 1 else tb[-1].lineno}")
            else:
                print(f"ok {n} - {desc} ({time.monotonic() - t0:.2f}s)")
            sys.stdout.flush()
    finally:
        root = CTX.rig.root
        CTX.rig.close()
    if os.path.exists(root):
        print(f"# rig folder {root} left behind")
        failed += 1
    print(f"# {len(tests) - failed}/{len(tests)} passed in {time.monotonic() - t_start:.1f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
