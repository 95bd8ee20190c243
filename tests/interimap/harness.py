# SPDX-License-Identifier: LGPL-2.1-or-later
"""Scenario harness for interimap against real Dovecot tunnel stores.

A `Harness` owns one qrrig `Rig` (tests/rig) for a whole test file and
prints TAP. Each case gets one or more `Pair`s: a local and a remote
tunnel store (separator, capability list, COMPRESS chosen per store), a
private HOME with `$XDG_CONFIG_HOME/interimap/config` and the database in
`$XDG_DATA_HOME/interimap/`, and helpers to

* write the configuration (`configure`: type = tunnel, command = the
  store's direct tunnel command, plus any program key: list-mailbox,
  ignore-mailbox, list-reference, list-select-opts, log-prefix, logfile...),
* run a binary (ours or the Perl reference) with arguments and environment
  and capture stdout, stderr, exit status and peak RSS (`run`, `start`),
* change the stores (`add`, `flags`, `expunge`, `create`, ... through the
  qrrig store helpers; `maildir_add` writes a message file straight into
  the INBOX Maildir, for huge or zero-length messages),
* read the results: `state(side)` (every mailbox, keyed by internal name:
  subscription, UIDVALIDITY, UIDNEXT, messages as (UID, body SHA-256,
  sorted flags without \\Recent, INTERNALDATE)), `db()` (schema text,
  user_version, all rows) and `compare()`, which asserts that both stores
  hold the same messages per mailbox and that the database mapping is a
  bijection between the UIDs that exist on both sides, pairing identical
  messages.

Names: an *internal name* is a Unicode string whose hierarchy levels are
joined by NUL (as the database stores them, but decoded from modified
UTF-7); `pretty()` shows it with '/'.

Differential mode: `Trace` records normalised run results and final states
of a scenario, so that the same scenario run with the Perl reference on a
twin pair can be compared with ours (stderr lines sorted, traffic
statistics and the database path removed, UIDVALIDITY and database
indices left out).
"""

import collections
import hashlib
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "rig"))

import qrrig  # noqa: E402
from qrrig import Rig, make_message  # noqa: E402
from qrrig.imap import Literal, mailbox_arg, mutf7_decode  # noqa: E402
from qrrig.mail import imap_date  # noqa: E402

REFERENCE = "/usr/bin/interimap"
CUT_TUNNEL = os.path.join(HERE, "cut-tunnel.py")
PYTHON = sys.executable or "/usr/bin/python3"

# `local: IMAP traffic (bytes): recv 1.19K sent 309`, with the compression
# factors when COMPRESS is active (imap-client.md §11.3).
NUM = r"\d+(?:\.\d\d[KMG])?"
TRAFFIC_TEXT = (r"IMAP traffic \(bytes\): recv " + NUM + r"(?: \(compr\. " + NUM +
                r", factor \d+\.\d\d\))? sent " + NUM + r"(?: \(compr\. " + NUM +
                r", factor \d+\.\d\d\))?")
TRAFFIC = re.compile(r"^(local|remote): " + TRAFFIC_TEXT + r"$")
# Lines our binary may add that the reference never prints (a closing
# summary); they are left out wherever "only the traffic lines" is checked.
OURS_EXTRA = re.compile(r"^Summary\b")

# spec/interimap.md §5.2, byte for byte as sqlite_master keeps it
SCHEMA = [
    ("table", "mailboxes", "CREATE TABLE mailboxes (idx        INTEGER NOT NULL PRIMARY KEY "
     "AUTOINCREMENT, mailbox    BLOB COLLATE BINARY NOT NULL CHECK (mailbox != '') UNIQUE, "
     "subscribed BOOLEAN NOT NULL)"),
    ("index", "sqlite_autoindex_mailboxes_1", None),
    ("table", "sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)"),
    ("table", "local", "CREATE TABLE local (idx           INTEGER         NOT NULL PRIMARY KEY "
     "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "
     "UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)"),
    ("table", "remote", "CREATE TABLE remote (idx           INTEGER         NOT NULL PRIMARY KEY "
     "REFERENCES mailboxes(idx), UIDVALIDITY   UNSIGNED INT    NOT NULL CHECK (UIDVALIDITY > 0), "
     "UIDNEXT       UNSIGNED INT    NOT NULL, HIGHESTMODSEQ UNSIGNED BIGINT NOT NULL)"),
    ("table", "mapping", "CREATE TABLE mapping (idx  INTEGER      NOT NULL REFERENCES "
     "mailboxes(idx), lUID UNSIGNED INT NOT NULL CHECK (lUID > 0), rUID UNSIGNED INT NOT NULL "
     "CHECK (rUID > 0), PRIMARY KEY (idx,lUID), UNIQUE      (idx,rUID))"),
    ("index", "sqlite_autoindex_mapping_1", None),
    ("index", "sqlite_autoindex_mapping_2", None),
]
JOURNAL_TABLE = "qr_append_journal"   # ours only (include/qresync/sync.h)
DEFAULT_DATE = "2020-02-02T02:02:02Z"


