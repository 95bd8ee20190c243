#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""pullimap against real servers: Dovecot as the IMAP source, SMTP on
127.0.0.1 (aiosmtpd, or a scripted peer for failures), Dovecot LMTP.

    test-pullimap.py [BINARY] [--case NAME]... [--list]

BINARY is the pullimap under test (default: $QR_PULLIMAP); it may be the
Perl reference /usr/bin/pullimap itself, which is how the expectations
were proven. Cases or checks marked "ours only" are skipped for the
reference (with the reason); where the two differ on purpose, each gets
its own expectation. Needs root and Dovecot (tests/rig), and
python3-aiosmtpd for the sink; otherwise prints `1..0 # SKIP reason`.
Prints TAP, one line per check (`CASE: WHAT`), timings as `#` comments.

Every case gets a fresh tunnel store (the IMAP source), a private HOME
(`$XDG_CONFIG_HOME/pullimap/config`, the state file in
`$XDG_DATA_HOME/pullimap/`) and its own SMTP server process
(tests/pullimap/smtp-sink.py or smtp-script.py), and checks exact
outcomes: exit status, stderr lines, the state file's bytes, the source's
\\Seen flags and contents, and what the SMTP server received, command by
command and byte for byte.

Environment: QR_PTEST_FORCE=1 runs the "ours only" checks with the
reference too (expect them to fail where the reference is known to be
weaker). QR_RIG_KEEP=1 keeps the rig folder afterwards.
"""
import collections
import ctypes
import datetime
import fcntl
import glob
import hashlib
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interimap"))

import harness  # noqa: E402  (tests/interimap/harness.py: TAP, runs, peak RSS)
from harness import (PYTHON, RUN_TIMEOUT, TRAFFIC_TEXT, CaseFailed, Ctx, Running,  # noqa: E402
                     Skip, Tap, diff_text, wait_until)
import qrrig  # noqa: E402
from qrrig import Rig, make_message  # noqa: E402

REFERENCE = "/usr/bin/pullimap"
SINK = os.path.join(HERE, "smtp-sink.py")
SCRIPT = os.path.join(HERE, "smtp-script.py")
SECTION = "acct"
RCPT = "bob@example.org"
RSS_LIMIT_KIB = 64 * 1024
HUGE = 20 << 20
TRAFFIC = re.compile(r"^" + SECTION + r": " + TRAFFIC_TEXT + r"$")
# ours closes a run with `acct: Summary: N messages delivered (X MiB), D
# deferred, P purged in T s` (not with --quiet); left out wherever stderr
# lines are compared with the reference's, checked on its own in a few cases
SUMMARY = re.compile(r"^" + SECTION + r": Summary: ")
# Perl's die appends this to messages without a trailing newline
PERL_AT = re.compile(r" at /usr/bin/pullimap line \d+\.$")
FORCE = os.environ.get("QR_PTEST_FORCE") == "1"

CASES = []


class Case:
    def __init__(self, name, func, ours_only=None, needs=()):
        self.name, self.func, self.ours_only, self.needs = name, func, ours_only, needs


def case(name, ours_only=None, needs=()):
    def deco(func):
        CASES.append(Case(name, func, ours_only, needs))
        return func
    return deco


# --- helpers ---------------------------------------------------------------------

def pack(*nums):
    """A state file: big-endian u32s."""
    return b"".join(struct.pack(">I", n) for n in nums)


def unpack(data):
    if data is None or len(data) % 4:
        return None
    return [struct.unpack(">I", data[i:i + 4])[0] for i in range(0, len(data), 4)]


def norm(line):
    """A stderr line without Perl's ` at /usr/bin/pullimap line N.`"""
    return PERL_AT.sub("", line)


def mk(tag, sender="alice@example.net", body=None, headers=()):
    """A unique small message (CRLF)."""
    return make_message(subject=tag, sender=sender, to="bob@example.net",
                        body=body if body is not None else f"body of {tag}\r\n",
                        headers=headers)


def wire(body, ours):
    """What DATA should carry for BODY (bytes): dot-stuffed, a final CRLF
    added to a last partial line. The reference splits at CRLF only (a bare
    CR or LF stays inside its line, unstuffed); ours makes every bare CR or
    LF a CRLF first (include/qresync/smtp.h)."""
    if ours:
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").replace(b"\n", b"\r\n")
    if body == b"":
        return b"\r\n"
    out = []
    for line in body.split(b"\r\n"):
        out.append((b"." + line) if line.startswith(b".") else line)
    if body.endswith(b"\r\n"):
        out.pop()
    return b"".join(ln + b"\r\n" for ln in out)


def unstuff(raw):
    """The message an SMTP server stores for the DATA bytes RAW (which end
    in CRLF): the dot-stuffing removed."""
    out = []
    for ln in raw.split(b"\r\n")[:-1]:
        out.append((ln[1:] if ln.startswith(b".") else ln) + b"\r\n")
    return b"".join(out)


