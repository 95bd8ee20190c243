#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Differential test of the tools' command line and configuration.

Runs each case with the Perl reference (/usr/bin/interimap, /usr/bin/pullimap,
InterIMAP 0.5.7) and with cli-driver (tests/tools/cli-driver.c, which starts
up as our programs will), in a temporary HOME/XDG tree, and compares stderr,
stdout and the exit status. Only cases that fail before any connection is
attempted are used (usage errors, configuration errors, --help, --version);
where a configuration is needed its servers are tunnels to /bin/false.

Normalisation: Perl's " at FILE line N." suffixes are removed; the reference's
errno-derived exit statuses of "die" errors (2, 17, ...) count as 255, our fixed
status (tools/common/exitcodes.h); the version number on --version's first line
and the whole second line (Perl build information) are not compared.

EXPECTED_DIFFERENCES are the deliberate changes (docs/compatibility.md): for
those, our output is checked against the given text and the reference's output
is printed as a diagnostic.

With a second argument, the interimap program itself (tools/interimap/) is
also compared, run with argv[0] "/usr/bin/interimap": every interimap case
above, the cases of PROGRAM_SAME that only the program can reproduce (the
"Cleaning up..." debug line the reference prints at every exit, the log file,
connection settings refused when the connection is created), watch mode
without a database (PROGRAM_WATCH_NO_DATABASE: the file is not created) and
the database lock for every command and for watch mode, held by this script
with SQLite's BEGIN EXCLUSIVE.