class CaseFailed(Exception):
    """Raised by Ctx.require() to end a case early."""


class Skip(Exception):
    """Raised inside a case to skip the rest of it."""


class Hang(Exception):
    """Raised by Pair.run() when the binary did not finish in time (it was
    killed): the rest of the case would only wait again."""

    def __init__(self, result):
        super().__init__(f"no exit after {result.elapsed:.0f} s")
        self.result = result


RUN_TIMEOUT = 30      # seconds; a normal run takes well under one second
MAX_DIAG = 40         # diagnostic lines printed per failed check


def pretty(name, delim="/"):
    """Internal name (NUL-joined) for messages: NUL shown as DELIM."""
    return name.replace("\0", delim)


def sha(data):
    return hashlib.sha256(data).hexdigest()


def msg(tag, size=None, date=None):
    """A unique message (bytes) for TAG; with SIZE, padded to about SIZE
    bytes with deterministic 76-column lines."""
    body = f"body of {tag}\r\n"
    if size is not None:
        seed = hashlib.sha256(tag.encode()).digest()
        lines = []
        total = len(body)
        n = 0
        while total < size:
            line = hashlib.sha256(seed + n.to_bytes(4, "big")).hexdigest()
            line = (line + line[:12]) + "\r\n"
            lines.append(line)
            total += len(line)
            n += 1
        body += "".join(lines)
    return make_message(subject=tag, body=body, date=date)


# --- TAP ----------------------------------------------------------------------