def mail_parts(line):
    """'MAIL FROM:<a> P1 P2' -> ('MAIL FROM:<a>', sorted params)."""
    i = line.rfind(">")
    if i < 0:
        return line, []
    return line[:i + 1], sorted(p.upper() for p in line[i + 1:].split())


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _pdeathsig():
    """preexec_fn: the server gets SIGTERM if this test process dies."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG


def aiosmtpd_python():
    """A Python that can import aiosmtpd (this one, or Debian's), or None."""
    for py in dict.fromkeys([sys.executable, "/usr/bin/python3"]):
        if py and os.access(py, os.X_OK):
            r = subprocess.run([py, "-c", "import aiosmtpd"], capture_output=True)
            if r.returncode == 0:
                return py
    return None


# --- SMTP servers -------------------------------------------------------------------

class Server:
    """An smtp-sink.py or smtp-script.py process and its records."""

    def __init__(self, h, kind, args):
        h.nserv += 1
        self.h = h
        self.kind = kind
        self.dir = os.path.join(h.rig.root, f"smtp{h.nserv}-{kind}")
        os.makedirs(self.dir)
        py = h.aiosmtpd if kind == "sink" else PYTHON
        argv = [py, SINK if kind == "sink" else SCRIPT, "--dir", self.dir, *args]
        self.log = open(self.dir + ".log", "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self.log, preexec_fn=_pdeathsig)
        h.servers.append(self)
        line = b""
        deadline = time.monotonic() + 20
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.1)
            if r:
                c = os.read(self.proc.stdout.fileno(), 1)
                if not c:
                    break
                line += c
        m = re.match(rb"PORT (\d+)\n", line)
        if not m:
            self.stop()
            with open(self.dir + ".log", "rb") as f:
                raise RuntimeError(f"{kind} did not start: {line!r} "
                                   f"{f.read().decode('utf-8', 'replace')}")
        self.port = int(m.group(1))

    @property
    def method(self):
        return f"smtp:[127.0.0.1]:{self.port}"

    def txns(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "txn-*.json"))):
            with open(p, encoding="utf-8") as f:
                t = json.load(f)
            base = p[:-5]
            with open(base + ".raw", "rb") as f:
                t["raw"] = f.read()
            t["eml"] = None
            if os.path.exists(base + ".eml"):
                with open(base + ".eml", "rb") as f:
                    t["eml"] = f.read()
            t["n"] = int(os.path.basename(base)[4:])
            out.append(t)
        return out

    def accepted(self):
        """Transactions the server accepted (final 250), in order."""
        return [t for t in self.txns() if t["complete"] and t["reply"] == 250]

    def conns(self):
        out = []
        for p in sorted(glob.glob(os.path.join(self.dir, "conn-*.json"))):
            with open(p, encoding="utf-8") as f:
                out.append(json.load(f))
        return out

    def commands(self, conn=None):
        cs = self.conns()
        if conn is not None:
            cs = [c for c in cs if c["conn"] == conn]
        return [cmd["line"] for c in cs for cmd in c["commands"]]

    def events(self):
        try:
            with open(os.path.join(self.dir, "events"), encoding="utf-8") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def wait_event(self, text, timeout=15, proc=None):
        """Wait for event line TEXT; stops early if PROC (a Running) ended."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if text in self.events():
                return True
            if proc is not None and proc.poll() is not None:
                return text in self.events()
            time.sleep(0.01)
        return False

    def release(self, action):
        tmp = os.path.join(self.dir, "release.tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(action + "\n")
        os.replace(tmp, os.path.join(self.dir, "release"))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


# --- an account: source store, HOME, configuration --------------------------------

class Acct:
    def __init__(self, h, tag, drop=None, store=None):
        h.nacct += 1
        self.h = h
        self.name = f"a{h.nacct}-{tag}"
        self.store = store or h.rig.store(self.name, drop_capabilities=drop)
        self.home = os.path.join(h.rig.root, self.name + "-home")
        self.config_home = os.path.join(self.home, "config")
        self.data_home = os.path.join(self.home, "data")
        for d in (self.home, self.config_home, self.data_home):
            os.makedirs(d, exist_ok=True)
        self.config_path = os.path.join(self.config_home, "pullimap", "config")
        self.state_path = os.path.join(self.data_home, "pullimap", SECTION)
        self.mailbox = "INBOX"

    def configure(self, deliver, **keys):
        """[acct]: the tunnel, deliver-method (a Server or a string),
        deliver-rcpt (bob@example.org unless given), then KEYS (underscores
        become dashes; None leaves a key out)."""
        conf = {"type": "tunnel", "command": self.store.tunnel_command, "null-stderr": "YES",
                "deliver-method": deliver.method if isinstance(deliver, Server) else deliver,
                "deliver-rcpt": RCPT}
        for k, v in keys.items():
            conf[k.replace("_", "-")] = v
        if conf.get("mailbox"):
            self.mailbox = conf["mailbox"]
        if conf.get("statefile"):
            sf = conf["statefile"]
            self.state_path = sf if sf.startswith("/") else os.path.join(
                self.data_home, "pullimap", sf)
        os.makedirs(os.path.dirname(self.config_path), exist_ok=True)
        text = f"[{SECTION}]\n" + "".join(f"{k} = {v}\n" for k, v in conf.items()
                                          if v is not None)
        with open(self.config_path, "wb") as f:
            f.write(text.encode("utf-8"))

    def env(self):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8",
               "XDG_CONFIG_HOME": self.config_home, "XDG_DATA_HOME": self.data_home}
        for k in ("TZ", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        return env

    def start(self, *args, binary=None, measure=False, timeout=RUN_TIMEOUT):
        return Running([binary or self.h.binary, *args, SECTION], self.env(), self.home,
                       timeout, measure)

    def run(self, *args, binary=None, measure=False, timeout=RUN_TIMEOUT):
        r = self.start(*args, binary=binary, measure=measure, timeout=timeout).wait()
        if r.timed_out:
            raise harness.Hang(r)
        return r

    # -- the state file

    def state(self):
        try:
            with open(self.state_path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_state(self, data):
        os.makedirs(os.path.dirname(self.state_path), mode=0o700, exist_ok=True)
        with open(self.state_path, "wb") as f:
            f.write(data)
        os.chmod(self.state_path, 0o600)

    # -- the source

    def add(self, data, flags=(), date=None):
        return self.store.append(self.mailbox, data, flags=list(flags), date=date)

    def uidvalidity(self):
        return self.store.status(self.mailbox)["UIDVALIDITY"]

    def messages(self):
        return {m["uid"]: m for m in self.store.messages(self.mailbox)}

    def seen(self):
        """{uid: True if \\Seen}"""
        return {u: "\\Seen" in m["flags"] for u, m in self.messages().items()}

    def idates(self):
        """{uid: INTERNALDATE as the server sends it}"""
        with self.store.session() as c:
            info = c.select(self.mailbox, readonly=True, condstore=False)
            if not info.get("EXISTS"):
                return {}
            res = c.command("UID", "FETCH", "1:*", "(INTERNALDATE)")
            out = {}
            for r in res.responses("FETCH"):
                items = r.data[0]
                d = {str(items[i]).upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}
                out[int(d["UID"])] = d["INTERNALDATE"]
            return out

    def uid_line(self, uid, sender, dates=None):
        dates = dates or self.idates()
        return f"{SECTION}({self.mailbox}): UID {uid} from <{sender}> ({dates[uid]})"


# --- common expectations ---------------------------------------------------------------

def info_lines(r):
    return [norm(ln) for ln in r.lines if not TRAFFIC.match(ln) and not SUMMARY.match(ln)]


def expect_summary(ctx, h, r, delivered, deferred=0, purged=0, what=""):
    """Ours only: the closing Summary line."""
    sfx = f" ({what})" if what else ""
    if not h.ours_check(ctx, "Summary line" + sfx, "the reference prints none"):
        return
    want = (rf"^{SECTION}: Summary: {delivered} messages delivered \(\d+\.\d MiB\), "
            rf"{deferred} deferred, {purged} purged in \d+\.\d\d s$")
    got = [ln for ln in r.lines if SUMMARY.match(ln)]
    ctx.check(len(got) == 1 and re.match(want, got[0]), "Summary line" + sfx,
              f"expected /{want}/\n" + r.describe())


def expect_run(ctx, r, lines, rc=0, what="", traffic=1):
    """Exit status RC (None: any non-zero, not a signal), stderr = LINES in
    this order (Perl's ` at ... line N.` removed) plus TRAFFIC statistics
    lines, empty stdout."""
    sfx = f" ({what})" if what else ""
    if rc is None:
        # the reference exits with whatever errno held (pullimap.md §8)
        ctx.check(r.rc > 0, f"exit status non-zero{sfx}", r.describe())
        ctx.h.tap.comment(f"{ctx.name}: exit status {r.rc}{sfx}")
    else:
        ctx.check(r.rc == rc, f"exit status {rc}{sfx}", r.describe())
    ctx.check(info_lines(r) == lines, f"stderr lines{sfx}",
              diff_text(info_lines(r), lines) + "\n" + r.describe())
    if traffic is not None:
        ctx.check(len([ln for ln in r.lines if TRAFFIC.match(ln)]) == traffic,
                  f"{traffic} traffic statistics line(s){sfx}", r.describe())
    ctx.check(r.stdout == "", f"nothing on stdout{sfx}", r.stdout)


def expect_mail_lines(ctx, h, txns, expected, ext, what="MAIL FROM lines"):
    """EXPECTED: [(sender, body)]. The reference never sends parameters;
    ours adds SIZE= (server offers SIZE), BODY=8BITMIME (8-bit body and
    offered), SMTPUTF8 (8-bit envelope and offered)."""
    got = [mail_parts(t["mail"]) for t in txns]
    want = []
    for sender, body in expected:
        params = []
        if not h.is_reference:
            if "SIZE" in ext:
                params.append(f"SIZE={len(body)}")
            if "8BITMIME" in ext and any(b > 0x7F for b in body):
                params.append("BODY=8BITMIME")
            if "SMTPUTF8" in ext and any(ord(c) > 0x7F for c in sender):
                params.append("SMTPUTF8")
        want.append((f"MAIL FROM:<{sender}>", sorted(params)))
    ctx.equal(got, want, what)


def expect_data(ctx, h, txns, bodies, what="DATA"):
    """The DATA bytes on the wire and the unstuffed message, per transaction."""
    ours = not h.is_reference
    ctx.check([t["raw"] for t in txns] == [wire(b, ours) for b in bodies],
              f"{what}: bytes on the wire (dot-stuffed) exact",
              short_bytes_diff([t["raw"] for t in txns], [wire(b, ours) for b in bodies]))
    ctx.check([t["eml"] for t in txns] == [unstuff(wire(b, ours)) for b in bodies],
              f"{what}: the message the server stored exact",
              short_bytes_diff([t["eml"] for t in txns], [unstuff(wire(b, ours)) for b in bodies]))


def short_bytes_diff(got, want):
    out = [f"{len(got)} transaction(s), {len(want)} expected"]
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            if g is None:
                out.append(f"#{i + 1}: nothing received")
                continue
            j = next((k for k in range(min(len(g), len(w))) if g[k] != w[k]), min(len(g), len(w)))
            out.append(f"#{i + 1}: {len(g)} bytes, {len(w)} expected; first difference at {j}: "
                       f"got {g[max(0, j - 20):j + 40]!r}, expected {w[max(0, j - 20):j + 40]!r}")
    return "\n".join(out)


def smtp_session(n_msgs, senders, ehlo="EHLO localhost.localdomain", rcpt=RCPT):
    """The command lines of one SMTP session delivering messages from SENDERS
    (MAIL lines compared without parameters elsewhere)."""
    out = [ehlo]
    for s in senders[:n_msgs]:
        out += [f"MAIL FROM:<{s}>", f"RCPT TO:<{rcpt}>", "DATA"]
    return out + ["QUIT"]


def strip_params(lines):
    return [mail_parts(ln)[0] if ln.upper().startswith("MAIL ") else ln for ln in lines]


def deliveries(servers, complete=False):
    """Counter: message bytes (unstuffed) -> number of deliveries over
    several servers: accepted transactions (final 250), or with COMPLETE
    every transaction whose data ended (a server that got the final dot
    may deliver the message even if its reply never arrived)."""
    c = collections.Counter()
    for s in servers:
        for t in (s.txns() if complete else s.accepted()):
            if t["complete"] and (complete or t["reply"] == 250):
                c[t["eml"]] += 1
    return c


def as_received(body, ours):
    return unstuff(wire(body, ours))


# --- the harness ------------------------------------------------------------------------

class PHarness:
    def __init__(self, binary):
        self.binary = binary
        self.tap = Tap()
        self.rig = None
        self.nacct = self.nserv = 0
        self.servers = []
        self.is_reference = harness.is_reference(binary)
        self.aiosmtpd = aiosmtpd_python()
        self._daemon = None

    def start(self):
        self.rig = Rig()

    def close(self):
        for s in self.servers:
            try:
                s.stop()
            except Exception:
                pass
        if self.rig is not None:
            self.rig.close()

    def sink(self, *args):
        if self.aiosmtpd is None:
            raise Skip("python3-aiosmtpd is not installed")
        return Server(self, "sink", list(args))

    def script(self, *rules, args=()):
        return Server(self, "script", list(args) + [x for r in rules for x in ("--rule", r)])

    def daemon(self):
        if self._daemon is None:
            missing = qrrig.missing_requirements(daemon=True)
            if missing:
                raise Skip("; ".join(missing))
            self._daemon = self.rig.daemon(users={"bob": "bob-Secret-1"})
        return self._daemon

    @property
    def ours(self):
        return not self.is_reference

    def run_case(self, c):
        t0 = time.monotonic()
        if c.ours_only and self.is_reference and not FORCE:
            self.tap.result(True, c.name, skip=f"ours only: {c.ours_only}")
            return
        if "reference" in c.needs and not os.access(REFERENCE, os.X_OK):
            self.tap.result(True, c.name, skip=f"{REFERENCE} is not installed")
            return
        ctx = Ctx(self, c.name)
        try:
            c.func(self, ctx)
        except CaseFailed:
            pass
        except Skip as e:
            self.tap.result(True, f"{c.name}: rest", skip=str(e))
        except harness.Hang as e:
            ctx.check(False, "the binary finished in time", e.result.describe())
        except Exception:
            ctx.check(False, "ran without an exception", traceback.format_exc())
        self.tap.comment(f"{c.name}: {time.monotonic() - t0:.2f} s")

    def ours_check(self, ctx, what, reason=""):
        """Whether an ours-only check should run (prints a SKIP otherwise)."""
        if self.is_reference and not FORCE:
            ctx.skip(what, "ours only" + (f": {reason}" if reason else ""))
            return False
        return True


# --- cases: normal operation ----------------------------------------------------------------

@case("first-run")
def c_first_run(h, ctx):
    a = Acct(h, "first")
    srv = h.sink()
    a.configure(srv)
    msgs = [mk("first-1"),
            mk("first-2", sender="Carol <carol.x+tag@example.com>"),
            mk("first-3", headers=["Sender: sec@example.org"])]
    senders = ["alice@example.net", "carol.x+tag@example.com", "sec@example.org"]
    for m in msgs:
        a.add(m)
    ctx.check(a.state() is None, "no state file before the first run")
    r = a.run()
    uidv = a.uidvalidity()
    dates = a.idates()
    expect_run(ctx, r, [a.uid_line(u, s, dates) for u, s in zip((1, 2, 3), senders)])
    expect_summary(ctx, h, r, 3)
    ctx.equal(a.state(), pack(uidv, 4), "state file: UIDVALIDITY, UIDNEXT 4 (8 bytes)")
    mode = os.stat(a.state_path).st_mode & 0o777
    ctx.equal(oct(mode), oct(0o600), "state file mode 0600")
    ctx.equal(a.seen(), {1: True, 2: True, 3: True}, "every message \\Seen")
    txns = srv.accepted()
    expect_mail_lines(ctx, h, txns, list(zip(senders, msgs)), {"8BITMIME", "PIPELINING"})
    ctx.equal([t["rcpt"] for t in txns], [[f"RCPT TO:<{RCPT}>"]] * 3, "RCPT TO lines")
    expect_data(ctx, h, txns, msgs)
    conns = srv.conns()
    ctx.equal(len(conns), 1, "one SMTP connection")
    ctx.equal(strip_params(srv.commands()), smtp_session(3, senders),
              "SMTP commands: EHLO, 3 x (MAIL, RCPT, DATA), QUIT")
    cmds = [c for conn in conns for c in conn["commands"]]
    ctx.check(all(c["crlf"] for c in cmds), "every command ends in CRLF")
    early = [c["line"].split(":")[0] for c in cmds if c["early"]]
    if h.is_reference:
        ctx.equal(early, ["MAIL FROM", "RCPT TO"] * 3,
                  "PIPELINING offered: MAIL, RCPT sent ahead of their replies")
    else:
        ctx.check(len(early) > 0, "PIPELINING offered: commands sent ahead of their replies",
                  json.dumps(cmds, indent=1))


@case("incremental")
def c_incremental(h, ctx):
    a = Acct(h, "incr")
    srv = h.sink()
    a.configure(srv)
    m1 = mk("incr-1")
    a.add(m1)
    r = a.run()
    uidv = a.uidvalidity()
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net")], what="first run")
    ctx.equal(a.state(), pack(uidv, 2), "state after the first run")
    # nothing new: no SMTP connection, state unchanged
    r = a.run()
    expect_run(ctx, r, [], what="nothing new")
    ctx.equal(a.state(), pack(uidv, 2), "state unchanged when nothing is new")
    ctx.equal(len(srv.conns()), 1, "no SMTP connection when nothing is new")
    # two new ones, one already \Seen, one \Flagged: both delivered
    m2, m3 = mk("incr-2"), mk("incr-3", sender="dave@example.com")
    a.add(m2, flags=["\\Seen"])
    a.add(m3, flags=["\\Flagged"])
    r = a.run()
    dates = a.idates()
    expect_run(ctx, r, [a.uid_line(2, "alice@example.net", dates),
                        a.uid_line(3, "dave@example.com", dates)], what="two new")
    ctx.equal(a.state(), pack(uidv, 4), "state UIDNEXT 4")
    msgs = a.messages()
    ctx.equal({u: m["flags"] for u, m in msgs.items()},
              {1: ["\\Seen"], 2: ["\\Seen"], 3: ["\\Flagged", "\\Seen"]}, "flags")
    txns = srv.accepted()
    expect_data(ctx, h, txns, [m1, m2, m3], "DATA of the three runs")
    ctx.equal(len(srv.conns()), 2, "one SMTP connection per run that delivered")
    # --quiet: nothing on stderr
    m4 = mk("incr-4")
    a.add(m4)
    r = a.run("-q")
    expect_run(ctx, r, [], traffic=0, what="-q")
    ctx.equal(r.lines, [], "-q: nothing at all on stderr")
    ctx.equal(a.state(), pack(uidv, 5), "state UIDNEXT 5 after -q")
    ctx.equal(len(srv.accepted()), 4, "the -q run delivered its message")
    # a message expunged before it was pulled is skipped silently
    a.add(mk("incr-5"))
    m6 = mk("incr-6")
    a.add(m6)
    a.store.expunge("INBOX", [5])
    r = a.run()
    expect_run(ctx, r, [a.uid_line(6, "alice@example.net")], what="after an expunge")
    ctx.equal(a.state(), pack(uidv, 7), "state UIDNEXT 7")
    ctx.equal([t["eml"] for t in srv.accepted()][4:], [m6], "only the remaining new message")


@case("config-keys")
def c_config_keys(h, ctx):
    """mailbox, statefile (absolute), deliver-ehlo, deliver-rcpt with a
    quoted local part (verbatim), options after and before SECTION."""
    a = Acct(h, "keys")
    a.store.create("Work")
    srv = h.script()
    sf = os.path.join(a.home, "custom.state")
    a.configure(srv, mailbox="Work", statefile=sf, deliver_ehlo="client.example",
                deliver_rcpt='"bob smith"@example.org')
    m = mk("keys-1")
    a.add(m)
    a.store.append("INBOX", mk("keys-inbox"))
    r = a.run()
    uidv = a.uidvalidity()
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net")])
    ctx.equal(a.state(), pack(uidv, 2), "state in the statefile path")
    ctx.check(not os.path.exists(os.path.join(a.data_home, "pullimap", SECTION)),
              "no state file under the default name")
    ctx.equal(srv.commands(), ["EHLO client.example", "MAIL FROM:<alice@example.net>",
                               'RCPT TO:<"bob smith"@example.org>', "DATA", "QUIT"],
              "EHLO name and RCPT address from the configuration")
    ctx.equal([t["eml"] for t in srv.accepted()], [m], "the Work message, not INBOX's")
    st = {x["uid"]: x["flags"] for x in a.store.messages("INBOX")}
    ctx.equal(st, {1: []}, "INBOX untouched")


@case("uidvalidity-changed")
def c_uidvalidity(h, ctx):
    a = Acct(h, "uidv")
    srv = h.sink()
    a.configure(srv)
    a.add(mk("uidv-1"))
    uidv = a.uidvalidity()
    bad = uidv - 1
    a.write_state(pack(bad, 1))
    r = a.run()
    expect_run(ctx, r, [f"{SECTION}: ERROR: UIDVALIDITY changed! ({bad} != {uidv})  "
                        "Need to invalidate the UID cache for INBOX."], rc=1)
    ctx.equal(a.state(), pack(bad, 1), "state file unchanged")
    ctx.equal(a.seen(), {1: False}, "nothing marked \\Seen")
    ctx.equal(srv.conns(), [], "no SMTP connection")


# --- crash safety ---------------------------------------------------------------------

def stalled(ok, p):
    """Diagnostic when the binary P did not reach the peer's stall point."""
    return None if ok else p.wait(1).describe()


def three(a, tag):
    msgs = [mk(f"{tag}-{i}") for i in (1, 2, 3)]
    for m in msgs:
        a.add(m)
    return msgs


def killed_then_resumed(h, ctx, a, peer, msgs, first_state, dup):
    """After the SIGKILL: the state is FIRST_STATE; a run against a sink
    delivers the rest; every message delivered exactly once, except DUP
    (a UID, or None) exactly twice."""
    uidv = a.uidvalidity()
    ctx.equal(a.state(), pack(uidv, *first_state), "state file after SIGKILL")
    ctx.equal(a.seen(), {1: False, 2: False, 3: False}, "nothing \\Seen after SIGKILL")
    sink = h.sink()
    a.configure(sink)
    r = a.run()
    todo = [u for u in (1, 2, 3) if u not in first_state[1:] and u >= first_state[0]]
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in todo], what="resumed run")
    ctx.equal([t["eml"] for t in sink.accepted()], [msgs[u - 1] for u in todo],
              "the resumed run delivers exactly the unrecorded messages")
    ctx.equal(a.state(), pack(uidv, 4), "final state UIDNEXT 4")
    ctx.equal(a.seen(), {1: True, 2: True, 3: True}, "all \\Seen in the end")
    counts = deliveries([peer, sink], complete=True)
    want = {m: (2 if dup is not None and m == msgs[dup - 1] else 1) for m in msgs}
    ctx.equal({msgs.index(k) + 1: v for k, v in counts.items()},
              {msgs.index(k) + 1: v for k, v in want.items()},
              "deliveries per UID: never lost" + (f", UID {dup} twice (the crash window)"
                                                  if dup else ", never twice"))


