#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""sync-compare.py: interimap side by side, ours vs the Perl reference.

Every (run, scenario group, binary) gets a fresh rig (tests/rig): a Dovecot
daemon on 127.0.0.1 whose user `alice` is the REMOTE, reached over IMAPS
with COMPRESS=DEFLATE offered (and used: compress defaults to YES for
[remote]), and a tunnel store as the LOCAL, reached over a plain PREAUTH
tunnel without COMPRESS. The corpus (bench/corpus.py, seeded) is written
into the remote's Maildir, then interimap runs with a fresh database.

Scenarios (the Perl figures of issue 9, measured on the reference machine,
are printed under the table):
  1  initial sync of 5,000 messages in 20 mailboxes (remote full, local empty)
  2  no-op resync right after 1
  3  no-op resync of 200 small mailboxes (fresh rig, 5 messages each; the
     initial sync before it is not measured)
  4  resync after, on EACH side, 1% flag changes, 1% expunges and 1% new
     messages (made after 2 through IMAP, outside the timing)
  5  initial sync of one 50 MiB message (peak RSS is the figure)

Measured per interimap process: wall time (spawn to exit), user+sys CPU
and peak RSS from the wait4 rusage, taken by bench/procmeter (compiled on
the fly with cc; see there why Python cannot spawn it directly). The local
tunnel command is prefixed with `procmeter noreap` so that the Dovecot
imap process is never reaped by interimap: its CPU and RSS can never be
charged to a client that waits for its tunnel (Perl interimap does not).
This script is a child subreaper and reaps those processes itself.
Medians over --runs; runs interleave the binaries.

The rigs live on a tmpfs (/dev/shm, --tmpdir) by default: Dovecot's
fsyncs and the disk's writeback of earlier runs then do not drown the
client's own costs (on this machine's disk, scenario 1 varied 2.4-11 s
with the same CPU time). --tmpdir /tmp measures with the disk.

Usage (as root, from anywhere; no build needed for the Perl side):
  bench/sync-compare.py [--ours PATH] [--runs 3] [--quick] [--json FILE]
                        [--scenarios 1,2,3,4,5] [--binaries perl,ours]
"""

import argparse
import ctypes
import datetime
import glob
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import corpus  # noqa: E402  (also puts tests/rig on sys.path)
from qrrig import Rig, compare_dumps, missing_requirements  # noqa: E402
from qrrig.imap import sequence_set  # noqa: E402

PERL = "/usr/bin/interimap"
MBSYNC = "/usr/bin/mbsync"
OURS_DEFAULTS = ["/work/main/build/tools/interimap/interimap",
                 "/tmp/b-*/tools/interimap/interimap"]
USER, PASSWORD = "alice", "alice-Secret-1"

TITLES = {
    "1": "initial sync, {messages} msgs in {mailboxes} mailboxes",
    "2": "no-op resync right after",
    "3": "no-op resync, {many} mailboxes",
    "4": "resync after 1% flags/expunges/new each side",
    "5": "initial sync of one {big_mib} MiB message",
    "6": "initial sync, {big_messages} msgs in {mailboxes} mailboxes",
    "7": "no-op resync right after 6",
}
# Scenarios where the floor (bench/floor.c: fetch everything, append
# everything, no sync logic) is measured: the initial syncs.
FLOOR_SCENARIOS = {"1", "5", "6"}
# Perl interimap 0.5.7 on the reference machine (issue 9).
REFERENCE = {"1": "4.37 s wall, 0.69 s CPU", "2": "0.09 s wall", "3": "0.15 s wall",
             "4": "0.41 s wall", "5": "182 MiB peak RSS"}
GROUPS = [("A", ["1", "2", "4"]), ("B", ["3"]), ("C", ["5"]), ("D", ["6", "7"])]
# binaries: two interimaps, mbsync (isync), the floor client
KINDS = ("perl", "ours", "mbsync", "floor")


# --- processes -------------------------------------------------------------------

def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:    # PR_SET_CHILD_SUBREAPER
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def _stat(pid):
    """comm, state, ppid, session, own and reaped children's CPU seconds of
    PID from /proc/PID/stat (readable for a zombie too), or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            st = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    rest = st[st.rfind(")") + 2:].split()
    hz = os.sysconf("SC_CLK_TCK")
    return {"comm": st[st.find("(") + 1:st.rfind(")")], "state": rest[0],
            "ppid": int(rest[1]), "sid": int(rest[3]),
            "cpu": (int(rest[11]) + int(rest[12])) / hz,
            "children_cpu": (int(rest[13]) + int(rest[14])) / hz}


def _pids():
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def settle(keep, timeout=5.0):
    """Reap adopted orphans (tunnel imap processes, noreap helpers) until
    none but the pids in KEEP (daemon masters) remain, or TIMEOUT. Returns
    (pids still alive, CPU seconds of the reaped `imap` processes)."""
    deadline = time.monotonic() + timeout
    me = os.getpid()
    imap_cpu = 0.0
    while True:
        live = []
        for pid in _pids():
            st = _stat(pid)
            if st is None or st["ppid"] != me or pid in keep:
                continue
            if st["state"] == "Z":
                if st["comm"] == "imap":
                    imap_cpu += st["cpu"] + st["children_cpu"]
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
            else:
                live.append(pid)
        if not live or time.monotonic() > deadline:
            return live, imap_cpu
        time.sleep(0.005)