With --pullimap=PATH, the pullimap program too, run with argv[0]
"/usr/bin/pullimap": every pullimap case above, then its state file
(run_pullimap_cases): locked by this script with a POSIX record lock (as the
reference locks it), missing in --idle mode (never created), and too short to
read (3 or 7 bytes) once connected to a fake PREAUTH server reached as a
tunnel, so no network is needed.  Prints TAP.
"""
import fcntl
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

# "--pullimap=PATH" (anywhere) names the pullimap program; the rest are positional.
PULLIMAP = next((a.split("=", 1)[1] for a in sys.argv[1:] if a.startswith("--pullimap=")), None)
ARGS = [a for a in sys.argv[1:] if not a.startswith("--pullimap=")]
DRIVER = ARGS[0]
PROGRAM = ARGS[1] if len(ARGS) > 1 else None
REF = {"interimap": "/usr/bin/interimap", "pullimap": "/usr/bin/pullimap"}

TUNNELS = "[local]\ntype = tunnel\ncommand = /bin/false\n[remote]\ntype = tunnel\ncommand = /bin/false\n"
PULL = "[acct]\ntype = tunnel\ncommand = /bin/false\n"
USAGE_I = ("Usage: interimap [OPTIONS] [COMMAND] [MAILBOX [..]]\n"
           "Try 'interimap --help' or consult the manpage for more information.\n")
USAGE_P = ("Usage: pullimap [OPTIONS] SECTION\n"
           "Try 'pullimap --help' or consult the manpage for more information.\n")

# (tool, args, config text or None) -- same behaviour expected.
SAME = [
    ("interimap", ["--conf=x"], None),
    ("interimap", ["--Quiet"], None),
    ("interimap", ["--quiet=1"], None),
    ("interimap", ["--config"], None),
    ("interimap", ["--target"], None),
    ("interimap", ["--watch=abc"], None),
    ("interimap", ["--watch=0x10"], None),
    ("interimap", ["-qx"], None),
    ("interimap", ["-h5"], None),
    ("interimap", ["-q=foo"], None),
    ("interimap", ["-config"], None),
    ("interimap", ["---foo"], None),
    ("interimap", ["--=x"], None),
    ("interimap", ["--bogus=3"], None),
    ("interimap", ["--no-quiet"], None),
    ("interimap", ["--debug=1"], None),
    ("interimap", ["--help=x"], None),
    ("interimap", ["--version=1"], None),
    ("interimap", ["--bogus", "--alsobogus"], None),
    ("interimap", ["--delete"], None),
    ("interimap", ["--rename", "a"], None),
    ("interimap", ["--rename", "a", "b", "c"], None),
    ("interimap", ["--delete", "--repair", "a"], None),
    ("interimap", ["--repair", "--watch"], None),
    ("interimap", ["--notify", "--rename", "a", "b"], None),
    ("interimap", ["--target=local"], None),
    ("interimap", ["--repair", "--target=local"], None),
    ("interimap", ["--delete", "--target="], None),
    # --repair, --delete, --rename, --watch, --notify: validation (§1.3)
    ("interimap", ["--watch", "--delete", "x"], None),
    ("interimap", ["--notify", "--repair"], None),
    ("interimap", ["--watch=5", "--repair", "INBOX"], None),
    ("interimap", ["--repair", "--rename", "a", "b"], None),
    ("interimap", ["--delete", "--rename", "a", "b"], None),
    ("interimap", ["--delete", "--repair"], None),
    ("interimap", ["--rename"], None),
    ("interimap", ["--target=local", "--watch"], None),
    ("interimap", ["--target=remote", "x"], None),
    ("interimap", ["--target=local", "--repair", "x"], None),
    ("interimap", ["--rename", "a", "caf\u00e9"], None),
    ("interimap", ["--delete", "x", ""], None),
    ("interimap", ["--target=remote,bogus", "--rename", "a", "b"], TUNNELS),
    ("interimap", ["--target=local", "--target=nope", "--delete", "x"], TUNNELS),
    ("interimap", ["--target=Local", "--delete", "x"], TUNNELS),
    ("interimap", ["-qh"], None),
    ("interimap", ["--help"], None),
    ("interimap", ["--help", "--delete", "--rename"], None),
    ("interimap", ["-h", "--bogus"], None),
    ("interimap", ["--version"], None),
    ("interimap", ["--version", "--bogus"], None),
    ("interimap", ["--bogus", "--version"], None),
    ("interimap", ["--help", "--version"], None),
    ("interimap", [""], None),
    ("interimap", ["caf\u00e9"], None),
    ("interimap", [], None),                        # no config file
    ("interimap", ["--config=other"], None),
    ("interimap", ["--config=/nonexistent/x"], None),
    ("interimap", [], "foo = bar\n[local]\n[remote]\n"),
    ("interimap", [], "[local]\nfoo=1\n[remote]\n"),
    ("interimap", [], "[local]\n[remote]\nbar = 2\n"),
    ("interimap", [], "[local]\n"),
    ("interimap", [], "[remote]\n"),
    ("interimap", [], ""),
    ("interimap", [], "[local]\nSTARTTLS = y\n[remote]\n"),
    ("interimap", [], "[local]\nhost =\n[remote]\n"),
    ("interimap", [], "[local]\ntype = IMAP\n[remote]\n"),
    ("interimap", [], "[local]\nstatefile = x\n[remote]\n"),
    ("interimap", [], "logfile = rel\n[local]\n[remote]\n"),
    ("interimap", [], "list-select-opts = a\"b\n[local]\n[remote]\n"),
    ("interimap", [], "[local]\nauth = PLAIN  LOGIN\n[remote]\n"),
    ("interimap", [], "[local]\nSSL_fingerprint = sha256$xyz\n[remote]\n"),
    ("interimap", [], "[local]\nusername = caf\u00e9\n[remote]\n"),
    ("interimap", [], "[ local ] ; comment\nport = \n[remote]\n"),
    ("interimap", [], "list-mailbox = foo\"bar\"\n" + TUNNELS),
    ("interimap", [], "list-mailbox = a \"\"\n" + TUNNELS),
    ("interimap", [], "list-mailbox = \"a\\q\"\n" + TUNNELS),
    ("interimap", ["--target=bogus", "--delete", "x"], TUNNELS),
    ("interimap", ["--target=local,Remote", "--rename", "x", "y"], TUNNELS),
    ("pullimap", [], None),
    ("pullimap", ["a", "b"], None),
    ("pullimap", ["_"], None),
    ("pullimap", ["--idle=x", "a"], None),
    ("pullimap", ["--no-delivery=1", "a"], None),
    ("pullimap", ["--watch", "a"], None),
    ("pullimap", ["-qh", "a"], None),
    ("pullimap", ["a", "--help"], None),
    ("pullimap", ["--version"], None),
    ("pullimap", ["acct"], None),
    ("pullimap", ["acct"], "[other]\n"),
    ("pullimap", ["acct"], "logfile = /x\n" + PULL),
    ("pullimap", ["acct"], PULL + "database = x\n"),
    ("pullimap", ["acct"], PULL + "deliver-method = smtp:127.0.0.1:25\n"),
    ("pullimap", ["acct"], PULL + "purge-after = 1d\n"),
    ("pullimap", ["acct"], PULL + "mailbox = caf\u00e9\n"),
    ("pullimap", ["acct", "--idle=-"], None),
    ("pullimap", ["--bogus", "acct"], None),
    ("pullimap", ["-q", "-x", "acct"], None),
    ("pullimap", ["--config", "acct"], None),
    ("pullimap", ["--idle=5", "_"], None),
    ("pullimap", ["--", "_"], None),
    ("pullimap", ["--help", "--version"], None),
    ("pullimap", ["--version", "--bogus"], None),
    ("pullimap", ["--config=other", "acct"], None),
    ("pullimap", ["_"], PULL),
    ("pullimap", ["ACCT"], PULL),
    ("pullimap", ["acct"], "[Acct]\n"),
    # interimap's program keys are not pullimap's
    ("pullimap", ["acct"], PULL + "list-mailbox = *\n"),
    ("pullimap", ["acct"], PULL + "ignore-mailbox = ^x\n"),
    ("pullimap", ["acct"], "log-prefix = %n\n" + PULL),
    ("pullimap", ["acct"], PULL + "list-reference = a/\n"),
    ("pullimap", ["acct"], PULL + "list-select-opts = SUBSCRIBED\n"),
    ("pullimap", ["acct"], PULL + "deliver-method = http:[127.0.0.1]:25\n"),
    ("pullimap", ["acct"], PULL + "deliver-method = smtp:[127.0.0.1]:\n"),
    ("pullimap", ["acct"], PULL + "deliver-ehlo =\n"),
    ("pullimap", ["acct"], PULL + "statefile =\n"),
    ("pullimap", ["acct"], PULL + "compress = maybe\n"),
    ("pullimap", ["acct"], PULL + "statefile = x\ntype = pop3\n"),
]

# (tool, args, config, our stderr, our status) -- deliberate differences.
EXPECTED_DIFFERENCES = [
    # quirk 1: a syntax error is reported, not read as an empty file
    ("interimap", [], "garbage\n" + TUNNELS, "Syntax error in {cfg} line 1: expected \"[section]\" "
     "or \"key = value\": garbage\n", 255),
    ("pullimap", ["acct"], PULL + "oops\n", "Syntax error in {cfg} line 4: expected \"[section]\" "
     "or \"key = value\": oops\n", 255),
    # --watch N / --idle N: the number is not taken silently
    ("interimap", ["--watch", "30"], TUNNELS, "Option watch takes its value after \"=\": write "
     "--watch=30 (an argument \"30\" must come after --)\n" + USAGE_I, 1),
    ("pullimap", ["--idle", "5", "acct"], PULL, "Option idle takes its value after \"=\": write "
     "--idle=5 (an argument \"5\" must come after --)\n" + USAGE_P, 1),
    # options after a mailbox are options
    ("interimap", ["--delete", "x", "--notify"], TUNNELS, USAGE_I, 1),
    ("interimap", ["INBOX", "--bogus"], TUNNELS, "Unknown option: bogus\n" + USAGE_I, 1),
    # --target= is an error, not "no target"
    ("interimap", ["--target=", "--delete", "x"], TUNNELS,
     "Invalid target \"\" (empty; expected local, remote or database)\n", 255),
    ("interimap", ["--target=database,", "--rename", "x", "y"], TUNNELS,
     "Invalid target \"\" (empty; expected local, remote or database)\n", 255),
    # negative intervals
    ("interimap", ["--watch=-3"], TUNNELS,
     "Value \"-3\" invalid for option watch (non-negative number expected)\n" + USAGE_I, 1),
    # ignore-mailbox is compiled at start-up
    ("interimap", [], "ignore-mailbox = (\n" + TUNNELS,
     "Invalid ignore-mailbox (: missing closing parenthesis at offset 1\n", 255),
    # deliver-method addresses are checked at start-up; host names are ours
    ("pullimap", ["acct"], PULL + "deliver-method = smtp:[bad host]:25\n",
     "Invalid address bad host\n", 255),
    ("pullimap", ["acct"], PULL + "deliver-method = lmtp:[1.2.3.256]:24\n",
     "Invalid address 1.2.3.256\n", 255),
    # our keys: the delivery connection's security, host names
    ("pullimap", ["acct"], PULL + "deliver-method = smtp:[mail.example.org]:587\n"
     "deliver-starttls = required\ndeliver-auth = PLAIN\ndeliver-username = u\n"
     "deliver-password = p\ndeliver-SSL_verify = YES\ndeliver-SSL_CAfile = /ca.pem\n"
     "deliver-SSL_fingerprint = sha256$00ff\ndeliver-SSL_protocol_min = TLSv1.2\n", "", 0),
    ("pullimap", ["acct"], PULL + "deliver-starttls = sometimes\n",
     "Invalid option deliver-starttls = sometimes\n", 255),
]

# interimap cases only the program reproduces (cli-driver stops earlier); a
# "{root}" in the configuration is the temporary tree.
NO_LOCAL_COMMAND = "[local]\ntype = tunnel\n[remote]\ntype = tunnel\ncommand = /bin/false\n"
PROGRAM_SAME = [
    (["--debug", "--help"], None),
    (["--debug", "--version"], None),
    (["--debug", "--bogus"], None),
    (["--debug", "--delete"], None),
    (["--debug", "--version", "--debug"], None),
    (["--debug", "--config=nonexistent"], None),
    (["--debug", "--target=x", "--delete", "a"], TUNNELS),
    (["--debug"], "[local]\nhost =\n[remote]\n"),
    ([], "logfile = {root}/missing/interimap.log\n" + TUNNELS),
    (["--debug"], "logfile = {root}/missing/interimap.log\n" + TUNNELS),
    ([], NO_LOCAL_COMMAND),
    (["-q"], NO_LOCAL_COMMAND),
    ([], "database = /nonexistent/x.db\n" + TUNNELS),
    (["--debug"], "database = /nonexistent/x.db\n" + TUNNELS),
    (["--debug", "--rename", "a"], None),
    (["--debug", "--watch", "--repair"], None),
    (["--debug", "--target=x", "--rename", "a", "b"], TUNNELS),
]

# Watch mode never creates the database (interimap.md §5.1): without one it
# stops before any tunnel starts. The reference says "DBI connect('dbname=PATH',
# '',...) failed: unable to open database file" (status 2); ours names the file
# and the reason, status 255 (docs/compatibility.md).
PROGRAM_WATCH_NO_DATABASE = [
    ["--watch"],
    ["--watch=30"],
    ["--notify"],
    ["--notify", "--watch=5"],
    ["-q", "--watch"],
    ["--debug", "--notify"],
]

PERL_AT = re.compile(r" at /\S+ line \d+\.$", re.M)
LOG_STAMP = re.compile(r"^[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d\.\d{1,6} ", re.M)


class Env:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="qrt-diff-")

    def prepare(self, tool, config):
        shutil.rmtree(self.root)
        for d in ("home/.config", "home/.local/share", "cfg", "data"):
            os.makedirs(os.path.join(self.root, d))
        cfg = os.path.join(self.root, "cfg", tool, "config")
        if config is not None:
            os.makedirs(os.path.dirname(cfg))
            with open(cfg, "w", encoding="utf-8") as f:
                f.write(config.replace("{root}", self.root))
        env = {"HOME": os.path.join(self.root, "home"), "PATH": "/usr/bin:/bin",
               "XDG_CONFIG_HOME": os.path.join(self.root, "cfg"),
               "XDG_DATA_HOME": os.path.join(self.root, "data"), "LC_ALL": "C.UTF-8"}
        return env, cfg

    def run(self, argv, tool, config, executable=None, lock=False):
        """Run argv (argv[0] as given, the file run is executable if set).
        lock: hold the default database locked (BEGIN EXCLUSIVE) meanwhile."""
        env, cfg = self.prepare(tool, config)
        holder = self.lock_database() if lock else None
        try:
            p = subprocess.run(argv, executable=executable, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=30)
        except subprocess.TimeoutExpired:
            return ("", "TIMEOUT", -1, cfg)
        finally:
            if holder is not None:
                holder.rollback()
                holder.close()
        return (p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
                p.returncode, cfg)

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def lock_database(self):
        os.makedirs(self.path("data", "interimap"), exist_ok=True)
        db = sqlite3.connect(self.path("data", "interimap", "localhost.db"),
                             isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")
        return db

    def read(self, *parts):
        try:
            with open(self.path(*parts), encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None


def normalise(out, err, rc):
    err = PERL_AT.sub("", err)
    lines = out.splitlines()
    if lines and " version " in lines[0]:
        out = lines[0].rsplit(" ", 1)[0] + "\n"
    if rc not in (0, 1):
        rc = 255
    return out, err, rc


class Tap:
    def __init__(self):
        self.n = self.failed = 0

    def result(self, ok, label, diag=()):
        self.n += 1
        self.failed += not ok
        print(f"{'ok' if ok else 'not ok'} {self.n} - {label}")
        for line in diag:
            print(f"#   {line}")


def label(what, tool, args, config):
    return f"{what}: {tool} {args!r}{' with config' if config is not None else ''}"


def run_driver_cases(env, tap):
    for tool, args, config in SAME:
        ref = normalise(*env.run([REF[tool]] + args, tool, config)[:3])
        ours = normalise(*env.run([DRIVER, tool] + args, tool, config)[:3])
        tap.result(ref == ours, label("same", tool, args, config),
                   () if ref == ours else (f"reference: {ref!r}", f"ours:      {ours!r}"))
    for tool, args, config, want_err, want_rc in EXPECTED_DIFFERENCES:
        ref = normalise(*env.run([REF[tool]] + args, tool, config)[:3])
        out, err, rc, cfg = env.run([DRIVER, tool] + args, tool, config)
        want = want_err.replace("{cfg}", cfg)
        ok = err == want and rc == want_rc and ref[1:] != (err, rc)
        diag = [f"reference: {ref[1]!r} status {ref[2]}"]
        if not ok:
            diag += [f"ours:      {err!r} status {rc}", f"wanted:    {want!r} {want_rc}"]
        tap.result(ok, f"differs: {tool} {args!r}", diag)


def run_program(env, args, config, lock=False):
    """The interimap program as /usr/bin/interimap (for --version's $0)."""
    return env.run([REF["interimap"]] + args, "interimap", config, executable=PROGRAM, lock=lock)


def program_same(env, tap, args, config):
    ref = normalise(*env.run([REF["interimap"]] + args, "interimap", config)[:3])
    ours = normalise(*run_program(env, args, config)[:3])
    tap.result(ref == ours, label("program same", "interimap", args, config),
               () if ref == ours else (f"reference: {ref!r}", f"ours:      {ours!r}"))


def run_program_cases(env, tap):
    for tool, args, config in SAME:
        if tool == "interimap":
            program_same(env, tap, args, config)
    for args, config in PROGRAM_SAME:
        program_same(env, tap, args, config)
    for tool, args, config, want_err, want_rc in EXPECTED_DIFFERENCES:
        if tool != "interimap":
            continue
        out, err, rc, cfg = run_program(env, args, config)
        want = want_err.replace("{cfg}", cfg)
        ok = err == want and rc == want_rc and out == ""
        tap.result(ok, f"program differs: {args!r}",
                   () if ok else (f"ours:   {err!r} status {rc}", f"wanted: {want!r} {want_rc}"))
    for args in PROGRAM_WATCH_NO_DATABASE:
        ref = normalise(*env.run([REF["interimap"]] + args, "interimap", TUNNELS)[:3])
        out, err, rc, _ = run_program(env, args, TUNNELS)
        db = env.path("data", "interimap", "localhost.db")
        want = f"{db}: unable to open database file (not created in watch mode)\n"
        if "--debug" in args:
            want += "Cleaning up...\n"
        created = os.path.exists(db)
        ok = ((out, err, rc, created) == ("", want, 255, False)
              and "unable to open database file" in ref[1] and ref[2] == 255)
        diag = [f"reference: {ref[1]!r} status {ref[2]}"]
        if not ok:
            diag += [f"ours:      {err!r} status {rc} database created: {created}"]
        tap.result(ok, f"program watch without database: {args!r}", diag)
    program_lock_cases(env, tap)


def program_lock_cases(env, tap):
    """The database is opened and locked before any server is contacted."""
    logged = "logfile = {root}/interimap.log\n" + TUNNELS
    for args, config in (([], TUNNELS), (["-q"], TUNNELS), (["--debug"], logged),
                         (["--repair"], TUNNELS), (["--delete", "x"], TUNNELS),
                         (["--target=database", "--delete", "x", "y"], TUNNELS),
                         (["--rename", "a", "b"], TUNNELS), (["--watch"], TUNNELS),
                         (["--notify"], TUNNELS), (["--debug", "--watch=5"], logged)):
        results = []
        for prog in (None, PROGRAM):
            out, err, rc, _ = env.run([REF["interimap"]] + args, "interimap", config,
                                      executable=prog, lock=True)
            log = env.read("interimap.log")
            results.append((out, PERL_AT.sub("", err), rc, log))
        ref, ours = results
        db = env.path("data", "interimap", "localhost.db")
        want_err = f"database is locked: {db}\n"
        ok = ("database is locked" in ref[1] and ref[2] != 0 and ours[:3] == ("", want_err, 255))
        if config == logged:
            # Both write the debug line "Cleaning up..." to the log file with the
            # reference's timestamp, and nothing else.
            ok = ok and LOG_STAMP.sub("TS ", ref[3] or "") == "TS Cleaning up...\n"
            ok = ok and LOG_STAMP.sub("TS ", ours[3] or "") == "TS Cleaning up...\n"
        tap.result(ok, f"program database locked: {args!r}",
                   () if ok else (f"reference: {ref!r}", f"ours:      {ours!r}"))


# pullimap cases only the program reproduces: the state file (pullimap.md §3), opened
# and locked before any connection (the configuration's tunnel is /bin/false, so a
# connection attempt would show) and read once the connection is set up (a fake
# PREAUTH server as the tunnel: no network).
FAKE_IMAP = r"""
import sys
out = sys.stdout.buffer
out.write(b"* PREAUTH [CAPABILITY IMAP4rev1 IDLE UIDPLUS] fake server ready\r\n")
out.flush()
for line in sys.stdin.buffer:
    tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
    cmd = rest.split(b" ", 1)[0].upper()
    if cmd == b"CAPABILITY":
        out.write(b"* CAPABILITY IMAP4rev1 IDLE UIDPLUS\r\n")
    elif cmd == b"LOGOUT":
        out.write(b"* BYE logging out\r\n")
    out.write(tag + b" OK done\r\n")
    out.flush()
    if cmd == b"LOGOUT":
        break
"""
FAKE = f"[acct]\ntype = tunnel\ncommand = {sys.executable} {{root}}/fakeimap.py\n"
TRAFFIC = re.compile(r"IMAP traffic \(bytes\): recv .* sent .*$", re.M)


def pull_run(env, argv, config, executable=None, setup=None):
    """Run pullimap (argv[0] as given) after setup(env) prepared the tree;
    whatever setup returns is closed afterwards (a lock holder)."""
    envvars, _ = env.prepare("pullimap", config)
    holder = setup(env) if setup is not None else None
    try:
        p = subprocess.run(argv, executable=executable, env=envvars, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=30)
        res = (p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace"),
               p.returncode)
    except subprocess.TimeoutExpired:
        res = ("", "TIMEOUT", -1)
    finally:
        if holder is not None:
            holder.close()
    return res


def state_path(env):
    return env.path("data", "pullimap", "acct")


def write_state(env, data):
    os.makedirs(env.path("data", "pullimap"), mode=0o700, exist_ok=True)
    with open(state_path(env), "wb") as f:
        f.write(data)


def lock_state(env):
    """Hold a POSIX record lock (fcntl F_SETLK, as the reference) on the state file."""
    write_state(env, bytes.fromhex("6b0af56100000008"))
    f = open(state_path(env), "r+b")
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return f


def corrupt_state(size):
    def setup(env):
        with open(env.path("fakeimap.py"), "w", encoding="utf-8") as f:
            f.write(FAKE_IMAP)
        write_state(env, bytes(range(1, size + 1)))
    return setup


def pull_compare(env, tap, what, args, config, setup=None, want=None, check=None):
    """Reference and program, normalised; want = our exact (stderr, status)."""
    results = []
    for prog in (None, PULLIMAP):
        out, err, rc = pull_run(env, [REF["pullimap"]] + args, config, prog, setup)
        extra = check(env) if check is not None else None
        results.append(normalise(out, PERL_AT.sub("", err), rc) + (extra,))
    ref, ours = results
    norm = [(r[0], TRAFFIC.sub("IMAP traffic (bytes): N", r[1]), r[2], r[3]) for r in results]
    ok = norm[0] == norm[1]
    if want is not None:
        wanted = (want[0].replace("{state}", state_path(env)), want[1])
        ok = ok and (ours[1], ours[2]) == wanted and ours[0] == ""
    tap.result(ok, f"pullimap program {what}: {args!r}",
               () if ok else (f"reference: {ref!r}", f"ours:      {ours!r}"))


def data_dir_state(env):
    """(mode of $XDG_DATA_HOME/pullimap, state file mode or None)."""
    d = env.path("data", "pullimap")
    mode = oct(os.stat(d).st_mode & 0o777) if os.path.isdir(d) else None
    f = state_path(env)
    return mode, oct(os.stat(f).st_mode & 0o777) if os.path.exists(f) else None


def run_pullimap_cases(env, tap):
    for tool, args, config in SAME:
        if tool == "pullimap":
            pull_compare(env, tap, "same", args, config)
    for tool, args, config, want_err, want_rc in EXPECTED_DIFFERENCES:
        if tool != "pullimap" or want_rc == 0:
            continue
        out, err, rc = pull_run(env, [REF["pullimap"]] + args, config, PULLIMAP)
        want = want_err.replace("{cfg}", env.path("cfg", "pullimap", "config"))
        ok = (out, err, rc) == ("", want, want_rc)
        tap.result(ok, f"pullimap program differs: {args!r}",
                   () if ok else (f"ours:   {err!r} status {rc}", f"wanted: {want!r} {want_rc}"))
    locked = ("Can't lock {state}: Resource temporarily unavailable\n", 255)
    for args in (["acct"], ["-q", "acct"], ["--debug", "acct"], ["--idle", "acct"],
                 ["--no-delivery", "--idle=30", "acct"]):
        pull_compare(env, tap, "state file locked", args, PULL, lock_state, locked)
    missing = ("Can't open {state}: No such file or directory\n", 255)
    for args in (["--idle", "acct"], ["-q", "--idle=60", "acct"], ["--debug", "--idle", "acct"]):
        pull_compare(env, tap, "no state file in idle mode", args, PULL, None, missing,
                     data_dir_state)
    for size, args in ((3, ["acct"]), (3, ["-q", "acct"]), (7, ["--no-delivery", "acct"]),
                       (3, ["--idle", "acct"])):
        pull_compare(env, tap, f"state file of {size} bytes", args, FAKE, corrupt_state(size))
    for args in (["acct"], ["-q", "acct"]):
        pull_compare(env, tap, "missing tunnel command", args, "[acct]\ntype = tunnel\n",
                     check=data_dir_state)


def main():
    if not all(os.access(p, os.X_OK) for p in REF.values()):
        print("1..0 # SKIP reference interimap/pullimap not installed")
        return 0
    env = Env()
    tap = Tap()
    try:
        run_driver_cases(env, tap)
        if PROGRAM is not None:
            run_program_cases(env, tap)
        if PULLIMAP is not None:
            run_pullimap_cases(env, tap)
    finally:
        shutil.rmtree(env.root, ignore_errors=True)
    print(f"1..{tap.n}")
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main())
