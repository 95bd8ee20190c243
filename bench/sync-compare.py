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
OURS_DEFAULTS = ["/work/main/build/tools/interimap/interimap",
                 "/tmp/b-*/tools/interimap/interimap"]
USER, PASSWORD = "alice", "alice-Secret-1"

TITLES = {
    "1": "initial sync, {messages} msgs in {mailboxes} mailboxes",
    "2": "no-op resync right after",
    "3": "no-op resync, {many} mailboxes",
    "4": "resync after 1% flags/expunges/new each side",
    "5": "initial sync of one {big_mib} MiB message",
}
# Perl interimap 0.5.7 on the reference machine (issue 9).
REFERENCE = {"1": "4.37 s wall, 0.69 s CPU", "2": "0.09 s wall", "3": "0.15 s wall",
             "4": "0.41 s wall", "5": "182 MiB peak RSS"}
GROUPS = [("A", ["1", "2", "4"]), ("B", ["3"]), ("C", ["5"])]


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
    store) and an interimap configuration for BINARY."""

    def __init__(self, binary, meter, log_path):
        self.binary, self.meter = binary, meter
        self.rig = Rig()
        self.daemon = self.rig.daemon(users={USER: PASSWORD})
        self.remote = self.daemon.user(USER)
        self.local = self.rig.store("local")
        self.log_path = log_path
        home = os.path.join(self.rig.root, "client")
        os.makedirs(home)
        self.config = os.path.join(home, "config")
        with open(self.config, "w") as f:
            f.write(f"database = {home}/bench.db\n\n"
                    "[local]\ntype = tunnel\n"
                    f"command = {meter} noreap {self.local.tunnel_command}\n"
                    "null-stderr = YES\n\n"
                    "[remote]\ntype = imaps\nhost = 127.0.0.1\n"
                    f"port = {self.daemon.imaps_port}\n"
                    f"username = {USER}\npassword = {PASSWORD}\n"
                    f"SSL_CAfile = {self.daemon.cafile}\ncompress = YES\n")
        self.env = {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8",
                    "XDG_CONFIG_HOME": os.path.join(home, "config.d"),
                    "XDG_DATA_HOME": os.path.join(home, "data")}

    def sync(self):
        """One interimap run: its measures, plus the CPU seconds the two
        servers spent meanwhile (local: the tunnel imap process; remote:
        the daemon's imap and imap-login processes, TLS included)."""
        settle({self.daemon.pid})
        before = daemon_cpu(self.daemon.pid)
        r = measure(self.meter, [self.binary, f"--config={self.config}"], self.env, self.log_path)
        left, local_cpu = settle({self.daemon.pid})
        after = daemon_cpu(self.daemon.pid)
        r["local_server_cpu_s"] = round(local_cpu, 3)
        r["remote_server_cpu_s"] = None if None in (before, after) else round(after - before, 3)
        if left:
            r["leftover_pids"] = left
        if r["exit"] != 0:
            raise RuntimeError(f"{self.binary} exited with {r['exit']}; see {self.log_path}")
        return r

    def close(self):
        settle({self.daemon.pid})
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
        return [] if a == b and a else [f"INBOX sizes: local {a}, remote {b}"]
    return compare_dumps(bench.local.dump(), bench.remote.dump(), names=("local", "remote"))


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
    out = {}
    for k in keys:
        vals = [s[k] for s in samples if s.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def run_group(group, binary, meter, params, log_path, verify):
    """Fresh rig; the scenarios of GROUP for BINARY. Returns
    ({scenario: sample}, load info, verification notes)."""
    out, notes = {}, []
    b = Bench(binary, meter, log_path)
    try:
        if group == "A":
            spec = corpus.Spec(params["seed"], params["messages"], params["mailboxes"])
            load = corpus.load(b.remote, spec)
            out["1"] = b.sync()
            if verify:
                notes += check_same(b)
            out["2"] = b.sync()
            if "4" in params["scenarios"]:
                gen = corpus.Generator(spec)
                change = make_changes(b, gen, spec.mailbox_names(), 0.01, params["seed"])
                load["changes"] = change
                out["4"] = b.sync()
                if verify:
                    notes += check_same(b)
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
            out["5"] = b.sync()
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


def print_table(results, titles, binaries):
    rows = [("scenario", "Perl wall / CPU / RSS", "ours wall / CPU / RSS",
             "ratio ours/Perl (wall/CPU/RSS)")]
    for sc in sorted(results):
        med = {b: results[sc][b]["median"] if results[sc].get(b) else None for b in ("perl", "ours")}
        rows.append((f"{sc} {titles[sc]}", fmt_sample(med["perl"]), fmt_sample(med["ours"]),
                     fmt_ratio(med["perl"], med["ours"])))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for n, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    print("\nPerl reference on the reference machine (issue 9): " +
          "; ".join(f"({k}) {v}" for k, v in REFERENCE.items() if k in results))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ours", help="our interimap (default: " + ", ".join(OURS_DEFAULTS) + ")")
    p.add_argument("--perl", default=PERL, help=f"the reference (default {PERL})")
    p.add_argument("--binaries", default="perl,ours", help="which to run (default perl,ours)")
    p.add_argument("--runs", type=int, default=None, help="runs per scenario (default 3; 1 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 run, 500 msgs/10 mailboxes, 40 small mailboxes, 5 MiB")
    p.add_argument("--scenarios", default="1,2,3,4,5")
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
    p.add_argument("--json", help="write the results as JSON to this path")
    p.add_argument("--log", help="interimap output (default: a temp file, path printed)")
    args = p.parse_args(argv)

    missing = missing_requirements(daemon=True)
    if missing:
        print("sync-compare: cannot run: " + "; ".join(missing), file=sys.stderr)
        return 77
    q = args.quick
    params = {"seed": args.seed, "runs": args.runs or (1 if q else 3),
              "messages": args.messages or (500 if q else 5000),
              "mailboxes": args.mailboxes or (10 if q else 20),
              "many": args.many or (40 if q else 200), "per_mailbox": args.per_mailbox,
              "big_mib": args.big_mib or (5 if q else 50),
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
    for n in notes:
        print("NOTE: " + n)
    info = {b: {"path": path, "version": version(path), **_build_info(path)}
            for b, path in binaries.items()}
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
    log_path = args.log or os.path.join(work, "interimap.log")
    print(f"interimap output: {log_path}" +
          ("" if args.log else " (removed at the end unless something failed)"))

    results = {sc: {} for sc in params["scenarios"] if sc in TITLES}
    samples = {sc: {b: [] for b in binaries} for sc in results}
    loads, verification, failures = [], [], []
    t_start = time.monotonic()
    load_start = os.getloadavg()
    for run in range(params["runs"]):
        for group, scs in GROUPS:
            if not any(sc in results for sc in scs):
                continue
            for b, path in binaries.items():
                verify = args.verify == "all" or (args.verify == "first" and run == 0)
                t0 = time.monotonic()
                try:
                    got, load, diffs = run_group(group, path, meter, params, log_path, verify)
                except Exception as e:     # a crash of one binary: go on with the rest
                    failures.append({"run": run + 1, "group": group, "binary": b,
                                     "error": str(e)})
                    print(f"run {run + 1} group {group} {b}: FAILED: {e}", flush=True)
                    continue
                for sc, s in got.items():
                    if sc in samples:
                        samples[sc][b].append(s)
                loads.append({"run": run + 1, "group": group, "binary": b, **load})
                if verify:
                    verification.append({"run": run + 1, "group": group, "binary": b,
                                         "ok": not diffs, "diffs": diffs[:20]})
                    if diffs:
                        print(f"VERIFY FAILED ({b}, group {group}): " + "; ".join(diffs[:5]))
                shown = ", ".join(f"{sc}: {s['wall_s']:.3f} s wall {s['cpu_s']:.3f} s CPU "
                                  f"{s['maxrss_kib'] / 1024:.1f} MiB (servers' CPU: local "
                                  f"{s['local_server_cpu_s']:.2f} s, remote "
                                  f"{s['remote_server_cpu_s'] or 0:.2f} s)"
                                  for sc, s in got.items())
                print(f"run {run + 1} group {group} {b}: load {load['total_s']:.2f} s; {shown} "
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