@case("kill-after-record")
def c_kill_after_record(h, ctx):
    """SIGKILL while MAIL of the 2nd message waits: the 1st is delivered and
    recorded in the state file (its UID after UIDNEXT); not redelivered."""
    a = Acct(h, "kar")
    peer = h.script("mail:2:hang")
    a.configure(peer)
    msgs = three(a, "kar")
    p = a.start()
    ok = peer.wait_event("hang mail 2", proc=p)
    ctx.require(ok, "the peer saw MAIL of the 2nd message", stalled(ok, p))
    time.sleep(0.1)
    p.kill(signal.SIGKILL)
    r = p.wait()
    ctx.equal(r.rc, -signal.SIGKILL, "killed by SIGKILL")
    killed_then_resumed(h, ctx, a, peer, msgs, (1, 1), None)


@case("kill-after-250")
def c_kill_after_250(h, ctx):
    """The peer has the 2nd message; the client is stopped, the 250 goes
    out, then SIGKILL before the client could record the UID: the message
    is delivered again by the next run (one duplicate, nothing lost)."""
    a = Acct(h, "k250")
    peer = h.script("end:2:hang")
    a.configure(peer)
    msgs = three(a, "k250")
    p = a.start()
    ok = peer.wait_event("hang end 2", proc=p)
    ctx.require(ok, "the peer received the whole 2nd message", stalled(ok, p))
    os.kill(p.pid, signal.SIGSTOP)
    peer.release("normal")
    ctx.check(peer.wait_event("txn 2 reply 250"), "the peer sent 250 for the 2nd message")
    p.kill(signal.SIGKILL)
    r = p.wait()
    ctx.equal(r.rc, -signal.SIGKILL, "killed by SIGKILL")
    killed_then_resumed(h, ctx, a, peer, msgs, (1, 1), 2)