def daemon_cpu(master, timeout=3.0):
    """CPU seconds of the daemon's reaped children (its master's cutime +
    cstime), once no imap or imap-login process of its session is left
    (they exit when their client leaves), or after TIMEOUT."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [p for p in _pids() if (lambda st: st and st["sid"] == master and
                                       st["state"] != "Z" and
                                       st["comm"] in ("imap", "imap-login"))(_stat(p))]
        if not busy:
            break
        time.sleep(0.005)
    st = _stat(master)
    return st["children_cpu"] if st else None


def measure(meter, argv, env, log_path):
    """Run ARGV under `procmeter measure`; return wall/user/sys/cpu/maxrss
    and the exit status (see bench/procmeter.c for why a helper)."""
    out = log_path + ".meter"
    with open(log_path, "ab") as log:
        log.write(("\n$ " + " ".join(argv) + "\n").encode())
        log.flush()
        pid = os.posix_spawn(meter, [meter, "measure", out] + argv, env, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 1),
            (os.POSIX_SPAWN_DUP2, log.fileno(), 2)])
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise RuntimeError(f"procmeter failed ({status}); see {log_path}")
    with open(out) as f:
        wall_ns, user_us, sys_us, rss, own, children, st = (int(x) for x in f.read().split())
    os.unlink(out)
    hz = os.sysconf("SC_CLK_TCK")
    return {"wall_s": round(wall_ns / 1e9, 4), "user_s": round(user_us / 1e6, 4),
            "sys_s": round(sys_us / 1e6, 4), "cpu_s": round((user_us + sys_us) / 1e6, 4),
            "maxrss_kib": rss,
            "proc_own_cpu_s": None if own < 0 else round(own / hz, 3),
            "proc_children_cpu_s": None if children < 0 else round(children / hz, 3),
            "exit": os.waitstatus_to_exitcode(st)}


def build_floor(workdir):
    src = os.path.join(HERE, "floor.c")
    out = os.path.join(workdir, "floor")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    subprocess.run([cc, "-O2", "-o", out, src, "-lssl", "-lcrypto", "-lz"], check=True)
    return out


def build_procmeter(workdir):
    src = os.path.join(HERE, "procmeter.c")
    out = os.path.join(workdir, "procmeter")
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        raise SystemExit("sync-compare: no C compiler for bench/procmeter.c")
    subprocess.run([cc, "-O2", "-o", out, src], check=True)
    os.chmod(workdir, 0o755)
    return out


# --- binaries -------------------------------------------------------------------

def _build_info(binary):
    """buildtype and b_sanitize of the meson build holding BINARY, if any."""
    d = os.path.dirname(os.path.abspath(binary))
    while d != "/":
        info = os.path.join(d, "meson-info", "intro-buildoptions.json")
        if os.path.exists(info):
            try:
                with open(info) as f:
                    opts = {o["name"]: o["value"] for o in json.load(f)}
                return {"builddir": d, "buildtype": opts.get("buildtype"),
                        "b_sanitize": opts.get("b_sanitize")}
            except (OSError, ValueError, KeyError):
                return {"builddir": d}
        d = os.path.dirname(d)
    return {}


def find_ours():
    """The first existing default, preferring release builds without
    sanitizers (newest first among /tmp/b-*)."""
    cands = []
    for pat in OURS_DEFAULTS:
        hits = [p for p in glob.glob(pat) if os.access(p, os.X_OK)]
        hits.sort(key=lambda p: os.path.getmtime(p), reverse=True)
        cands += hits
    if not cands:
        return None

    def rank(p):
        i = _build_info(p)
        san = i.get("b_sanitize") not in (None, "none")
        return (san, i.get("buildtype") != "release")
    return min(cands, key=lambda p: (rank(p), cands.index(p)))


def version(binary):
    try:
        r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=20)
        return (r.stdout or r.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


# --- one rig ---------------------------------------------------------------------

class Bench:
    """A fresh rig (remote = daemon user over IMAPS+COMPRESS, local = tunnel
    store) and a configuration for BINARY of KIND (perl/ours: interimap;
    mbsync: an IMAP-IMAP channel; floor: bench/floor.c).

    The remote is reached through `procmeter proxy`, a byte-counting TCP
    relay (bytes on the wire = TLS records, each direction); the local
    tunnel's bytes are Dovecot's own "Logged out in=... out=..." line
    (the tunnel imap's stderr goes to a file through PROCMETER_STDERR)."""

    def __init__(self, kind, binary, meter, log_path, proxy=True):
        self.kind, self.binary, self.meter = kind, binary, meter
        self.rig = Rig()
        self.daemon = self.rig.daemon(users={USER: PASSWORD})
        self.remote = self.daemon.user(USER)
        self.local = self.rig.store("local")
        self.log_path = log_path
        home = os.path.join(self.rig.root, "client")
        os.makedirs(home)
        os.chmod(home, 0o755)
        self.counts = os.path.join(home, "proxy.counts")
        self.local_log = os.path.join(home, "local-imap.log")
        portfile = os.path.join(home, "proxy.port")
        self.direct = not proxy
        if self.direct:
            # timing runs: no relay (it changes some wall times, see
            # README.md); the remote bytes are not counted
            with open(portfile, "w") as f:
                f.write(f"{self.daemon.imaps_port}\n")
            argv = ["/bin/sleep", "1000000"]
        else:
            argv = [meter, "proxy", portfile, "127.0.0.1", str(self.daemon.imaps_port),
                    self.counts]
        self.proxy = subprocess.Popen(argv)
        deadline = time.monotonic() + 5
        while not (os.path.exists(portfile) and open(portfile).read().endswith("\n")):
            if time.monotonic() > deadline or self.proxy.poll() is not None:
                raise RuntimeError("procmeter proxy did not start")
            time.sleep(0.005)
        self.port = int(open(portfile).read())
        self.keep = {self.daemon.pid, self.proxy.pid}   # not orphans: never wait for them
        tunnel = (f"/usr/bin/env PROCMETER_STDERR={self.local_log} {meter} noreap "
                  f"{self.local.tunnel_command}")
        self.config = os.path.join(home, "config")
        if kind in ("perl", "ours"):
            with open(self.config, "w") as f:
                f.write(f"database = {home}/bench.db\n\n"
                        "[local]\ntype = tunnel\n"
                        f"command = {tunnel}\n"
                        "null-stderr = YES\n\n"
                        "[remote]\ntype = imaps\nhost = 127.0.0.1\n"
                        f"port = {self.port}\n"
                        f"username = {USER}\npassword = {PASSWORD}\n"
                        f"SSL_CAfile = {self.daemon.cafile}\ncompress = YES\n")
            self.argv = [binary, f"--config={self.config}"]
        elif kind == "mbsync":
            # The interimap setup, as an mbsync channel: both stores, all
            # mailboxes, flags, expunges both ways, mailboxes created both
            # ways (never removed), INTERNALDATE kept, state in the rig.
            # mbsync 1.4 uses COMPRESS=DEFLATE by itself when offered.
            state = os.path.join(home, "mbsync-state")
            os.makedirs(state)
            with open(self.config, "w") as f:
                f.write("IMAPAccount remote\nHost localhost\n"
                        f"Port {self.port}\nUser {USER}\nPass {PASSWORD}\n"
                        "SSLType IMAPS\nSystemCertificates no\n"
                        f"CertificateFile {self.daemon.cafile}\n\n"
                        f"IMAPAccount local\nTunnel \"{tunnel}\"\n\n"
                        "IMAPStore remote\nAccount remote\n\n"
                        "IMAPStore local\nAccount local\n\n"
                        "Channel bench\nFar :remote:\nNear :local:\nPatterns *\n"
                        "Sync All\nCreate Both\nRemove None\nExpunge Both\n"
                        f"CopyArrivalDate yes\nSyncState {state}/\n")
            self.argv = [binary, "-q", "-c", self.config, "-a"]
        else:
            remote = ["127.0.0.1", str(self.port), self.daemon.cafile, USER, PASSWORD]
            self.argv = [binary, "copy"] + remote + [tunnel]
            self.argv_fetch = [binary, "fetch"] + remote
        self.env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
                    "XDG_CONFIG_HOME": os.path.join(home, "config.d"),
                    "XDG_DATA_HOME": os.path.join(home, "data")}

    def _proxy_lines(self):
        try:
            with open(self.counts) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def _local_lines(self):
        try:
            with open(self.local_log, errors="replace") as f:
                return [l for l in f.read().splitlines() if "Logged out" in l or "Disconnected" in l]
        except FileNotFoundError:
            return []

    def sync(self):
        """One interimap run: its measures, plus the CPU seconds the two
        servers spent meanwhile (local: the tunnel imap process; remote:
        the daemon's imap and imap-login processes, TLS included)."""
        return self.run(self.argv)

    def run(self, argv, local=True):
        settle(self.keep)
        before = daemon_cpu(self.daemon.pid)
        n_proxy, n_local = len(self._proxy_lines()), len(self._local_lines())
        r = measure(self.meter, argv, self.env, self.log_path)
        left, local_cpu = settle(self.keep)
        after = daemon_cpu(self.daemon.pid)
        # bytes on the wire: remote from the proxy (one line per connection
        # closed since), local from Dovecot's logout line(s)
        deadline = time.monotonic() + (0 if self.direct else 3)
        while len(self._proxy_lines()) == n_proxy and time.monotonic() < deadline:
            time.sleep(0.005)
        up = down = 0
        for line in self._proxy_lines()[n_proxy:]:
            a, b = line.split()
            up, down = up + int(a), down + int(b)
        r["remote_sent_b"], r["remote_recv_b"] = up, down
        lin = lout = 0
        if local:
            deadline = time.monotonic() + 3
            while len(self._local_lines()) == n_local and time.monotonic() < deadline:
                time.sleep(0.005)
            for line in self._local_lines()[n_local:]:
                for tok in line.replace(",", " ").split():
                    if tok.startswith("in="):
                        lin += int(tok[3:])
                    elif tok.startswith("out="):
                        lout += int(tok[4:])
        # the client's view: sent to the local server = the server's "in"
        r["local_sent_b"], r["local_recv_b"] = lin, lout
        r["local_server_cpu_s"] = round(local_cpu, 3)
        r["remote_server_cpu_s"] = None if None in (before, after) else round(after - before, 3)
        if left:
            r["leftover_pids"] = left
        if r["exit"] != 0:
            raise RuntimeError(f"{self.binary} exited with {r['exit']}; see {self.log_path}")
        return r

    def close(self):
        settle(self.keep)
        self.proxy.kill()
        self.proxy.wait()
        self.rig.close()