class Tap:
    """TAP printer; the plan comes last (`1..N`)."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def result(self, ok, name, diag=None, skip=None):
        self.count += 1
        line = ("ok" if ok else "not ok") + f" {self.count} - {name}"
        if skip is not None:
            line += f" # SKIP {skip}"
        print(line, flush=True)
        if not ok:
            self.failed += 1
        if diag:
            for d in str(diag).splitlines():
                print("#   " + d, flush=True)

    def comment(self, text):
        for d in str(text).splitlines():
            print("# " + d, flush=True)

    def done(self):
        print(f"1..{self.count}", flush=True)
        return 1 if self.failed else 0


class Ctx:
    """Checks of one case: each check is one TAP line `CASE: WHAT`."""

    def __init__(self, harness, name, silent=False):
        self.h, self.name, self.silent = harness, name, silent
        self.failures = []

    def check(self, cond, what, diag=None):
        if self.silent:
            if not cond:
                self.failures.append((what, diag))
            return bool(cond)
        if not cond and diag:
            lines = str(diag).splitlines()
            if len(lines) > MAX_DIAG:
                diag = "\n".join(lines[:MAX_DIAG] + [f"... {len(lines) - MAX_DIAG} more lines"])
        self.h.tap.result(bool(cond), f"{self.name}: {what}",
                          None if cond else diag)
        if not cond:
            self.failures.append((what, diag))
        return bool(cond)

    def equal(self, got, want, what):
        return self.check(got == want, what, diff_text(got, want))

    def require(self, cond, what, diag=None):
        if not self.check(cond, what, diag):
            raise CaseFailed(what)

    def skip(self, what, reason):
        if not self.silent:
            self.h.tap.result(True, f"{self.name}: {what}", skip=reason)


def diff_text(got, want):
    """Readable expected/got text (line lists are shown as a diff)."""
    if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
        cg, cw = collections.Counter(map(repr, got)), collections.Counter(map(repr, want))
        out = ["expected:"] + ["  " + repr(x) for x in want] + ["got:"] + ["  " + repr(x)
                                                                          for x in got]
        missing = list((cw - cg).elements())
        extra = list((cg - cw).elements())
        if missing:
            out += ["missing:"] + ["  " + x for x in missing]
        if extra:
            out += ["unexpected:"] + ["  " + x for x in extra]
        return "\n".join(out)
    return f"expected: {want!r}\ngot:      {got!r}"


# --- runs ---------------------------------------------------------------------

class Result:
    """A finished run: rc (exit status, or -SIGNAL), stdout, stderr (str),
    lines (stderr lines), maxrss_kib, elapsed (s)."""

    def __init__(self, argv, rc, stdout, stderr, maxrss, elapsed):
        self.timed_out = False
        self.argv, self.rc, self.stdout, self.stderr = argv, rc, stdout, stderr
        self.lines = stderr.splitlines()
        self.maxrss_kib, self.elapsed = maxrss, elapsed

    def info(self):
        """Lines other than traffic statistics (and our extra summary)."""
        return [ln for ln in self.lines if not TRAFFIC.match(ln) and not OURS_EXTRA.match(ln)]

    def traffic(self):
        return [ln for ln in self.lines if TRAFFIC.match(ln)]

    def describe(self):
        return (f"argv: {' '.join(map(shlex.quote, self.argv))}\nexit: {self.rc} "
                f"({self.elapsed:.2f} s)\nstdout: {self.stdout!r}\nstderr:\n" +
                "\n".join("  " + ln for ln in self.lines))


# A small launcher for peak-RSS measurements: Linux keeps a process's
# ru_maxrss across execve() and a vfork()ed child starts with its parent's
# high-water mark, so a binary started straight from this (large) Python
# process would report at least our own peak. The launcher is a fresh
# `python3 -S` (a few MiB): it forks, execs the binary, writes the child's
# wait4() ru_maxrss (KiB) to the file argv[1] and exits with the child's
# status (or dies of the same signal).
LAUNCHER = r"""
import os, signal, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % ru.ru_maxrss)
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
"""


class Running:
    """A started binary; wait() gives a Result. With MEASURE, the binary
    runs under LAUNCHER and Result.maxrss_kib is its own wait4() peak RSS
    (otherwise it is that of the direct child, inflated by our own)."""

    def __init__(self, argv, env, cwd, timeout, measure=False):
        self.argv = argv
        self.out = tempfile.TemporaryFile()
        self.err = tempfile.TemporaryFile()
        self.t0 = time.monotonic()
        self.timeout = timeout
        self.rss_file = None
        if measure:
            fd, self.rss_file = tempfile.mkstemp(prefix="qr-rss.")
            os.close(fd)
            argv = [PYTHON, "-S", "-c", LAUNCHER, self.rss_file] + list(argv)
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.err, env=env, cwd=cwd)
        self.pid = self.proc.pid
        self.result = None

    def poll(self):
        """The Result if the process ended, else None (never blocks)."""
        if self.result is None:
            pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            if pid == 0:
                return None
            self._finish(status, ru)
        return self.result

    def kill(self, sig=signal.SIGKILL):
        if self.result is None:
            os.kill(self.pid, sig)

    def wait(self, timeout=None):
        deadline = self.t0 + (timeout or self.timeout)
        while self.poll() is None:
            if time.monotonic() > deadline:
                self.kill()
                _, status, ru = os.wait4(self.pid, 0)
                self._finish(status, ru)
                self.result.stderr += f"\n[harness: killed after {timeout or self.timeout} s]"
                self.result.lines.append("[harness: killed: timeout]")
                self.result.timed_out = True
                break
            time.sleep(0.01)
        return self.result

    def _finish(self, status, ru):
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - self.t0
        data = []
        for f in (self.out, self.err):
            f.seek(0)
            data.append(f.read().decode("utf-8", "replace"))
            f.close()
        maxrss = ru.ru_maxrss
        if self.rss_file is not None:
            with open(self.rss_file) as f:
                text = f.read().strip()
            os.unlink(self.rss_file)
            maxrss = int(text) if text else None
        self.result = Result(self.argv, self.proc.returncode, data[0], data[1],
                             maxrss, elapsed)


# --- stores and pairs -------------------------------------------------------------

def bulk_append(store, mailbox, messages, flags=(), date=None):
    """APPEND many messages in one session (MULTIAPPEND, in chunks); returns
    nothing. Faster than one session per message."""
    chunk = []
    size = 0

    def flush():
        if not chunk:
            return
        args = ["APPEND", mailbox_arg(mailbox)]
        for m in chunk:
            args.append("(" + " ".join(flags) + ")")
            if date is not None:
                args.append('"' + imap_date(date) + '"')
            args.append(Literal(m))
        with store.session() as c:
            c.command(*args)
        chunk.clear()

    for m in messages:
        chunk.append(m)
        size += len(m)
        if len(chunk) >= 64 or size > 8 << 20:
            flush()
            size = 0
    flush()


class Pair:
    """A local and a remote store with a private HOME for interimap."""

    def __init__(self, h, name, local_sep="/", remote_sep="/", local_caps=None,
                 remote_caps=None, local_drop=None, remote_drop=None, local_compress=False,
                 remote_compress=False, remote=None):
        self.h = h
        self.name = name
        self.local = h.rig.store(f"{name}-L", separator=local_sep, capabilities=local_caps,
                                 drop_capabilities=local_drop, compress=local_compress)
        if remote is None:
            self.remote = h.rig.store(f"{name}-R", separator=remote_sep, capabilities=remote_caps,
                                      drop_capabilities=remote_drop, compress=remote_compress)
        else:
            self.remote = remote    # e.g. a DaemonUser
        self.stores = {"local": self.local, "remote": self.remote}
        self.home = os.path.join(h.rig.root, f"{name}-home")
        self.config_home = os.path.join(self.home, "config")
        self.data_home = os.path.join(self.home, "data")
        for d in (self.home, self.config_home, self.data_home):
            os.makedirs(d, exist_ok=True)
        self.db_path = os.path.join(self.data_home, "interimap", "localhost.db")
        self.config_path = os.path.join(self.config_home, "interimap", "config")
        self.reference = {"local": "", "remote": ""}
        self.local_delim = local_sep
        self.trace = None          # a Trace in differential mode
        self.binary = h.binary
        self.configure()

    # -- configuration

    def configure(self, default=None, local=None, remote=None, config_path=None):
        """Write the configuration. DEFAULT, LOCAL, REMOTE: extra keys per
        section (dicts, in order). The tunnel commands default to the
        stores' direct form with null-stderr = YES. Returns the path."""
        path = config_path or self.config_path
        os.makedirs(os.path.dirname(path), exist_ok=True)
        lines = [f"{k} = {v}" for k, v in (default or {}).items()]
        for section, extra in (("local", local or {}), ("remote", remote or {})):
            keys = {}
            store = self.stores[section]
            if hasattr(store, "tunnel_command"):
                keys = {"type": "tunnel", "command": store.tunnel_command, "null-stderr": "YES"}
            keys.update(extra)
            lines.append("")
            lines.append(f"[{section}]")
            lines += [f"{k} = {v}" for k, v in keys.items() if v is not None]
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        if path == self.config_path:
            # §2.5: database defaults to HOST.db, HOST = [remote]'s host
            db = (default or {}).get("database")
            if db is None:
                host = (remote or {}).get("host") or (default or {}).get("host") or "localhost"
                db = f"{host}.db"
            self.db_path = db if db.startswith("/") else os.path.join(self.data_home,
                                                                      "interimap", db)
            merged = dict(default or {})
            for side, extra in (("local", local or {}), ("remote", remote or {})):
                self.reference[side] = (extra.get("list-reference")
                                        or merged.get("list-reference", ""))
        return path

    def env(self, extra=None):
        env = {"PATH": "/usr/bin:/bin", "HOME": self.home, "LANG": "C.UTF-8",
               "XDG_CONFIG_HOME": self.config_home, "XDG_DATA_HOME": self.data_home}
        # the time zone, the library path meson sets, sanitizer options
        for k in ("TZ", "LD_LIBRARY_PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                env[k] = os.environ[k]
        env.update(extra or {})
        return env

    # -- runs

    def start(self, *args, binary=None, env=None, timeout=RUN_TIMEOUT, measure=False):
        binary = binary or self.binary
        return Running([binary, *args], self.env(env), self.home, timeout, measure)

    def run(self, *args, binary=None, env=None, timeout=RUN_TIMEOUT, measure=False):
        """Run the binary to its end; raises Hang if it had to be killed."""
        r = self.start(*args, binary=binary, env=env, timeout=timeout, measure=measure).wait()
        if r.timed_out:
            raise Hang(r)
        if self.trace is not None:
            self.trace.run(self, r)
        return r

    # -- store helpers (side is "local" or "remote")

    def store(self, side):
        return self.stores[side]

    def add(self, side, mailbox, tag, flags=(), date=None, size=None):
        """APPEND a unique message TAG (INTERNALDATE DATE, default a fixed
        one so that twin runs match); returns its UID."""
        return self.stores[side].append(mailbox, msg(tag, size=size), flags=list(flags),
                                        date=date or DEFAULT_DATE)

    def add_many(self, side, mailbox, tags, flags=(), date=None, size=None):
        bulk_append(self.stores[side], mailbox, [msg(t, size=size) for t in tags], flags,
                    date or DEFAULT_DATE)

    def flags_set(self, side, mailbox, uids, flags):
        self.stores[side].set_flags(mailbox, uids, list(flags))

    def flags_add(self, side, mailbox, uids, flags):
        self.stores[side].add_flags(mailbox, uids, list(flags))

    def flags_remove(self, side, mailbox, uids, flags):
        self.stores[side].remove_flags(mailbox, uids, list(flags))

    def expunge(self, side, mailbox, uids):
        self.stores[side].expunge(mailbox, uids)

    def create(self, side, *names):
        for n in names:
            self.stores[side].create(n)

    def delete(self, side, *names):
        for n in names:
            self.stores[side].delete(n)

    def subscribe(self, side, *names):
        for n in names:
            self.stores[side].subscribe(n)

    def unsubscribe(self, side, *names):
        for n in names:
            self.stores[side].unsubscribe(n)

    def maildir_add(self, side, data, mtime=None):
        """Write a message file straight into the INBOX Maildir (new/) of a
        tunnel store, owned by mail: for huge bodies and zero-length files
        (Dovecot refuses an empty APPEND). Dovecot gives it a UID when the
        mailbox is next opened; the INTERNALDATE is the file's mtime."""
        store = self.stores[side]
        uid, gid = qrrig.system.mail_ids()
        new = os.path.join(store.maildir, "new")
        os.makedirs(new, exist_ok=True)
        os.chown(new, uid, gid)
        for d in ("cur", "tmp"):
            p = os.path.join(store.maildir, d)
            os.makedirs(p, exist_ok=True)
            os.chown(p, uid, gid)
        self.h.seq += 1
        name = f"{int(time.time())}.M{self.h.seq}P{os.getpid()}.qrtest"
        tmp = os.path.join(store.maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, uid, gid)
        os.chmod(tmp, 0o600)
        if mtime is not None:
            os.utime(tmp, (mtime, mtime))
        os.rename(tmp, os.path.join(new, name))
        with store.session() as c:          # let Dovecot give it its UID now
            c.select("INBOX")

    def maildir_count(self, side, mailbox_dir=""):
        """Messages in a tunnel store's Maildir folder ('' = INBOX), counted
        from the files (no IMAP session, so it can be polled while
        interimap runs)."""
        base = os.path.join(self.stores[side].maildir, mailbox_dir)
        n = 0
        for d in ("new", "cur"):
            try:
                n += len(os.listdir(os.path.join(base, d)))
            except FileNotFoundError:
                pass
        return n

    # -- reading back

    def internal(self, side, name, delimiter):
        """Server name (Unicode) -> internal name, or None outside the
        list-reference."""
        ref = mutf7_decode(self.reference[side]) if self.reference[side] else ""
        if not name.startswith(ref):
            return None
        rest = name[len(ref):]
        parts = rest.split(delimiter) if delimiter else [rest]
        if parts == [""]:
            return None
        if len(parts) == 1 and parts[0].upper() == "INBOX":
            parts[0] = "INBOX"
        return "\0".join(parts)

    def state(self, side):
        """{internal name: {subscribed, selectable, uidvalidity, uidnext,
        highestmodseq, messages: [(uid, sha256, flags tuple, internaldate)]}}
        for the mailboxes under the side's list-reference."""
        out = {}
        store = self.stores[side]
        dump = tolerant_dump(store) if getattr(self, "tolerant", False) else store.dump()
        for name, e in dump.items():
            key = self.internal(side, name, e["delimiter"])
            if key is None:
                continue
            selectable = e["uidvalidity"] is not None
            out[key] = {"subscribed": e["subscribed"], "selectable": selectable,
                        "uidvalidity": e["uidvalidity"], "uidnext": e["uidnext"],
                        "highestmodseq": e["highestmodseq"],
                        "messages": [(m["uid"], m["sha256"], tuple(m["flags"]),
                                      m["internaldate"]) for m in e["messages"]]}
        return out

    def states(self):
        return {"local": self.state("local"), "remote": self.state("remote")}

    def db(self, path=None):
        return read_db(path or self.db_path)

    def compare(self, ctx, what="stores and database agree", mailboxes=None, exclude=(),
                subscriptions=True, states=None, db=None, exact_cursors=True):
        """Assert (as one check) that the two stores hold the same messages
        (body, flags, INTERNALDATE) per existing mailbox, with the same
        subscriptions, and that the database maps every existing UID of a
        synchronised mailbox on one side to one existing UID on the other,
        pairing identical messages; and that no message is duplicated.
        MAILBOXES limits the comparison to those internal names; EXCLUDE are
        body SHA-256s left out (e.g. zero-length messages). Returns the
        problem list."""
        states = states or self.states()
        db = db or self.db()
        problems = consistency(states, db, mailboxes, set(exclude), subscriptions,
                               exact_cursors)
        ctx.check(not problems, what, "\n".join(problems))
        return problems


def read_db(path):
    """The database: {schema: [(type, name, sql)], user_version, mailboxes:
    {idx: (name, subscribed, typeof)}, local/remote: {idx: (UIDVALIDITY,
    UIDNEXT, HIGHESTMODSEQ)}, mapping: {idx: [(lUID, rUID)]}, journal: rows
    or None}. Names are decoded from modified UTF-7, NUL kept."""
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(path, timeout=0.1)
    try:
        out = {"schema": [tuple(r) for r in con.execute(
            "SELECT type, name, sql FROM sqlite_master ORDER BY rowid")]}
        out["user_version"] = con.execute("PRAGMA user_version").fetchone()[0]
        names = {r[1] for r in out["schema"]}
        out["mailboxes"] = {}
        out["local"], out["remote"], out["mapping"] = {}, {}, collections.defaultdict(list)
        if "mailboxes" in names:
            for idx, mbx, sub, typ in con.execute(
                    "SELECT idx, mailbox, subscribed, typeof(mailbox) FROM mailboxes"):
                raw = bytes(mbx) if isinstance(mbx, (bytes, memoryview)) else mbx.encode()
                out["mailboxes"][idx] = (mutf7_decode(raw.decode("ascii", "replace")), sub, typ)
            for side in ("local", "remote"):
                for idx, v, n, m in con.execute(
                        f"SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM {side}"):
                    out[side][idx] = (v, n, m % (1 << 64))
            for idx, lu, ru in con.execute("SELECT idx, lUID, rUID FROM mapping "
                                           "ORDER BY idx, lUID"):
                out["mapping"][idx].append((lu, ru))
        out["mapping"] = dict(out["mapping"])
        out["journal"] = None
        if JOURNAL_TABLE in names:
            out["journal"] = [tuple(r) for r in con.execute(f"SELECT * FROM {JOURNAL_TABLE}")]
        return out
    finally:
        con.close()


def db_by_name(db):
    """Database rows keyed by mailbox name (indices dropped):
    {name: {subscribed, local: (UIDNEXT, HIGHESTMODSEQ) , remote: ...,
    mapping: [...]}} (UIDVALIDITY left out)."""
    if db is None:
        return None
    out = {}
    for idx, (name, sub, _typ) in db["mailboxes"].items():
        out[name] = {"subscribed": sub,
                     "local": db["local"].get(idx, (None,))[1:] or None,
                     "remote": db["remote"].get(idx, (None,))[1:] or None,
                     "mapping": db["mapping"].get(idx, [])}
    return out


def schema_problems(db, allow_journal=True):
    """Differences between the database's sqlite_master and §5.2."""
    got = [(t, n, s) for t, n, s in db["schema"]
           if not (allow_journal and (n == JOURNAL_TABLE or n.startswith(
               "sqlite_autoindex_" + JOURNAL_TABLE)))]
    want = list(SCHEMA)
    out = []
    if got != want:
        out.append(diff_text(got, want))
    if db["user_version"] != 1:
        out.append(f"user_version {db['user_version']} instead of 1")
    bad = [n for n, _s, t in db["mailboxes"].values() if t != "blob"]
    if bad:
        out.append(f"mailbox names not stored as BLOB: {bad!r}")
    return out


def consistency(states, db, mailboxes=None, exclude=frozenset(), subscriptions=True,
                exact_cursors=True):
    """Problems (list of text) between two store states and the database;
    see Pair.compare()."""
    problems = []
    loc, rem = states["local"], states["remote"]

    def wanted(name):
        return mailboxes is None or name in mailboxes

    def live(st):
        return {n for n, e in st.items() if e["selectable"] and wanted(n)}

    ln, rn = live(loc), live(rem)
    for n in sorted(ln - rn):
        problems.append(f"{pretty(n)}: exists on local only")
    for n in sorted(rn - ln):
        problems.append(f"{pretty(n)}: exists on remote only")
    if subscriptions:
        ls = {n for n, e in loc.items() if e["subscribed"] and wanted(n)}
        rs = {n for n, e in rem.items() if e["subscribed"] and wanted(n)}
        for n in sorted(ls ^ rs):
            problems.append(f"{pretty(n)}: subscribed on {'local' if n in ls else 'remote'} only")

    def content(e):
        return collections.Counter(m[1:] for m in e["messages"] if m[1] not in exclude)

    for n in sorted(ln & rn):
        cl, cr = content(loc[n]), content(rem[n])
        for key in sorted(set(cl) | set(cr)):
            if cl[key] != cr[key]:
                problems.append(f"{pretty(n)}: message sha256={key[0][:12]} flags="
                                f"({' '.join(key[1])}) date={key[2]}: {cl[key]} on local, "
                                f"{cr[key]} on remote")
        for side, c in (("local", cl), ("remote", cr)):
            bodies = collections.Counter(k[0] for k in c.elements())
            for b, k in bodies.items():
                if k > 1:
                    problems.append(f"{pretty(n)}: body sha256={b[:12]} {k} times on {side} "
                                    "(duplicate)")
    if db is None:
        problems.append("no database")
        return problems
    byname = {name: idx for idx, (name, _s, _t) in db["mailboxes"].items()}
    for n in sorted(ln & rn):
        idx = byname.get(n)
        if idx is None:
            problems.append(f"{pretty(n)}: no database row")
            continue
        sub = db["mailboxes"][idx][1]
        if subscriptions and sub != int(loc[n]["subscribed"]):
            problems.append(f"{pretty(n)}: database subscribed={sub}, stores "
                            f"{int(loc[n]['subscribed'])}")
        if idx not in db["local"] or idx not in db["remote"]:
            if loc[n]["messages"] or rem[n]["messages"]:
                problems.append(f"{pretty(n)}: no local/remote rows but messages exist")
            continue
        rows = {"local": db["local"][idx], "remote": db["remote"][idx]}
        for side, st in (("local", loc[n]), ("remote", rem[n])):
            v, nxt, hms = rows[side]
            if v != st["uidvalidity"]:
                problems.append(f"{pretty(n)}: {side} UIDVALIDITY db={v} store="
                                f"{st['uidvalidity']}")
            # UIDNEXT is the server's after a complete pass; HIGHESTMODSEQ may
            # lag behind (the server need not report the mod-sequence of an
            # APPEND; the next pass catches up), but never run ahead
            if exact_cursors and (nxt != st["uidnext"] or hms > st["highestmodseq"]):
                problems.append(f"{pretty(n)}: {side} (UIDNEXT, HIGHESTMODSEQ) db={(nxt, hms)} "
                                f"store={(st['uidnext'], st['highestmodseq'])}")
        pairs = db["mapping"].get(idx, [])
        lmsg = {m[0]: m[1:] for m in loc[n]["messages"] if m[1] not in exclude}
        rmsg = {m[0]: m[1:] for m in rem[n]["messages"] if m[1] not in exclude}
        lu = [p[0] for p in pairs]
        ru = [p[1] for p in pairs]
        if sorted(lu) != sorted(lmsg):
            problems.append(f"{pretty(n)}: mapped local UIDs {sorted(lu)} != existing "
                            f"{sorted(lmsg)}")
        if sorted(ru) != sorted(rmsg):
            problems.append(f"{pretty(n)}: mapped remote UIDs {sorted(ru)} != existing "
                            f"{sorted(rmsg)}")
        for a, b in pairs:
            if a in lmsg and b in rmsg and lmsg[a] != rmsg[b]:
                problems.append(f"{pretty(n)}: pair ({a},{b}) joins different messages: "
                                f"{lmsg[a][0][:12]} {lmsg[a][1:]} / {rmsg[b][0][:12]} "
                                f"{rmsg[b][1:]}")
            if a >= rows["local"][1] or b >= rows["remote"][1]:
                problems.append(f"{pretty(n)}: pair ({a},{b}) not below UIDNEXT "
                                f"({rows['local'][1]},{rows['remote'][1]}) (interrupted)")
    return problems


# --- differential mode ----------------------------------------------------------------

class Trace:
    """Normalised results of a scenario, for comparing two binaries."""

    def __init__(self):
        self.items = []

    def run(self, pair, r):
        self.items.append(("run " + " ".join(r.argv[1:]), normalise_run(pair, r)))

    def final(self, pair):
        self.items.append(("final stores", normalise_states(pair.states())))
        db = pair.db()
        rows = db_by_name(db)
        # HIGHESTMODSEQ left out: ours records the value the server reports
        # after its own APPENDs, the reference often an older one (both are
        # correct; "stores and database agree" checks ours against the
        # servers). UIDNEXT, subscriptions and the mapping must match.
        if rows is not None:
            for e in rows.values():
                for side in ("local", "remote"):
                    if e[side]:
                        e[side] = e[side][:1]
        self.items.append(("final database rows", rows))
        self.items.append(("final database schema",
                           None if db is None else schema_problems(db)))


def normalise_run(pair, r):
    lines = []
    for ln in r.info():
        ln = ln.replace(pair.db_path, "<DB>").replace(pair.home, "<HOME>")
        lines.append(ln)
    return {"exit": r.rc, "stdout": r.stdout, "stderr (sorted)": sorted(lines),
            "traffic lines": len(r.traffic())}


def normalise_states(states):
    out = {}
    for side, st in states.items():
        out[side] = {n: {k: v for k, v in e.items() if k != "uidvalidity"}
                     for n, e in st.items()}
    return out


def trace_diff(a, b, names=("reference", "ours")):
    """Differences between two Traces, as text lines."""
    out = []
    if len(a.items) != len(b.items):
        out.append(f"{len(a.items)} steps in {names[0]}, {len(b.items)} in {names[1]}")
    for (ka, va), (kb, vb) in zip(a.items, b.items):
        if va != vb:
            out.append(f"step {ka!r} differs:")
            out += ["  " + ln for ln in deep_diff(va, vb, names)]
    return out


def deep_diff(a, b, names, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=repr):
            p = f"{path}/{pretty(k) if isinstance(k, str) else k}"
            if k not in a:
                out.append(f"{p}: only in {names[1]}: {b[k]!r}")
            elif k not in b:
                out.append(f"{p}: only in {names[0]}: {a[k]!r}")
            elif a[k] != b[k]:
                out += deep_diff(a[k], b[k], names, p)
        return out
    if isinstance(a, list) and isinstance(b, list):
        ca, cb = collections.Counter(map(repr, a)), collections.Counter(map(repr, b))
        if ca == cb:
            return [f"{path}: same items, different order: {names[0]}={a!r} {names[1]}={b!r}"]
        return ([f"{path}: {names[0]} only: {x}" for x in (ca - cb).elements()] +
                [f"{path}: {names[1]} only: {x}" for x in (cb - ca).elements()])
    return [f"{path}: {names[0]}={a!r} {names[1]}={b!r}"]


# --- the harness --------------------------------------------------------------------

class Harness:
    """One rig, one TAP stream, the binary under test."""

    def __init__(self, binary):
        self.binary = binary
        self.tap = Tap()
        self.rig = None
        self.seq = 0
        self.npairs = 0
        self.is_reference = is_reference(binary)

    def start(self):
        self.rig = Rig()

    def close(self):
        if self.rig is not None:
            self.rig.close()

    def pair(self, **kw):
        self.npairs += 1
        return Pair(self, f"p{self.npairs}", **kw)

    def run_case(self, case, only_ours_reason=None):
        """Run CASE(ctx); exceptions become a failing check."""
        ctx = Ctx(self, case.name)
        if only_ours_reason and self.is_reference:
            self.tap.result(True, case.name, skip=f"ours only: {only_ours_reason}")
            return
        t0 = time.monotonic()
        try:
            case.func(self, ctx)
        except CaseFailed:
            pass
        except Skip as e:
            self.tap.result(True, f"{case.name}: rest", skip=str(e))
        except Exception:
            ctx.check(False, "ran without an exception", traceback.format_exc())
        self.tap.comment(f"{case.name}: {time.monotonic() - t0:.2f} s")


def is_reference(binary):
    """Whether BINARY is the Perl reference (by path, or by its --version)."""
    try:
        if os.path.realpath(binary) == os.path.realpath(REFERENCE):
            return True
        with open(binary, "rb") as f:
            head = f.read(64)
        return head.startswith(b"#!") and b"perl" in head
    except OSError:
        return False


# --- additions for test-interimap-7.py (repair, commands, watch, signals) -----------------------

def db_execute(path, sql, params=()):
    """Run one statement on the database at PATH and commit (the binary must
    not be running); returns the number of changed rows."""
    con = sqlite3.connect(path, timeout=5)
    try:
        cur = con.execute(sql, params)
        con.commit()
        return cur.rowcount
    finally:
        con.close()


def db_idx(path, name):
    """The database index of internal name NAME (ASCII; NUL-joined), or None."""
    con = sqlite3.connect(path, timeout=5)
    try:
        row = con.execute("SELECT idx FROM mailboxes WHERE mailbox = ?",
                          (name.encode("ascii"),)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def db_catch_up(pair, side, name, uidnext=True, modseq=True):
    """Make the database's SIDE row of mailbox NAME (internal) take the
    store's current UIDNEXT and/or HIGHESTMODSEQ, as if every change made so
    far had been synchronised: the changes made behind the database's back
    become invisible to a normal run (only --repair finds them). Returns the
    (UIDNEXT, HIGHESTMODSEQ) written."""
    st = pair.state(side)[name]
    idx = db_idx(pair.db_path, name)
    if idx is None:
        raise AssertionError(f"{pretty(name)}: no database row")
    sets, params = [], []
    if uidnext:
        sets.append("UIDNEXT = ?")
        params.append(st["uidnext"])
    if modseq:
        sets.append("HIGHESTMODSEQ = ?")
        params.append(st["highestmodseq"])
    db_execute(pair.db_path, f"UPDATE {side} SET {', '.join(sets)} WHERE idx = ?",
               params + [idx])
    return st["uidnext"], st["highestmodseq"]


def wait_until(pred, timeout, interval=0.05):
    """Poll PRED() (exceptions count as False) until it is true or TIMEOUT
    seconds passed; returns the seconds it took, or None."""
    t0 = time.monotonic()
    while True:
        try:
            if pred():
                return time.monotonic() - t0
        except Exception:   # e.g. a mailbox that does not exist yet
            pass
        if time.monotonic() - t0 > timeout:
            return None
        time.sleep(interval)


def has_body(store, mailbox, body, flags=None):
    """Whether MAILBOX (server name) of STORE holds a message whose raw text
    is BODY (bytes), with exactly FLAGS (sorted list) if given."""
    h = sha(body)
    for m in store.messages(mailbox):
        if m["sha256"] == h and (flags is None or list(m["flags"]) == sorted(flags)):
            return True
    return False


def restart_daemon(daemon, down=0.0, timeout=20.0):
    """Stop a rig Daemon (every process: clients see the connection end) and
    start it again on the SAME ports (the configuration is kept), after
    DOWN seconds. The rig's Daemon.start() would pick new ports."""
    daemon.stop()
    if down:
        time.sleep(down)
    daemon._start_once(timeout, last=True)
    daemon.save()


def tolerant_dump(store):
    """store.dump(), except that a listed mailbox that cannot be selected
    although LIST gives it neither \\Noselect nor \\NonExistent counts as not
    selectable instead of failing. Dovecot 2.3 lists a deleted parent of a
    remaining child that way (`(\\HasChildren)`, SELECT: `NO Mailbox doesn't
    exist`). Used when a Pair's `tolerant` attribute is true."""
    from qrrig import mail as qmail
    out = {}
    with store.session() as c:
        for mbox in qmail._list(c):
            entry = {"delimiter": mbox["delimiter"], "attributes": mbox["attributes"],
                     "subscribed": mbox["subscribed"], "uidvalidity": None,
                     "uidnext": None, "highestmodseq": None, "messages": []}
            if qmail._selectable(mbox["attributes"]):
                try:
                    info = c.select(mbox["name"], readonly=True)
                except qrrig.imap.ImapError:
                    info = None
                if info is not None:
                    entry["uidvalidity"] = info.get("UIDVALIDITY")
                    entry["uidnext"] = info.get("UIDNEXT")
                    entry["highestmodseq"] = info.get("HIGHESTMODSEQ")
                    entry["messages"] = qmail._fetch_all(c, info.get("EXISTS", 0))
            out[mbox["name"]] = entry
    return out