@case("kill-before-250")
def c_kill_before_250(h, ctx):
    """SIGKILL while the client waits for the reply to the 2nd message's
    data (the peer has it all and keeps it): redelivered, one duplicate."""
    a = Acct(h, "kb250")
    peer = h.script("end:2:hang")
    a.configure(peer)
    msgs = three(a, "kb250")
    p = a.start()
    ok = peer.wait_event("hang end 2", proc=p)
    ctx.require(ok, "the peer received the whole 2nd message", stalled(ok, p))
    p.kill(signal.SIGKILL)
    r = p.wait()
    ctx.equal(r.rc, -signal.SIGKILL, "killed by SIGKILL")
    ctx.check(peer.wait_event("conn 1 closed by client"), "the peer saw the connection end")
    ctx.equal([(t["complete"], t["reply"]) for t in peer.txns()], [(True, 250), (True, None)],
              "peer: 1st accepted, 2nd complete without a reply (it may deliver it)")
    killed_then_resumed(h, ctx, a, peer, msgs, (1, 1), 2)


@case("kill-mid-data")
def c_kill_mid_data(h, ctx):
    """SIGKILL in the middle of the 2nd message's data: the peer never
    accepts it; the next run delivers it once."""
    a = Acct(h, "kmd")
    peer = h.script("body:2:hang@40")
    a.configure(peer)
    msgs = three(a, "kmd")
    p = a.start()
    ok = peer.wait_event("hang body 2", proc=p)
    ctx.require(ok, "the peer got part of the 2nd message", stalled(ok, p))
    p.kill(signal.SIGKILL)
    p.wait()
    killed_then_resumed(h, ctx, a, peer, msgs, (1, 1), None)


# --- SMTP failures ---------------------------------------------------------------------

@case("tempfail-4xx")
def c_tempfail(h, ctx):
    """451 to RCPT of the 2nd message (greylisting). Reference: the run
    dies with `SMTP error: ...`, the 1st message recorded but not yet
    \\Seen. Ours: the 2nd message is deferred (not recorded, not \\Seen,
    UIDNEXT kept at or below it), the 3rd delivered. Then a run against a
    working server delivers what is left: nothing lost, nothing twice."""
    a = Acct(h, "4xx")
    peer = h.script("rcpt:2:reply=451 4.7.1 greylisted, try later")
    a.configure(peer)
    msgs = three(a, "4xx")
    r = a.run()
    uidv = a.uidvalidity()
    dates = a.idates()
    if h.is_reference:
        expect_run(ctx, r, [a.uid_line(1, "alice@example.net", dates),
                            a.uid_line(2, "alice@example.net", dates),
                            "SMTP error: Expected 250, got: 451 4.7.1 greylisted, try later"],
                   rc=None)
        ctx.equal(a.state(), pack(uidv, 1, 1), "state: UID 1 recorded")
        ctx.equal(a.seen(), {1: False, 2: False, 3: False}, "nothing \\Seen yet")
        ctx.equal([t["eml"] for t in peer.accepted()], [msgs[0]], "peer accepted the 1st only")
    else:
        expect_run(ctx, r, [a.uid_line(1, "alice@example.net", dates),
                            a.uid_line(2, "alice@example.net", dates),
                            f"{SECTION}(INBOX): WARNING: temporary delivery failure for UID 2: "
                            "451 4.7.1 greylisted, try later; will retry",
                            a.uid_line(3, "alice@example.net", dates)])
        expect_summary(ctx, h, r, 2, deferred=1)
        st = unpack(a.state())
        ctx.check(st is not None and st[0] == uidv and st[1] <= 2 and 2 not in st[2:]
                  and (1 < st[1] or 1 in st[2:]) and (3 < st[1] or 3 in st[2:]),
                  "state: UIDNEXT <= 2, UIDs 1 and 3 recorded, 2 not", repr(st))
        ctx.equal(a.seen(), {1: True, 2: False, 3: True}, "1 and 3 \\Seen, the deferred 2 not")
        ctx.equal([t["eml"] for t in peer.accepted()], [msgs[0], msgs[2]],
                  "peer accepted the 1st and 3rd")
    sink = h.sink()
    a.configure(sink)
    r = a.run()
    left = [2, 3] if h.is_reference else [2]
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net", dates) for u in left],
               what="the retry run")
    ctx.equal([t["eml"] for t in sink.accepted()], [msgs[u - 1] for u in left],
              "the retry run delivers what was left")
    ctx.equal(a.state(), pack(uidv, 4), "final state UIDNEXT 4")
    ctx.equal(a.seen(), {1: True, 2: True, 3: True}, "all \\Seen in the end")
    counts = deliveries([peer, sink])
    ctx.equal(sorted(counts.values()), [1, 1, 1], "each message delivered exactly once")