def check_same(bench, light=False):
    """Local and remote hold the same messages (content, flags, dates).
    LIGHT: only counts and sizes (for the 50 MiB message)."""
    if light:
        def sizes(t):
            with t.session() as c:
                c.select("INBOX", readonly=True)
                res = c.command("UID", "FETCH", "1:*", "(RFC822.SIZE)")
                out = []
                for r in res.responses("FETCH"):
                    items = r.data[0]
                    d = {str(items[i]).upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}
                    out.append(int(d["RFC822.SIZE"]))
                return sorted(out)
        a, b = sizes(bench.local), sizes(bench.remote)
        if bench.kind == "mbsync":      # its X-TUID header: 22 bytes more
            a = [x - 22 for x in a]
        return [] if a == b and a else [f"INBOX sizes: local {a}, remote {b}"]
    a, b = bench.local.dump(), bench.remote.dump()
    if bench.kind == "mbsync":
        # mbsync 1.4 propagates the system flags only (no keywords) and no
        # subscriptions, and adds an "X-TUID: ..." header (22 bytes) to the
        # messages it copies: compare what it does sync (messages by
        # INTERNALDATE and system flags, not by content).
        for d in (a, b):
            for e in d.values():
                for m in e["messages"]:
                    m["flags"] = [f for f in m["flags"] if f.startswith("\\")]
                    m["sha256"], m["size"] = "-", 0
        return compare_dumps(a, b, subscriptions=False, names=("local", "remote"))
    if bench.kind == "floor":
        return compare_dumps(a, b, subscriptions=False, names=("local", "remote"))
    return compare_dumps(a, b, names=("local", "remote"))