@case("permfail-5xx")
def c_permfail(h, ctx):
    """554 after the 2nd message's data: the run stops with an error, the
    2nd is neither recorded nor \\Seen, the 3rd not attempted; the next run
    (server fixed) delivers 2 and 3."""
    a = Acct(h, "5xx")
    peer = h.script("end:2:reply=554 5.6.0 message rejected")
    a.configure(peer)
    msgs = three(a, "5xx")
    r = a.run()
    uidv = a.uidvalidity()
    dates = a.idates()
    lines = [a.uid_line(1, "alice@example.net", dates), a.uid_line(2, "alice@example.net", dates)]
    if h.is_reference:
        expect_run(ctx, r, lines + ["SMTP error: Expected 250, got: 554 5.6.0 message rejected"],
                   rc=None)
        ctx.equal(a.state(), pack(uidv, 1, 1), "state: UID 1 recorded, 2 not")
        ctx.equal(a.seen(), {1: False, 2: False, 3: False}, "nothing \\Seen")
    else:
        ctx.check(r.rc > 0, "exit status non-zero", r.describe())
        ctx.equal(info_lines(r)[:2], lines, "UID lines of 1 and 2")
        ctx.check(any("554 5.6.0 message rejected" in ln for ln in r.lines),
                  "the 554 reply is reported", r.describe())
        st = unpack(a.state())
        ctx.check(st is not None and st[0] == uidv and st[1] <= 2 and 2 not in st[2:]
                  and (1 < st[1] or 1 in st[2:]), "state: 1 recorded, 2 not", repr(st))
        s = a.seen()
        ctx.check(not s[2] and not s[3], "2 and 3 not \\Seen", repr(s))
    ctx.equal(len(peer.txns()), 2, "the 3rd message was not attempted")
    ctx.equal([t["eml"] for t in peer.accepted()], [msgs[0]], "the peer accepted the 1st only")
    sink = h.sink()
    a.configure(sink)
    r = a.run()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net", dates) for u in (2, 3)],
               what="next run")
    ctx.equal(a.state(), pack(uidv, 4), "final state UIDNEXT 4")
    ctx.equal(a.seen(), {1: True, 2: True, 3: True}, "all \\Seen in the end")
    ctx.equal(sorted(deliveries([peer, sink]).values()), [1, 1, 1],
              "each message delivered exactly once")


@case("close-mid-data")
def c_close_mid_data(h, ctx):
    """The server closes the connection in the middle of the 2nd message's
    data: the 2nd is not recorded. Reference: the run dies. Ours: the 2nd
    is deferred (temporary failure), the 3rd goes over a new connection.
    The next run delivers what is left, each message exactly once."""
    a = Acct(h, "cmd")
    peer = h.script("body:2:close@40")
    a.configure(peer)
    msgs = three(a, "cmd")
    r = a.run()
    uidv = a.uidvalidity()
    dates = a.idates()
    st = unpack(a.state())
    if h.is_reference:
        ctx.check(r.rc != 0 and not r.timed_out, "the run fails (exit status or signal)",
                  r.describe())
        ctx.equal(info_lines(r)[:2], [a.uid_line(u, "alice@example.net", dates)
                                      for u in (1, 2)], "UID lines of 1 and 2")
        ctx.equal(a.state(), pack(uidv, 1, 1), "state: UID 1 recorded, 2 not")
        left = [2, 3]
    else:
        # ours: a connection lost in a transaction is a temporary failure:
        # the message is deferred, the next one goes over a new connection
        ctx.check(r.rc == 0, "exit status 0 (the 2nd message is deferred)", r.describe())
        lines = info_lines(r)
        want = [a.uid_line(1, "alice@example.net", dates),
                a.uid_line(2, "alice@example.net", dates),
                "WARNING", a.uid_line(3, "alice@example.net", dates)]
        ctx.check(len(lines) == 4 and [ln for i, ln in enumerate(lines) if i != 2] ==
                  [w for i, w in enumerate(want) if i != 2] and
                  re.match(rf"^{SECTION}\(INBOX\): WARNING: temporary delivery failure for "
                           r"UID 2: .*; will retry$", lines[2]),
                  "stderr: UID 1, UID 2, WARNING (temporary failure, will retry), UID 3",
                  r.describe())
        ctx.check(st is not None and st[0] == uidv and st[1] <= 2 and 2 not in st[2:]
                  and (1 < st[1] or 1 in st[2:]) and (3 < st[1] or 3 in st[2:]),
                  "state: UIDNEXT <= 2, UIDs 1 and 3 recorded, 2 not", repr(st))
        left = [2]
    ctx.equal(a.seen()[2], False, "the 2nd not \\Seen")
    sink = h.sink()
    a.configure(sink)
    r = a.run()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net", dates) for u in left],
               what="next run")
    ctx.equal(a.state(), pack(uidv, 4), "final state UIDNEXT 4")
    ctx.equal(sorted(deliveries([peer, sink]).values()), [1, 1, 1],
              "each message delivered exactly once")


@case("smtp-greeting-refused")
def c_greeting_refused(h, ctx):
    """A 554 greeting: nothing delivered, nothing recorded, error reported."""
    a = Acct(h, "greet")
    peer = h.script("greeting:*:reply=554 5.3.2 no service")
    a.configure(peer)
    three(a, "greet")
    r = a.run()
    uidv = a.uidvalidity()
    if h.is_reference:
        expect_run(ctx, r, [a.uid_line(1, "alice@example.net"),
                            "SMTP error: Expected 220, got: 554 5.3.2 no service"], rc=None)
    else:
        ctx.check(r.rc > 0, "exit status non-zero", r.describe())
        ctx.check(any("554 5.3.2 no service" in ln for ln in r.lines),
                  "the 554 greeting is reported", r.describe())
    st = unpack(a.state())
    ctx.check(st is not None and st[0] == uidv and st[1] == 1 and st[2:] == [],
              "state: nothing recorded", repr(st))
    ctx.equal(a.seen(), {1: False, 2: False, 3: False}, "nothing \\Seen")


# --- message contents --------------------------------------------------------------------

@case("dot-stuffing")
def c_dots(h, ctx):
    a = Acct(h, "dots")
    srv = h.sink()
    a.configure(srv)
    m1 = (b"From: alice@example.net\r\nSubject: dots\r\n\r\n.\r\n..\r\n...\r\n. x\r\n"
          b".hidden\r\nnot.a.dot\r\n\r\n.\r\nend\r\n")
    m2 = b"From: alice@example.net\r\nSubject: partial\r\n\r\nfirst\r\n.last line, no CRLF"
    m3 = b"From: alice@example.net\r\nSubject: partial2\r\n\r\nno final line end"
    for m in (m1, m2, m3):
        a.add(m)
    ctx.equal([a.store.body("INBOX", u) for u in (1, 2, 3)], [m1, m2, m3],
              "premise: Dovecot returns the messages as appended")
    r = a.run()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in (1, 2, 3)])
    txns = srv.accepted()
    expect_data(ctx, h, txns, [m1, m2, m3])
    ctx.equal([t["eml"] for t in txns], [m1, m2 + b"\r\n", m3 + b"\r\n"],
              "received = source (+ CRLF after a partial last line)")


@case("bare-cr-lf")
def c_bare(h, ctx):
    """Bare LF: Dovecot converts it to CRLF when it serves the message, so
    both send CRLF. Bare CR: Dovecot serves it as is; the reference passes
    it through (a line start after it is not dot-stuffed), ours turns it
    into CRLF and stuffs (include/qresync/smtp.h)."""
    a = Acct(h, "bare")
    srv = h.sink()
    a.configure(srv)
    m_lf = b"From: alice@example.net\nSubject: lf\n\nline1\nline2\n.dot after LF\nend\n"
    m_cr = b"From: alice@example.net\r\nSubject: cr\r\n\r\nline1\rline2\r\n\r.x\rmore\r\nend\r\n"
    a.add(m_lf)
    a.add(m_cr)
    got = [a.store.body("INBOX", u) for u in (1, 2)]
    served = [m_lf.replace(b"\n", b"\r\n"), m_cr]
    ctx.equal(got, served, "premise: Dovecot serves LF as CRLF and a bare CR as is")
    r = a.run()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in (1, 2)])
    txns = srv.accepted()
    expect_data(ctx, h, txns, served)
    if h.is_reference:
        ctx.equal(txns[1]["raw"], m_cr, "reference: bare CR passed through, `.x` not stuffed")
    else:
        ctx.equal(txns[1]["raw"],
                  b"From: alice@example.net\r\nSubject: cr\r\n\r\nline1\r\nline2\r\n\r\n"
                  b"..x\r\nmore\r\nend\r\n", "ours: bare CR sent as CRLF, `.x` stuffed")
    ctx.check(all(b"\n" not in t["raw"].replace(b"\r\n", b"") for t in txns),
              "no bare LF on the wire")


EIGHTBIT = ("From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.net>\r\nSubject: 8bit "
            "caf\u00e9 \u65e5\u672c\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode() + \
    "caf\u00e9 \u00fcber \u00e7a \u2603\r\n".encode() + b"latin1 \xe9\xe8\xff\x80\r\n.\xc3\xa9\r\n"


@case("8bit")
def c_8bit(h, ctx):
    a = Acct(h, "8bit")
    srv = h.sink()
    a.configure(srv)
    m7 = mk("seven-bit")
    a.add(EIGHTBIT)
    a.add(m7)
    ctx.equal(a.store.body("INBOX", 1), EIGHTBIT, "premise: Dovecot serves the 8-bit bytes")
    r = a.run()
    expect_run(ctx, r, [a.uid_line(1, "juergen@example.net"), a.uid_line(2, "alice@example.net")])
    txns = srv.accepted()
    expect_data(ctx, h, txns, [EIGHTBIT, m7])
    expect_mail_lines(ctx, h, txns, [("juergen@example.net", EIGHTBIT),
                                     ("alice@example.net", m7)], {"8BITMIME", "PIPELINING"},
                      "MAIL FROM (ours: BODY=8BITMIME for the 8-bit one only)")


@case("extensions")
def c_extensions(h, ctx):
    """A server without PIPELINING and 8BITMIME, with SIZE: one command at
    a time; ours adds SIZE= (the reference sends no parameter ever)."""
    a = Acct(h, "ext")
    srv = h.sink("--no-pipelining", "--no-8bitmime", "--size", "10000000")
    a.configure(srv)
    m7 = mk("ext-7bit")
    a.add(m7)
    a.add(EIGHTBIT)
    r = a.run()
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net"), a.uid_line(2, "juergen@example.net")])
    txns = srv.accepted()
    ctx.equal(srv.conns()[0]["ehlo"], ["250-sink.test", "250-SIZE 10000000", "250 HELP"],
              "premise: EHLO offers SIZE only")
    expect_data(ctx, h, txns, [m7, EIGHTBIT])
    expect_mail_lines(ctx, h, txns, [("alice@example.net", m7), ("juergen@example.net", EIGHTBIT)],
                      {"SIZE"}, "MAIL FROM (ours: SIZE=)")
    early = [c["line"] for conn in srv.conns() for c in conn["commands"] if c["early"]]
    ctx.equal(early, [], "no PIPELINING offered: no command sent ahead of a reply")
    ctx.equal(strip_params(srv.commands()), smtp_session(2, ["alice@example.net",
                                                             "juergen@example.net"]),
              "SMTP commands")


@case("smtputf8-rcpt", ours_only="SMTPUTF8 (the reference never sends it)")
def c_smtputf8(h, ctx):
    """An 8-bit deliver-rcpt with a server offering SMTPUTF8: ours says
    SMTPUTF8 on MAIL."""
    a = Acct(h, "utf8")
    srv = h.sink("--smtputf8")
    rcpt = "b\u00f8b@example.org"
    a.configure(srv, deliver_rcpt=rcpt)
    m = mk("utf8-1")
    a.add(m)
    r = a.run()
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net")])
    txns = srv.accepted()
    ctx.equal([t["rcpt"] for t in txns], [["RCPT TO:<" + rcpt.encode().decode("latin-1") + ">"]],
              "RCPT TO carries the UTF-8 address")
    got = [mail_parts(t["mail"]) for t in txns]
    # BODY=8BITMIME may come with SMTPUTF8 (RFC 6531 allows it, although
    # this body is 7-bit)
    ctx.check(len(got) == 1 and got[0][0] == "MAIL FROM:<alice@example.net>" and
              got[0][1] in (["SMTPUTF8"], ["BODY=8BITMIME", "SMTPUTF8"]),
              "MAIL FROM with SMTPUTF8", repr(got))


@case("huge-20mib")
def c_huge(h, ctx):
    """A 20 MiB message (some lines start with a dot), byte-exact; ours
    stays under 64 MiB of peak RSS. The reference gets 2 MiB: it cuts the
    body into lines with character offsets, which is quadratic (1 MiB 0.8 s,
    4 MiB 6 s, 20 MiB minutes); QR_PTEST_FORCE=1 gives it 20 MiB too."""
    size_wanted = HUGE if (h.ours or FORCE) else 2 << 20
    if size_wanted != HUGE:
        h.tap.comment("huge-20mib: 2 MiB for the reference (quadratic in the message size)")
    a = Acct(h, "huge")
    srv = h.sink()
    a.configure(srv)
    parts = [b"From: alice@example.net\r\nSubject: huge\r\n\r\n"]
    size = len(parts[0])
    n = 0
    while size < size_wanted:
        line = hashlib.sha256(n.to_bytes(4, "big")).hexdigest().encode() + b"0123456789abcd\r\n"
        if n % 1000 == 0:
            line = b"." + line
        parts.append(line)
        size += len(line)
        n += 1
    big = b"".join(parts)
    small = mk("after-huge")
    a.add(big)
    a.add(small)
    r = a.run(measure=True, timeout=600 if FORCE else 60)
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net"), a.uid_line(2, "alice@example.net")])
    h.tap.comment(f"huge-20mib: {r.elapsed:.2f} s, peak RSS {r.maxrss_kib} KiB")
    txns = srv.accepted()
    ours = h.ours
    ctx.check(len(txns) == 2 and txns[0]["raw"] == wire(big, ours),
              "big message: bytes on the wire exact",
              short_bytes_diff([t["raw"] for t in txns][:1], [wire(big, ours)]))
    ctx.check(len(txns) == 2 and txns[0]["eml"] == big, "big message: received message exact",
              short_bytes_diff([t["eml"] for t in txns][:1], [big]))
    ctx.equal(txns[1]["eml"] if len(txns) > 1 else None, small, "the next message exact")
    ctx.equal(a.seen(), {1: True, 2: True}, "both \\Seen")
    if h.ours_check(ctx, "peak RSS < 64 MiB", f"the reference peaked at {r.maxrss_kib} KiB"):
        ctx.check(r.maxrss_kib is not None and r.maxrss_kib < RSS_LIMIT_KIB,
                  f"peak RSS {r.maxrss_kib} KiB < {RSS_LIMIT_KIB} KiB")


def sender_case(h, ctx, tag, cases):
    """Messages with the From/Sender headers of CASES [(header bytes,
    expected envelope sender)], delivered to the permissive scripted peer:
    the UID lines, the MAIL lines, the whole command sequence and the
    messages are checked."""
    a = Acct(h, tag)
    peer = h.script()
    a.configure(peer)
    msgs = []
    for i, (hdr, _) in enumerate(cases):
        m = hdr + f"Subject: sender {i}\r\n\r\nbody {i}\r\n".encode()
        msgs.append(m)
        a.add(m)
    r = a.run()
    dates = a.idates()
    senders = [s for _, s in cases]
    expect_run(ctx, r, [a.uid_line(i + 1, s, dates) for i, s in enumerate(senders)])
    txns = peer.accepted()
    expect_mail_lines(ctx, h, txns, list(zip(senders, msgs)), {"8BITMIME", "PIPELINING"})
    ctx.equal(strip_params(peer.commands()), smtp_session(len(cases), senders),
              "exactly EHLO, (MAIL, RCPT, DATA) per message, QUIT: nothing injected")
    ctx.equal([t["eml"] for t in txns], [as_received(m, h.ours) for m in msgs],
              "messages exact (ours: a bare CR becomes CRLF)")
    ctx.equal(a.state(), pack(a.uidvalidity(), len(cases) + 1), "state: every UID handled")


@case("senders")
def c_senders(h, ctx):
    """Envelope senders from the ENVELOPE Sender (pullimap.md §4.3): dot
    strings, quoted local parts, null senders (no From, a group, an 8-bit
    local part, a CR in the local part), and CR/LF injection attempts
    through the From header, which never produce an SMTP command."""
    sender_case(h, ctx, "senders", [
        (b"From: alice@example.net\r\n", "alice@example.net"),
        (b"From: boss@example.org\r\nSender: sec@example.org\r\n", "sec@example.org"),
        (b'From: "we ird"@example.org\r\n', '"we ird"@example.org'),
        (b'From: "a\\"b\\\\c"@example.org\r\n', '"a\\"b\\\\c"@example.org'),
        (b"From: x <a.b..c@example.org>\r\n", '"a.b..c"@example.org'),
        # Dovecot gives the local part as a literal holding the CR
        (b'From: "x\rRCPT TO:<evil@example.org>"@example.org\r\n', ""),
        # Dovecot cannot parse this one: MISSING_MAILBOX@MISSING_DOMAIN
        (b'From: "y\r\nRCPT TO:<evil@example.org>"@example.org\r\n',
         "MISSING_MAILBOX@MISSING_DOMAIN"),
        (b"From: j\xc3\xbcrgen@example.org\r\n", ""),
        (b"From: undisclosed-recipients:;\r\n", ""),
        (b"", ""),
        (b"From: localonly\r\n", "localonly@MISSING_DOMAIN"),
        (b"From: <>\r\n", "MISSING_MAILBOX@MISSING_DOMAIN"),
    ])


@case("sender-angle-brackets")
def c_sender_angle(h, ctx):
    """A folded quoted local part holding `RCPT TO:<...>`: Dovecot unfolds
    it to `x RCPT TO:<evil@example.org>`, a printable local part that is
    sent quoted (RFC 5321 qtextSMTP includes `<` and `>`) on the one MAIL
    line: no command is injected, and the message must not block the
    mailbox."""
    sender_case(h, ctx, "angle", [
        (b'From: "x\r\n RCPT TO:<evil@example.org>"@example.org\r\n',
         '"x RCPT TO:<evil@example.org>"@example.org'),
        (b"From: alice@example.net\r\n", "alice@example.net"),
    ])


@case("sender-long")
def c_sender_long(h, ctx):
    """Local parts of 100 and 300 characters (over RFC 5321's 64-octet
    local part and 256-octet path limits; the reference does not check
    lengths): sent as they are, the server decides."""
    l100 = "l" * 100
    l300 = ".".join(["abcdefghij"] * 27) + "abc"
    sender_case(h, ctx, "long", [
        (f"From: {l100}@example.org\r\n".encode(), f"{l100}@example.org"),
        (f"From: {l300}@example.org\r\n".encode(), f"{l300}@example.org"),
        (b"From: alice@example.net\r\n", "alice@example.net"),
    ])


# --- purge-after -----------------------------------------------------------------------

def purge_case(h, ctx, tag, drop):
    a = Acct(h, tag, drop=drop)
    srv = h.sink()
    a.configure(srv, purge_after="10")
    now = int(time.time())
    old, recent = now - 20 * 86400, now - 2 * 86400
    msgs = [mk(f"{tag}-{i}") for i in range(1, 5)]
    for m, d in zip(msgs, (old, recent, old, now)):
        a.add(m, date=d)
    r = a.run("--debug")
    uidv = a.uidvalidity()
    ctx.check(r.rc == 0, "exit status 0", r.describe())
    before = datetime.datetime.fromtimestamp(now - 10 * 86400, datetime.timezone.utc)
    date = f"{before.day:02d}-{qrrig.mail.MONTHS[before.month - 1]}-{before.year:04d}"
    search = [ln for ln in r.lines if " C: " in ln and "SEARCH" in ln]
    if drop:
        want = [f"{SECTION}(INBOX): C: 000003 UID SEARCH UID 1:4 BEFORE {date}"]
    else:
        want = [f"{SECTION}(INBOX): C: 000003 UID SEARCH RETURN (COUNT ALL) UID 1:4 BEFORE {date}"]
    # the reference numbers tags 000000, 000001...; ours has its own tags
    # (docs/compatibility.md, item 16)
    ctx.equal([re.sub(r"C: \S+ ", "C: 000003 ", ln) for ln in search], want,
              "the purge search (--debug)" + (" without ESEARCH" if drop else " with ESEARCH"))
    r = a.run()   # nothing new; purges again (nothing left to purge)
    expect_run(ctx, r, [], what="second run")
    ctx.equal(sorted(a.messages()), [2, 4], "the old messages (1, 3) are gone")
    ctx.equal(a.state(), pack(uidv, 5), "state UIDNEXT 5")
    ctx.equal([t["eml"] for t in srv.accepted()], msgs, "all four delivered first")
    # an old message arriving now is delivered, then purged
    m5 = mk(f"{tag}-5")
    a.add(m5, date=old)
    m6 = mk(f"{tag}-6")
    a.add(m6, date=old)
    a.add(mk(f"{tag}-7"), date=now)
    dates = a.idates()
    r = a.run()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net", dates) for u in (5, 6, 7)] +
               [f"{SECTION}(INBOX): Removing 2 UID(s) 5:6"], what="third run")
    ctx.equal(sorted(a.messages()), [2, 4, 7], "5 and 6 delivered, then purged")
    ctx.equal(len(srv.accepted()), 7, "seven deliveries in all")