# --- scenario 4 changes ------------------------------------------------------------

def _uids(c, mailbox):
    c.select(mailbox, condstore=False)
    res = c.command("UID", "FETCH", "1:*", "(UID FLAGS)")
    out = {}
    for r in res.responses("FETCH"):
        items = r.data[0]
        d = {str(items[i]).upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}
        out[int(d["UID"])] = [str(f) for f in d["FLAGS"]]
    return out


def make_changes(bench, gen, names, fraction, seed):
    """On each side: flag changes, expunges and new messages, each about
    FRACTION of the messages. Returns what was done."""
    sides = {"local": bench.local, "remote": bench.remote}
    # The initial sync copied in UID order, so position i of a mailbox is
    # the same message on both sides.
    with bench.remote.session() as c:
        counts = {m: len(_uids(c, m)) for m in names}
    positions = [(m, i) for m in names for i in range(counts[m])]
    total = len(positions)
    k = max(1, round(total * fraction))
    rng = random.Random(f"changes:{seed}")
    picked = rng.sample(positions, 4 * k)
    plan = {"local": (picked[0:k], picked[k:2 * k]), "remote": (picked[2 * k:3 * k], picked[3 * k:])}
    done = {"messages_before": total, "per_side": k}
    for side, target in sides.items():
        flag_pos, expunge_pos = plan[side]
        with target.session() as c:
            by_box = {}
            for m, i in flag_pos:
                by_box.setdefault(m, [[], []])[0].append(i)
            for m, i in expunge_pos:
                by_box.setdefault(m, [[], []])[1].append(i)
            for m, (fl, ex) in sorted(by_box.items()):
                flags = _uids(c, m)
                uids = sorted(flags)
                if len(uids) != counts[m]:
                    raise RuntimeError(f"{side} {m}: {len(uids)} messages, remote has {counts[m]}")
                for i in fl:
                    uid = uids[i]
                    cur = {f for f in flags[uid] if f.lower() != "\\recent"}
                    new = set(cur) ^ {"\\Seen"}
                    new ^= {rng.choice(["\\Flagged", "$label2", "todo", "\\Answered"])}
                    c.command("UID", "STORE", str(uid), "FLAGS.SILENT",
                              "(" + " ".join(sorted(new)) + ")")
                if ex:
                    seq = sequence_set([uids[i] for i in ex])
                    c.command("UID", "STORE", seq, "+FLAGS.SILENT", "(\\Deleted)")
                    c.command("UID", "EXPUNGE", seq)
        corpus.append_all(target, gen.extra(f"{side}:{seed}", names, k))
    return done