@case("purge-esearch")
def c_purge_esearch(h, ctx):
    purge_case(h, ctx, "pes", None)


@case("purge-no-esearch")
def c_purge_search(h, ctx):
    purge_case(h, ctx, "pns", ["ESEARCH"])


@case("purge-first-run")
def c_purge_first(h, ctx):
    """The `Removing` line of a first run with ESEARCH and without."""
    for drop in (None, ["ESEARCH"]):
        a = Acct(h, "pfr", drop=drop)
        srv = h.sink()
        a.configure(srv, purge_after="10")
        now = int(time.time())
        old = now - 20 * 86400
        for i, d in enumerate((old, now, old, now)):
            a.add(mk(f"pfr-{i}-{drop}"), date=d)
        dates = a.idates()
        r = a.run()
        what = "without ESEARCH" if drop else "with ESEARCH"
        expect_run(ctx, r, [a.uid_line(u, "alice@example.net", dates) for u in (1, 2, 3, 4)] +
                   [f"{SECTION}(INBOX): Removing 2 UID(s) 1,3"], what=what)
        ctx.equal(sorted(a.messages()), [2, 4], f"1 and 3 purged ({what})")


@case("purge-zero")
def c_purge_zero(h, ctx):
    """purge-after = 0: everything below UIDNEXT is expunged after each
    pull, silently."""
    a = Acct(h, "p0")
    srv = h.sink()
    a.configure(srv, purge_after="0")
    msgs = [mk(f"p0-{i}") for i in (1, 2)]
    for m in msgs:
        a.add(m, date=int(time.time()))
    r = a.run()
    uidv = a.uidvalidity()
    lines = info_lines(r)
    ctx.check(r.rc == 0, "exit status 0", r.describe())
    ctx.check(len(lines) == 2, "two stderr lines (the UID lines, no Removing line)",
              r.describe())
    ctx.check(all(re.match(rf"^{SECTION}\(INBOX\): UID [12] from <alice@example\.net> \(", ln)
                  for ln in lines), "they are the UID lines", r.describe())
    ctx.equal(a.messages(), {}, "the mailbox is empty")
    ctx.equal(a.state(), pack(uidv, 3), "state UIDNEXT 3")
    ctx.equal([t["eml"] for t in srv.accepted()], msgs, "both delivered before")
    a.add(mk("p0-3"))
    r = a.run()
    ctx.check(len(info_lines(r)) == 1, "next run: one UID line", r.describe())
    ctx.equal(a.messages(), {}, "empty again")
    ctx.equal(len(srv.accepted()), 3, "three deliveries in all")


# --- modes ----------------------------------------------------------------------------

@case("no-delivery")
def c_no_delivery(h, ctx):
    """--no-delivery: messages are recorded and marked \\Seen, no SMTP
    connection is made (deliver-method points to a closed port)."""
    a = Acct(h, "nodel")
    dead = f"smtp:[127.0.0.1]:{free_port()}"
    a.configure(dead)
    for i in (1, 2):
        a.add(mk(f"nodel-{i}"))
    r = a.run("--no-delivery")
    uidv = a.uidvalidity()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in (1, 2)])
    ctx.equal(a.state(), pack(uidv, 3), "state UIDNEXT 3")
    ctx.equal(a.seen(), {1: True, 2: True}, "both \\Seen")
    srv = h.sink()
    a.configure(srv)
    m3 = mk("nodel-3")
    a.add(m3)
    r = a.run()
    expect_run(ctx, r, [a.uid_line(3, "alice@example.net")], what="normal run afterwards")
    ctx.equal([t["eml"] for t in srv.accepted()], [m3], "only the new message is delivered")


@case("idle")
def c_idle(h, ctx):
    """--idle: refuses to create the state file; with it, delivers a new
    message within about a second; a second instance is refused with
    `Can't lock ...`."""
    a = Acct(h, "idle")
    srv = h.sink()
    a.configure(srv)
    m1 = mk("idle-1")
    a.add(m1)
    r = a.run("--idle")
    expect_run(ctx, r, [f"Can't open {a.state_path}: No such file or directory"], rc=None,
               traffic=0, what="no state file")
    ctx.check(a.state() is None, "the state file was not created")
    r = a.run()
    uidv = a.uidvalidity()
    expect_run(ctx, r, [a.uid_line(1, "alice@example.net")], what="one-shot run")
    p = a.start("--idle")
    try:
        time.sleep(0.5)   # let it reach IDLE
        ctx.check(p.poll() is None, "the --idle instance keeps running",
                  p.poll().describe() if p.poll() else None)
        r2 = a.run()
        expect_run(ctx, r2, [f"Can't lock {a.state_path}: Resource temporarily unavailable"],
                   rc=None, traffic=0, what="second instance")
        m2 = mk("idle-2")
        a.add(m2)
        took = wait_until(lambda: len(srv.accepted()) == 2, 5, 0.01)
        h.tap.comment(f"idle: delivered {took if took is None else round(took, 3)} s "
                      "after the APPEND")
        ctx.check(took is not None and took < 1.5, "new message delivered within 1.5 s",
                  f"took {took}")
        ctx.equal([t["eml"] for t in srv.accepted()], [m1, m2], "delivered exactly")
        ok = wait_until(lambda: a.state() == pack(uidv, 3), 3)
        ctx.check(ok is not None, "state file updated to UIDNEXT 3", repr(a.state()))
        ok = wait_until(lambda: a.seen() == {1: True, 2: True}, 3)
        ctx.check(ok is not None, "the new message is \\Seen", repr(a.seen()))
        ctx.check(p.poll() is None, "still running")
    finally:
        p.kill(signal.SIGTERM)
        r = p.wait(10)
    ctx.equal([norm(ln) for ln in r.lines if not TRAFFIC.match(ln)][:1],
              [a.uid_line(2, "alice@example.net")], "the --idle instance logged UID 2")
    h.tap.comment(f"idle: exit status after SIGTERM: {r.rc}")


# --- state file errors, locking, interoperability ------------------------------------------

@case("locked")
def c_locked(h, ctx):
    """Another process holds a POSIX record lock on the state file."""
    a = Acct(h, "lock")
    srv = h.sink()
    a.configure(srv)
    a.add(mk("lock-1"))
    uidv = a.uidvalidity()
    a.write_state(pack(uidv, 1))
    fd = os.open(a.state_path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        r = a.run()
    finally:
        os.close(fd)
    expect_run(ctx, r, [f"Can't lock {a.state_path}: Resource temporarily unavailable"],
               rc=None, traffic=0)
    ctx.equal(a.state(), pack(uidv, 1), "state file unchanged")
    ctx.equal(srv.conns(), [], "no SMTP connection")
    ctx.equal(a.seen(), {1: False}, "nothing \\Seen")


@case("corrupted-state")
def c_corrupted(h, ctx):
    a = Acct(h, "corrupt")
    srv = h.sink()
    a.configure(srv)
    a.add(mk("corrupt-1"))
    uidv = a.uidvalidity()
    for data, what in ((pack(uidv) + b"\x00\x00", "6 bytes"),
                       (pack(uidv, 1) + b"\x00\x00", "10 bytes"),
                       (b"\x01", "1 byte")):
        a.write_state(data)
        r = a.run()
        ctx.check(r.rc > 0, f"exit status non-zero ({what})", r.describe())
        ctx.equal(info_lines(r), ["Corrupted state file!"], f"stderr ({what})")
        ctx.equal(a.state(), data, f"state file unchanged ({what})")
    ctx.equal(srv.conns(), [], "no SMTP connection")
    ctx.equal(a.seen(), {1: False}, "nothing \\Seen")


def interop(h, ctx, first, second, tag):
    """FIRST binary runs, then SECOND continues the same state file; then a
    killed FIRST run (state with a leftover UID list) continued by SECOND."""
    names = {first: "reference" if first == REFERENCE else "ours",
             second: "reference" if second == REFERENCE else "ours"}
    a = Acct(h, tag)
    srv = h.sink()
    a.configure(srv)
    msgs = [mk(f"{tag}-{i}") for i in range(1, 8)]
    a.add(msgs[0])
    a.add(msgs[1])
    r = a.run(binary=first)
    uidv = a.uidvalidity()
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in (1, 2)],
               what=f"{names[first]} first")
    a.add(msgs[2])
    a.add(msgs[3])
    r = a.run(binary=second)
    expect_run(ctx, r, [a.uid_line(u, "alice@example.net") for u in (3, 4)],
               what=f"{names[second]} continues")
    ctx.equal(a.state(), pack(uidv, 5), "state UIDNEXT 5")
    a.add(msgs[4])
    r = a.run(binary=first)
    expect_run(ctx, r, [a.uid_line(5, "alice@example.net")], what=f"{names[first]} again")
    # a killed FIRST: UID 6 delivered and recorded in the list, 7 pending
    a.add(msgs[5])
    a.add(msgs[6])
    peer = h.script("mail:2:hang")
    a.configure(peer)
    p = a.start(binary=first)
    ok = peer.wait_event("hang mail 2", proc=p)
    ctx.require(ok, f"{names[first]} stalled at the 7th message", stalled(ok, p))
    p.kill(signal.SIGKILL)
    p.wait()
    ctx.equal(a.state(), pack(uidv, 6, 6), "state after SIGKILL: UIDNEXT 6, list [6]")
    a.configure(srv)
    r = a.run(binary=second)
    expect_run(ctx, r, [a.uid_line(7, "alice@example.net")],
               what=f"{names[second]} resumes the interrupted run")
    ctx.equal(a.state(), pack(uidv, 8), "final state UIDNEXT 8")
    ctx.equal(a.seen(), {u: True for u in range(1, 8)}, "all \\Seen")
    counts = deliveries([srv, peer])
    ctx.equal([counts[m] for m in msgs], [1] * 7, "each message delivered exactly once")


@case("interop-reference-then-ours", needs=("reference",))
def c_interop_ref_ours(h, ctx):
    interop(h, ctx, REFERENCE, h.binary, "iro")


@case("interop-ours-then-reference", needs=("reference",))
def c_interop_ours_ref(h, ctx):
    interop(h, ctx, h.binary, REFERENCE, "ior")


# --- LMTP into Dovecot ----------------------------------------------------------------------

LMTP_PREFIX = re.compile(
    rb"\AReturn-Path: <(?P<sender>[^>]*)>\r\n"
    rb"Delivered-To: bob\r\n"
    rb"Received: from localhost\.localdomain \(\[127\.0\.0\.1\]\)\r\n"
    rb"\tby localhost with LMTP\r\n"
    rb"\tid \S+\r\n"
    rb"\t\(envelope-from <(?P=sender)>\)\r\n"
    rb"\tfor <bob>; [^\r\n]+\r\n")


@case("lmtp")
def c_lmtp(h, ctx):
    """Delivery over LMTP into a Dovecot mailbox: the stored message is the
    source byte for byte after Dovecot's trace headers; an unknown
    recipient is an error and nothing is recorded."""
    d = h.daemon()
    bob = d.user("bob")
    a = Acct(h, "lmtp")
    a.configure(f"lmtp:[127.0.0.1]:{d.lmtp_port}", deliver_rcpt="bob")
    m1 = mk("lmtp-1", body=".starts with a dot\r\n..two\r\n.\r\nend\r\n")
    m3 = mk("lmtp-3", sender='"we ird"@example.org')
    msgs = [m1, EIGHTBIT, m3]
    for m in msgs:
        a.add(m)
    before = len(bob.messages("INBOX"))
    r = a.run()
    uidv = a.uidvalidity()
    senders = ["alice@example.net", "juergen@example.net", '"we ird"@example.org']
    expect_run(ctx, r, [a.uid_line(u, s) for u, s in zip((1, 2, 3), senders)])
    got = bob.messages("INBOX")[before:]
    ctx.equal(len(got), 3, "three messages in bob's INBOX")
    for i, (gm, m, s) in enumerate(zip(got, msgs, senders)):
        body = bob.body("INBOX", gm["uid"])
        mt = LMTP_PREFIX.match(body)
        ctx.check(mt is not None and body[mt.end():] == m,
                  f"message {i + 1}: Dovecot's trace headers, then the source exactly",
                  short_bytes_diff([body[mt.end():] if mt else body], [m]))
        ctx.equal(mt.group("sender").decode() if mt else None, s,
                  f"message {i + 1}: Return-Path (envelope sender)")
    ctx.equal(a.state(), pack(uidv, 4), "state UIDNEXT 4")
    ctx.equal(a.seen(), {1: True, 2: True, 3: True}, "all \\Seen")
    # an unknown recipient
    a.configure(f"lmtp:[127.0.0.1]:{d.lmtp_port}", deliver_rcpt="nobody")
    a.add(mk("lmtp-4"))
    r = a.run()
    if h.is_reference:
        expect_run(ctx, r, [a.uid_line(4, "alice@example.net"),
                            "SMTP error: Expected 250, got: 550 5.1.1 <nobody> User doesn't "
                            "exist: nobody"], rc=None, what="unknown recipient")
    else:
        ctx.check(r.rc > 0, "exit status non-zero (unknown recipient)", r.describe())
        ctx.check(any("550 5.1.1 <nobody> User doesn't exist: nobody" in ln for ln in r.lines),
                  "the 550 reply is reported", r.describe())
    ctx.equal(a.state(), pack(uidv, 4), "state unchanged (UID 4 not recorded)")
    ctx.equal(a.seen()[4], False, "UID 4 not \\Seen")


# --- main ----------------------------------------------------------------------------

def main(argv):
    names, binary, listing = [], None, False
    args = iter(argv)
    for a in args:
        if a == "--case":
            names.append(next(args))
        elif a == "--list":
            listing = True
        elif a.startswith("-"):
            print(f"usage: {sys.argv[0]} [BINARY] [--case NAME]... [--list]", file=sys.stderr)
            return 2
        else:
            binary = a
    selected = [c for c in CASES if not names or c.name in names]
    if listing:
        for c in selected:
            print(c.name + (f"  (ours only: {c.ours_only})" if c.ours_only else ""))
        return 0
    binary = binary or os.environ.get("QR_PULLIMAP")
    if not binary:
        print("1..0 # SKIP no pullimap binary (argument or $QR_PULLIMAP)")
        return 0
    if not os.access(binary, os.X_OK):
        print(f"1..0 # SKIP {binary} is not an executable file")
        return 0
    binary = os.path.abspath(binary)
    missing = qrrig.missing_requirements(daemon=any(c.name == "lmtp" for c in selected))
    if missing:
        print("1..0 # SKIP " + "; ".join(missing))
        return 0
    h = PHarness(binary)
    h.tap.comment(f"binary under test: {binary}" +
                  (" (the Perl reference)" if h.is_reference else ""))
    if h.aiosmtpd is None:
        h.tap.comment("python3-aiosmtpd is missing: the cases that need the sink are skipped")
    t0 = time.monotonic()
    h.start()
    try:
        for c in selected:
            h.run_case(c)
    finally:
        h.close()
    h.tap.comment(f"total: {time.monotonic() - t0:.2f} s")
    return h.tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