# --- the benchmark ---------------------------------------------------------------

def median_of(samples):
    keys = ("wall_s", "cpu_s", "user_s", "sys_s", "maxrss_kib", "local_server_cpu_s",
            "remote_server_cpu_s")
    byte_keys = ("remote_recv_b", "remote_sent_b", "local_recv_b", "local_sent_b")
    timed = [s for s in samples if not s.get("bytes_run")] or samples
    counted = [s for s in samples if s.get("bytes_run")]
    out = {}
    for k in keys:
        vals = [s[k] for s in timed if s.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    for k in byte_keys:
        vals = [s[k] for s in counted if s.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def run_group(group, kind, binary, meter, params, log_path, verify, proxy):
    """Fresh rig; the scenarios of GROUP for BINARY of KIND. Returns
    ({scenario: sample}, load info, verification notes). For the floor,
    only the initial syncs, and each also as "bare" (floor fetch: the same
    FETCH stream over TLS+COMPRESS, parsed and discarded)."""
    out, notes = {}, []
    b = Bench(kind, binary, meter, log_path, proxy)

    def initial(sc):
        out[sc] = b.sync()
        if kind == "floor":
            out[sc + "bare"] = b.run(b.argv_fetch, local=False)

    try:
        if group in ("A", "D"):
            n = params["messages"] if group == "A" else params["big_messages"]
            spec = corpus.Spec(params["seed"], n, params["mailboxes"])
            load = corpus.load(b.remote, spec)
            first, noop = ("1", "2") if group == "A" else ("6", "7")
            initial(first)
            if verify:
                notes += check_same(b)
            if kind != "floor" and noop in params["scenarios"]:
                out[noop] = b.sync()
            if group == "A" and kind != "floor" and "4" in params["scenarios"]:
                gen = corpus.Generator(spec)
                change = make_changes(b, gen, spec.mailbox_names(), 0.01, params["seed"])
                load["changes"] = change
                out["4"] = b.sync()
                if verify:
                    notes += check_same(b)
        elif group == "S":         # scaling: initial sync, then a no-op resync
            spec = corpus.Spec(params["seed"], params["s_messages"], params["s_mailboxes"],
                               layout=params["s_layout"])
            load = corpus.load(b.remote, spec)
            initial("init")
            if verify:
                notes += check_same(b)
            if kind != "floor":
                out["noop"] = b.sync()
        elif group == "B":
            spec = corpus.Spec(params["seed"], params["many"] * params["per_mailbox"],
                               params["many"], layout="uniform")
            load = corpus.load(b.remote, spec)
            load["initial_sync"] = b.sync()
            if verify:
                notes += check_same(b)
            out["3"] = b.sync()
        else:
            spec = corpus.Spec(params["seed"], big=params["big_mib"] * corpus.MIB)
            load = corpus.load(b.remote, spec)
            initial("5")
            if verify:
                notes += check_same(b, light=True)
    finally:
        b.close()
    return out, load, notes


def fmt_sample(m):
    if not m:
        return "-"
    return f"{m['wall_s']:.3f} s / {m['cpu_s']:.3f} s / {m['maxrss_kib'] / 1024:.1f} MiB"


def fmt_ratio(p, o):
    if not p or not o:
        return "-"

    def r(a, b):
        return f"{b / a:.2f}x" if a else "-"
    return f"{r(p['wall_s'], o['wall_s'])} / {r(p['cpu_s'], o['cpu_s'])} / " \
           f"{r(p['maxrss_kib'], o['maxrss_kib'])}"


def _kib(b):
    return "-" if b is None else f"{b / 1024:.0f}"


def print_table(results, titles, binaries):
    """One row per scenario and binary, then the ratios of ours."""
    cols = ("scenario", "binary", "wall s", "CPU s", "RSS MiB", "remote recv/sent KiB",
            "local recv/sent KiB")
    rows = [cols]
    for sc in sorted((k for k in results if k.isdigit()), key=int):
        for b in KINDS:
            m = results[sc].get(b, {}).get("median")
            if not m:
                continue
            label = b
            if b == "floor":
                label = "floor (fetch+append)"
            rows.append((f"{sc} {titles[sc]}", label, f"{m['wall_s']:.3f}", f"{m['cpu_s']:.3f}",
                         f"{m['maxrss_kib'] / 1024:.1f}",
                         f"{_kib(m['remote_recv_b'])} / {_kib(m['remote_sent_b'])}",
                         f"{_kib(m['local_recv_b'])} / {_kib(m['local_sent_b'])}"))
            bare = results.get(sc + "bare", {}).get("floor", {}).get("median") \
                if b == "floor" else None
            if bare:
                rows.append((f"{sc} {titles[sc]}", "bare fetch (TLS+inflate)", f"{bare['wall_s']:.3f}",
                             f"{bare['cpu_s']:.3f}", f"{bare['maxrss_kib'] / 1024:.1f}",
                             f"{_kib(bare['remote_recv_b'])} / {_kib(bare['remote_sent_b'])}", "-"))
    _print_rows(rows)
    print()
    rows = [("scenario", "ours/perl wall / CPU / RSS / bytes", "ours/mbsync wall / CPU / RSS / bytes",
             "ours/floor wall / CPU", "ours CPU / bare CPU")]

    def ratio(a, b, k):
        return f"{b[k] / a[k]:.2f}" if a and b and a.get(k) and b.get(k) is not None else "-"

    def wire(m):
        return None if not m else sum(m[k] or 0 for k in ("remote_recv_b", "remote_sent_b",
                                                          "local_recv_b", "local_sent_b"))

    for sc in sorted((k for k in results if k.isdigit()), key=int):
        med = {b: results[sc].get(b, {}).get("median") for b in KINDS}
        o = med["ours"]
        if not o:
            continue
        cells = [f"{sc} {titles[sc]}"]
        for peer in ("perl", "mbsync"):
            p_ = med[peer]
            wb = f"{wire(o) / wire(p_):.2f}" if p_ and wire(p_) else "-"
            cells.append(" / ".join([ratio(p_, o, "wall_s"), ratio(p_, o, "cpu_s"),
                                     ratio(p_, o, "maxrss_kib"), wb]))
        f = med["floor"]
        cells.append(f"{ratio(f, o, 'wall_s')} / {ratio(f, o, 'cpu_s')}")
        bare = results.get(sc + "bare", {}).get("floor", {}).get("median")
        cells.append(ratio(bare, o, "cpu_s"))
        rows.append(tuple(cells))
    _print_rows(rows)
    print("\nbytes ratio: all four directions added (remote recv+sent, local recv+sent)")
    print("Perl reference on the reference machine (issue 9): " +
          "; ".join(f"({k}) {v}" for k, v in REFERENCE.items() if k in results))


def _print_rows(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


SCALING = [  # (series, messages, mailboxes, layout)
    ("messages", 1000, 20, "realistic"), ("messages", 5000, 20, "realistic"),
    ("messages", 20000, 20, "realistic"),
    ("mailboxes", 5000, 20, "uniform"), ("mailboxes", 5000, 200, "uniform"),
    ("mailboxes", 5000, 2000, "uniform"),
]


def run_scaling(args, binaries, meter, params, log_path):
    """--scaling: initial sync and no-op resync against the corpus size
    (1,000 / 5,000 / 20,000 messages in 20 mailboxes) and the mailbox
    count (5,000 messages spread evenly over 20 / 200 / 2,000), direct
    connections (no byte counting), --runs runs (default 1), medians."""
    rows = [("series", "messages", "mailboxes", "binary", "initial wall s", "initial CPU s",
             "initial RSS MiB", "no-op wall s", "no-op CPU s")]
    doc = []
    sizes = SCALING
    if args.quick:
        sizes = [(s_, m // 10, n if n <= 20 else n // 10, l) for s_, m, n, l in SCALING]
    for series, msgs, boxes, layout in sizes:
        params.update(s_messages=msgs, s_mailboxes=boxes, s_layout=layout)
        for b, path in binaries.items():
            got_all = []
            for run in range(params["runs"]):
                t0 = time.monotonic()
                try:
                    got, _, diffs = run_group("S", b, path, meter, params, log_path,
                                              args.verify != "none" and run == 0, proxy=False)
                except Exception as e:
                    print(f"scaling {msgs}/{boxes} {b}: FAILED: {e}", flush=True)
                    continue
                if diffs:
                    print(f"VERIFY FAILED ({b}, {msgs}/{boxes}): " + "; ".join(diffs[:3]))
                got_all.append(got)
                print(f"scaling {series} {msgs} msgs / {boxes} mailboxes {b} run {run + 1}: " +
                      ", ".join(f"{k} {v['wall_s']:.3f} s wall {v['cpu_s']:.3f} s CPU "
                                f"{v['maxrss_kib'] / 1024:.1f} MiB" for k, v in got.items()) +
                      f" [{time.monotonic() - t0:.1f} s]", flush=True)
            if not got_all:
                continue
            med = {k: median_of([g[k] for g in got_all if k in g])
                   for k in ("init", "noop", "initbare") if any(k in g for g in got_all)}
            doc.append({"series": series, "messages": msgs, "mailboxes": boxes,
                        "layout": layout, "binary": b, "median": med,
                        "samples": got_all})
            i, n = med.get("init"), med.get("noop")
            rows.append((series, str(msgs), str(boxes), b, f"{i['wall_s']:.3f}",
                         f"{i['cpu_s']:.3f}", f"{i['maxrss_kib'] / 1024:.1f}",
                         f"{n['wall_s']:.3f}" if n else "-", f"{n['cpu_s']:.3f}" if n else "-"))
            if "initbare" in med:
                x = med["initbare"]
                rows.append((series, str(msgs), str(boxes), "bare fetch", f"{x['wall_s']:.3f}",
                             f"{x['cpu_s']:.3f}", f"{x['maxrss_kib'] / 1024:.1f}", "-", "-"))
    print()
    _print_rows(rows)
    return doc


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", help="our interimap (default: " + ", ".join(OURS_DEFAULTS) + ")")
    p.add_argument("--perl", default=PERL, help=f"the reference (default {PERL})")
    p.add_argument("--binaries", default="perl,ours,mbsync,floor",
                   help="which to run (default perl,ours,mbsync,floor; mbsync: Debian's isync)")
    p.add_argument("--mbsync", default=MBSYNC, help=f"mbsync (default {MBSYNC})")
    p.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 run, 500 msgs/10 mailboxes, 40 small mailboxes, 5 MiB")
    p.add_argument("--scenarios", default="1,2,3,4,5,6,7",
                   help="default 1,2,3,4,5,6,7 (6, 7: the --big-messages corpus)")
    p.add_argument("--big-messages", type=int,
                   help="messages of scenario 6 (default 20000; 2000 with --quick)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--messages", type=int)
    p.add_argument("--mailboxes", type=int)
    p.add_argument("--many", type=int, help="mailboxes of scenario 3 (default 200)")
    p.add_argument("--per-mailbox", type=int, default=5, help="messages per mailbox in 3")
    p.add_argument("--big-mib", type=int, help="size of the message of 5 (default 50)")
    p.add_argument("--verify", choices=("none", "first", "all"), default="first",
                   help="compare local and remote after syncs (default: first run only)")
    p.add_argument("--tmpdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where the rigs live (default /dev/shm, a tmpfs; else $TMPDIR)")
    p.add_argument("--scaling", action="store_true",
                   help="the scaling table instead of the scenarios (default 1 run)")
    p.add_argument("--no-bytes", action="store_true",
                   help="skip run 0 (bytes on the wire through a counting relay)")
    p.add_argument("--json", help="write the results as JSON to this path")
    p.add_argument("--log", help="interimap output (default: a temp file, path printed)")
    args = p.parse_args(argv)

    missing = missing_requirements(daemon=True)
    if missing:
        print("sync-compare: cannot run: " + "; ".join(missing), file=sys.stderr)
        return 77
    q = args.quick
    params = {"seed": args.seed, "runs": args.runs or (1 if q or args.scaling else 3),
              "messages": args.messages or (500 if q else 5000),
              "mailboxes": args.mailboxes or (10 if q else 20),
              "many": args.many or (40 if q else 200), "per_mailbox": args.per_mailbox,
              "big_mib": args.big_mib or (5 if q else 50),
              "big_messages": args.big_messages or (2000 if q else 20000),
              "scenarios": [s.strip() for s in args.scenarios.split(",") if s.strip()],
              "quick": q}
    titles = {k: v.format(**params) for k, v in TITLES.items()}

    binaries = {}
    want = [b.strip() for b in args.binaries.split(",")]
    notes = []
    if "perl" in want:
        binaries["perl"] = args.perl
    if "ours" in want:
        ours = args.ours or find_ours()
        if ours and os.access(ours, os.X_OK):
            binaries["ours"] = os.path.abspath(ours)
        else:
            notes.append("our interimap not found " +
                         (f"({args.ours})" if args.ours else "(" + ", ".join(OURS_DEFAULTS) + ")") +
                         ": Perl reference only")
    if "mbsync" in want:
        if os.access(args.mbsync, os.X_OK):
            binaries["mbsync"] = args.mbsync
        else:
            notes.append(f"{args.mbsync} not found (apt-get install isync): no mbsync")
    if "floor" in want:
        binaries["floor"] = "floor"      # built below
    for n in notes:
        print("NOTE: " + n)
    info = {b: {"path": path, "version": version(path), **_build_info(path)}
            for b, path in binaries.items() if b != "floor"}
    for b, i in info.items():
        extra = f" ({i.get('buildtype')}, sanitize={i.get('b_sanitize')})" if "buildtype" in i else ""
        print(f"{b}: {i['path']} - {i['version']}{extra}")
        if i.get("buildtype") not in (None, "release") or i.get("b_sanitize") not in (None, "none"):
            print(f"WARNING: {b} is not a release build without sanitizers")

    if args.tmpdir:
        os.environ["QR_RIG_TMPDIR"] = args.tmpdir
    params["tmpdir"] = args.tmpdir or tempfile.gettempdir()
    become_subreaper()
    work = tempfile.mkdtemp(prefix="qrbench-")
    meter = build_procmeter(work)
    if "floor" in binaries:
        binaries["floor"] = build_floor(work)
        info["floor"] = {"path": "bench/floor.c", "version": "cc -O2, OpenSSL + zlib"}
    log_path = args.log or os.path.join(work, "interimap.log")
    print(f"interimap output: {log_path}" +
          ("" if args.log else " (removed at the end unless something failed)"))

    if args.scaling:
        t_start = time.monotonic()
        doc = run_scaling(args, binaries, meter, params, log_path)
        print(f"total time {time.monotonic() - t_start:.0f} s")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"date": datetime.datetime.now(datetime.timezone.utc)
                           .isoformat(timespec="seconds"), "binaries": info,
                           "params": params, "scaling": doc}, f, indent=2)
        return 0
    for sc in list(params["scenarios"]):
        if sc in FLOOR_SCENARIOS:
            params["scenarios"].append(sc + "bare")
    titles.update({k + "bare": titles[k] + " (bare fetch)" for k in FLOOR_SCENARIOS})
    results = {sc: {} for sc in params["scenarios"] if sc in titles}
    samples = {sc: {b: [] for b in binaries} for sc in results}
    loads, verification, failures = [], [], []
    t_start = time.monotonic()
    load_start = os.getloadavg()
    # Run 0 counts the bytes on the wire (the remote through the relay
    # `procmeter proxy`) and verifies the stores; its times are not used.
    # Runs 1..N connect directly and are the timed ones.
    first_run = 1 if args.no_bytes else 0
    for run in range(first_run, params["runs"] + 1):
        for group, scs in GROUPS:
            if not any(sc in results for sc in scs):
                continue
            for b, path in binaries.items():
                if b == "floor" and not any(sc in FLOOR_SCENARIOS and sc in results for sc in scs):
                    continue
                verify = args.verify == "all" or (args.verify == "first" and run == first_run)
                t0 = time.monotonic()
                try:
                    got, load, diffs = run_group(group, b, path, meter, params, log_path, verify,
                                                 proxy=run == 0)
                except Exception as e:     # a crash of one binary: go on with the rest
                    failures.append({"run": run, "group": group, "binary": b,
                                     "error": str(e)})
                    print(f"run {run} group {group} {b}: FAILED: {e}", flush=True)
                    continue
                for sc, s in got.items():
                    s["bytes_run"] = run == 0
                    if sc in samples:
                        samples[sc][b].append(s)
                loads.append({"run": run, "group": group, "binary": b, **load})
                if verify:
                    verification.append({"run": run, "group": group, "binary": b,
                                         "ok": not diffs, "diffs": diffs[:20]})
                    if diffs:
                        print(f"VERIFY FAILED ({b}, group {group}): " + "; ".join(diffs[:5]))
                shown = ", ".join(f"{sc}: {s['wall_s']:.3f} s wall {s['cpu_s']:.3f} s CPU "
                                  f"{s['maxrss_kib'] / 1024:.1f} MiB (servers' CPU: local "
                                  f"{s['local_server_cpu_s']:.2f} s, remote "
                                  f"{s['remote_server_cpu_s'] or 0:.2f} s)"
                                  for sc, s in got.items())
                print(f"run {run} group {group} {b}: load {load['total_s']:.2f} s; {shown} "
                      f"[{time.monotonic() - t0:.1f} s]", flush=True)
    for sc in results:
        for b in binaries:
            if samples[sc][b]:
                results[sc][b] = {"median": median_of(samples[sc][b]), "samples": samples[sc][b]}

    print()
    print_table(results, titles, binaries)
    maildir_loads = [l for l in loads if l.get("method") == "maildir" and l["group"] == "A"]
    if maildir_loads:
        ml = maildir_loads[0]
        print(f"corpus load (maildir files + index), scenario 1 corpus: {ml['messages']} msgs, "
              f"{ml['bytes'] / corpus.MIB:.1f} MiB, median "
              f"{statistics.median(l['total_s'] for l in maildir_loads):.2f} s "
              f"(write {statistics.median(l['write_s'] for l in maildir_loads):.2f} s, "
              f"index {statistics.median(l['index_s'] for l in maildir_loads):.2f} s, "
              f"generate {statistics.median(l['generate_s'] for l in maildir_loads):.2f} s)")
    print(f"total time {time.monotonic() - t_start:.0f} s; load average at start "
          f"{load_start[0]:.2f}, at end {os.getloadavg()[0]:.2f} (other work on the "
          "machine disturbs the wall times)")
    if args.json:
        doc = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                           "loadavg_start": load_start, "loadavg_end": os.getloadavg(),
                           "python": platform.python_version(),
                           "dovecot": subprocess.run(["dovecot", "--version"], capture_output=True,
                                                     text=True).stdout.strip()},
               "setup": "remote: Dovecot daemon user over IMAPS on 127.0.0.1 with COMPRESS=DEFLATE; "
                        "local: tunnel store (PREAUTH, no COMPRESS); fresh rig per run, group, binary",
               "params": params, "titles": titles, "binaries": info, "notes": notes,
               "reference_issue9_perl": REFERENCE, "results": results, "loads": loads,
               "verification": verification, "failures": failures}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"JSON: {args.json}")
    bad = [v for v in verification if not v["ok"]]
    if failures:
        print(f"{len(failures)} group(s) failed: see above and {log_path}")
    if not bad and not failures and not args.log:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if bad or failures else 0


if __name__ == "__main__":
    sys.exit(main())
