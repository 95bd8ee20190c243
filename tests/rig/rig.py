#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rig.py: start and stop real Dovecot servers for libqresync tests.

  rig.py run [OPTIONS] -- COMMAND ARGS...   start, export QR_RIG_*, run, stop
  rig.py start [OPTIONS] [--json]           start and leave running; print env
  rig.py stop DIR                           stop a started rig by pid, remove DIR
  rig.py env DIR [--json]                   print a started rig's env again
  rig.py mail [--dir DIR] TARGET ACTION ... manipulate a store or daemon user
  rig.py demo                               a short self-demonstration

Exit status of run: the command's (128+N if killed by signal N); 77 (or
--skip-exit) without running it when Dovecot is missing or we are not
root; 99 if the servers could not be started; 1 if they could not be
stopped cleanly after a successful command. See README.md.
"""

import argparse
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import qrrig  # noqa: E402
from qrrig import Rig, RigError, compare_dumps, make_message  # noqa: E402

HARD_ERROR = 99


# --- options shared by run and start ----------------------------------------------

def add_setup_options(p):
    p.add_argument("--stores", type=int, default=0, metavar="N",
                   help="number of tunnel stores (store0..storeN-1)")
    p.add_argument("--separator", default="/", metavar="SEPS",
                   help="hierarchy separator: one character for every store, or one "
                        "per store (e.g. '/.' makes store0 '/' and store1 '.')")
    p.add_argument("--capability", metavar="LIST",
                   help="explicit imap_capability for the stores (space or comma separated)")
    p.add_argument("--drop-capability", metavar="LIST",
                   help="remove these from Dovecot's default list for the stores "
                        "(e.g. 'LITERAL+,MULTIAPPEND')")
    p.add_argument("--compress", action="store_true",
                   help="stores offer COMPRESS=DEFLATE (imap_zlib)")
    p.add_argument("--daemon", action="store_true",
                   help="start a Dovecot daemon (IMAP+STARTTLS, IMAPS, LMTP on 127.0.0.1)")
    p.add_argument("--users", metavar="LIST",
                   help="daemon users, comma separated NAME or NAME:PASSWORD "
                        "(default alice:alice-Secret-1)")
    p.add_argument("--daemon-separator", default="/", metavar="C",
                   help="hierarchy separator of the daemon's users")
    p.add_argument("--plaintext-auth", action="store_true",
                   help="daemon: disable_plaintext_auth = no")
    p.add_argument("--no-daemon-compress", action="store_true",
                   help="daemon without imap_zlib (no COMPRESS=DEFLATE)")
    p.add_argument("--skip-exit", type=int, default=qrrig.SKIP, metavar="N",
                   help="exit status when Dovecot is missing (default 77)")


def _split_list(text):
    return [x for x in re.split(r"[\s,]+", text or "") if x]


def _users(text):
    if not text:
        return None
    users = {}
    for item in _split_list(text):
        name, _, password = item.partition(":")
        users[name] = password or f"{name}-Secret-1"
    return users


def setup(args, detached=False):
    """Build a Rig as the options say."""
    seps = args.separator
    if len(seps) not in (1, max(args.stores, 1)):
        raise RigError(f"--separator {seps!r}: give 1 or {args.stores} characters")
    rig = Rig(detached=detached)
    try:
        for i in range(args.stores):
            rig.store(f"store{i}", separator=seps[i] if len(seps) > 1 else seps,
                      capabilities=_split_list(args.capability) if args.capability else None,
                      drop_capabilities=_split_list(args.drop_capability) or None,
                      compress=args.compress)
        if args.daemon:
            rig.daemon("daemon0", users=_users(args.users), compress=not args.no_daemon_compress,
                       separator=args.daemon_separator, plaintext_auth=args.plaintext_auth)
        rig.save()
    except BaseException:
        rig.close()
        raise
    return rig


def skip_reason(args):
    missing = qrrig.missing_requirements(daemon=args.daemon)
    if missing:
        print(f"1..0 # SKIP {'; '.join(missing)}", flush=True)
        print(f"rig.py: skipped: {'; '.join(missing)}", file=sys.stderr)
    return missing


# --- run / start / stop / env ------------------------------------------------------

def cmd_run(args):
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("rig.py run: no command given (rig.py run [OPTIONS] -- COMMAND ARGS...)",
              file=sys.stderr)
        return 2
    if skip_reason(args):
        return args.skip_exit
    state = {"child": None, "signal": None}

    def on_signal(signum, frame):
        state["signal"] = signum
        if state["child"] is None:
            raise SystemExit(128 + signum)
        try:
            os.kill(state["child"].pid, signum)
        except ProcessLookupError:
            pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        rig = setup(args)
    except RigError as e:
        print(f"rig.py: cannot start the servers: {e}", file=sys.stderr)
        return HARD_ERROR
    status = HARD_ERROR
    try:
        env = dict(os.environ)
        env.update(rig.environment())
        try:
            state["child"] = subprocess.Popen(command, env=env)
        except OSError as e:
            print(f"rig.py: {command[0]}: {e}", file=sys.stderr)
            return 127
        status = state["child"].wait()
        if status < 0:
            status = 128 - status
    finally:
        try:
            rig.close()
        except RigError as e:
            print(f"rig.py: cleanup failed: {e}", file=sys.stderr)
            if status == 0:
                status = 1
    if state["signal"] is not None and status == 0:
        status = 128 + state["signal"]
    return status


def cmd_start(args):
    if skip_reason(args):
        return args.skip_exit
    try:
        rig = setup(args, detached=True)
    except RigError as e:
        print(f"rig.py: cannot start the servers: {e}", file=sys.stderr)
        return HARD_ERROR
    rig.detach()
    print_env(rig, args.json)
    print(f"# stop with: {shlex.quote(sys.argv[0])} stop {rig.root}", file=sys.stderr)
    return 0


def print_env(rig, as_json):
    if as_json:
        desc = rig.describe()
        desc["stores"] = [s.describe() for s in rig.stores.values()]
        desc["daemons"] = [d.describe() for d in rig.daemons.values()]
        desc["env"] = rig.environment()
        print(json.dumps(desc, indent=2))
    else:
        for k, v in rig.environment().items():
            print(f"export {k}={shlex.quote(v)}")


def load(directory):
    if not directory:
        raise RigError("no rig folder: give --dir DIR or set QR_RIG_DIR")
    if not os.path.exists(os.path.join(directory, "rig.json")):
        raise RigError(f"{directory}: not a rig folder (no rig.json)")
    return Rig.load(directory)


def cmd_stop(args):
    rig = load(args.dir)
    rig.close()
    print(f"stopped {rig.root}" + (" (kept)" if rig.keep else ""))
    return 0


def cmd_env(args):
    print_env(load(args.dir), args.json)
    return 0


# --- mail: by-hand manipulation -----------------------------------------------------

def resolve_target(rig, target):
    """A store name, DAEMON[:USER], or a user name of the first daemon."""
    if target in rig.stores:
        return rig.stores[target]
    name, _, user = target.partition(":")
    if name in rig.daemons:
        return rig.daemons[name].user(user or None)
    for d in rig.daemons.values():
        if target in d.users:
            return d.users[target]
        break
    raise RigError(f"no store, daemon or user {target!r} in {rig.root}")


def parse_date(text):
    """--date: Unix seconds, ISO 8601 or IMAP form (see qrrig.imap_date)."""
    if text is None:
        return None
    return int(text) if text.isdigit() else text


def read_input(path):
    if path in (None, "-"):
        return sys.stdin.buffer.read()
    with open(path, "rb") as f:
        return f.read()


def cmd_mail(args):
    rig = load(args.dir)
    t = resolve_target(rig, args.target)
    a = args.action
    if a == "list":
        print(json.dumps(t.list_mailboxes(), indent=2))
    elif a in ("create", "delete", "subscribe", "unsubscribe"):
        for name in args.names:
            getattr(t, a)(name)
    elif a == "rename":
        t.rename(args.old, args.new)
    elif a == "append":
        print(t.append(args.mailbox, read_input(args.file), args.flags or (),
                       parse_date(args.date)))
    elif a == "flags":
        {"set": t.set_flags, "add": t.add_flags,
         "remove": t.remove_flags}[args.op](args.mailbox, args.uids, args.flags)
    elif a == "expunge":
        t.expunge(args.mailbox, args.uids)
    elif a == "status":
        print(json.dumps(t.status(args.mailbox), indent=2))
    elif a == "body":
        sys.stdout.buffer.write(t.body(args.mailbox, args.uid))
    elif a == "dump":
        print(json.dumps(t.dump(), indent=2, sort_keys=True))
    elif a == "compare":
        diffs = compare_dumps(t.dump(), resolve_target(rig, args.other).dump(),
                              ignore_uids=not args.keep_uids,
                              internaldate=not args.no_internaldate, flags=not args.no_flags,
                              subscriptions=not args.no_subscriptions,
                              names=(args.target, args.other))
        for line in diffs:
            print(line)
        return 1 if diffs else 0
    elif a == "deliver":
        if not hasattr(t, "daemon"):
            raise RigError("deliver needs a daemon user as TARGET")
        for code, text in t.daemon.deliver(args.rcpt or t.name, read_input(args.file)):
            print(code, text.decode("utf-8", "replace").replace("\n", " "))
    return 0


def add_mail_parser(sub):
    p = sub.add_parser("mail", help="manipulate a store or a daemon user (by hand)",
                       description="TARGET: a store name (store0...), DAEMON[:USER] "
                                   "(daemon0:alice), or a user of the first daemon.")
    p.add_argument("--dir", default=os.environ.get("QR_RIG_DIR"),
                   help="rig folder (default $QR_RIG_DIR)")
    p.add_argument("target")
    acts = p.add_subparsers(dest="action", required=True)
    acts.add_parser("list", help="mailboxes as JSON")
    for name in ("create", "delete", "subscribe", "unsubscribe"):
        acts.add_parser(name).add_argument("names", nargs="+", metavar="MAILBOX")
    r = acts.add_parser("rename")
    r.add_argument("old")
    r.add_argument("new")
    ap = acts.add_parser("append", help="append a message (FILE or stdin); prints the UID")
    ap.add_argument("mailbox")
    ap.add_argument("file", nargs="?")
    ap.add_argument("--flags", type=str.split, help="space-separated flags/keywords")
    ap.add_argument("--date", help="INTERNALDATE: ISO 8601, Unix seconds or IMAP form")
    fl = acts.add_parser("flags", help="set/add/remove flags of UIDs")
    fl.add_argument("op", choices=["set", "add", "remove"])
    fl.add_argument("mailbox")
    fl.add_argument("uids", help="UID set, e.g. 1,3:5")
    fl.add_argument("flags", nargs="*")
    ex = acts.add_parser("expunge", help="expunge UIDs")
    ex.add_argument("mailbox")
    ex.add_argument("uids")
    st = acts.add_parser("status")
    st.add_argument("mailbox")
    bd = acts.add_parser("body", help="raw message to stdout")
    bd.add_argument("mailbox")
    bd.add_argument("uid", type=int)
    acts.add_parser("dump", help="full state as JSON")
    cp = acts.add_parser("compare", help="differences with OTHER; exit 1 if any")
    cp.add_argument("other")
    cp.add_argument("--keep-uids", action="store_true", help="UIDs/UIDVALIDITY must match")
    cp.add_argument("--no-internaldate", action="store_true")
    cp.add_argument("--no-flags", action="store_true")
    cp.add_argument("--no-subscriptions", action="store_true")
    dl = acts.add_parser("deliver", help="LMTP delivery to a daemon user (FILE or stdin)")
    dl.add_argument("file", nargs="?")
    dl.add_argument("--rcpt", help="recipient (default: the TARGET user)")


# --- demo ------------------------------------------------------------------------

def cmd_demo(args):
    """Two throw-away stores synchronised by interimap, when QR_DEMO_INTERIMAP
    names the program (tests/demo.sh sets it to the built one); else the
    rig's own self-demonstration."""
    program = os.environ.get("QR_DEMO_INTERIMAP")
    if program:
        return _demo_interimap(program)
    print("interimap is not built (QR_DEMO_INTERIMAP unset): showing the test rig itself.\n"
          "Try the Perl reference with QR_DEMO_INTERIMAP=/usr/bin/interimap.\n")
    return _demo_rig()


# Sample mail of the interimap demo: (store, mailbox, subject, flags, date).
DEMO_MAIL = [
    ("local", "INBOX", "Lunch on Friday?", ["\\Seen"], "2026-11-02T12:01:00Z"),
    ("local", "INBOX", "Quarterly numbers", ["\\Flagged", "$Work"], "2026-11-03T08:30:00Z"),
    ("local", "Work/Reports", "Report for week 44", ["\\Seen", "$Label1"],
     "2026-11-04T17:45:00Z"),
    ("remote", "INBOX", "Welcome to your new mailbox", ["\\Seen"], "2026-11-01T07:00:00Z"),
    ("remote", "INBOX", "Invoice 2026-11", ["\\Seen", "$Label2"], "2026-11-05T10:15:00Z"),
    ("remote", "Lists/dev", "[dev] release 1.0 is out", [], "2026-11-06T21:40:00Z"),
]


def _demo_interimap(program):
    """Sync two tunnel stores with PROGRAM three times, showing its output."""
    import datetime  # only the demo needs these two
    import hashlib
    if not os.access(program, os.X_OK) or os.path.isdir(program):
        print(f"demo: QR_DEMO_INTERIMAP={program}: not an executable program", file=sys.stderr)
        return 1
    missing = qrrig.missing_requirements(daemon=False)
    if missing:
        print(f"demo skipped: {'; '.join(missing)}")
        return qrrig.SKIP
    t0 = time.monotonic()
    failed = False
    with Rig() as rig:
        stores = {"local": rig.store("store0"), "remote": rig.store("store1", separator=".")}
        env = rig.environment()
        print(f"interimap       {program}")
        print(f"rig folder      {rig.root}")
        print("local  store0   a Dovecot Maildir, hierarchy separator '/'")
        print("remote store1   a Dovecot Maildir, hierarchy separator '.'")
        local, remote = stores["local"], stores["remote"]
        subjects, uids = {}, {}  # sha256 of a sample message -> subject; subject -> UID

        def message(subject, body, date):
            when = datetime.datetime.fromisoformat(date.replace("Z", "+00:00"))
            msg = make_message(subject, body, date=when)
            subjects[hashlib.sha256(msg).hexdigest()] = subject
            return msg

        for side, mailbox, subject, flags, date in DEMO_MAIL:
            st = stores[side]
            name = mailbox.replace("/", st.separator)
            if name != "INBOX" and name not in (m["name"] for m in st.list_mailboxes()):
                st.create(name)
                st.subscribe(name)
            msg = message(subject, f"{subject}\n\nA sample message of the interimap demo.\n",
                          date)
            uids[subject] = st.append(name, msg, flags=flags, date=date)
        print("\nSample mail, before the first run:")
        _demo_show(stores, subjects)

        conf = os.path.join(rig.root, "interimap.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write("# interimap demo: two throw-away Dovecot stores, reached as tunnels\n"
                    f"database = {rig.root}/interimap.db\n\n"
                    "[local]\ntype = tunnel\n"
                    f"command = {env['QR_RIG_STORE0_COMMAND']}\nnull-stderr = YES\n\n"
                    "[remote]\ntype = tunnel\n"
                    f"command = {env['QR_RIG_STORE1_COMMAND']}\nnull-stderr = YES\n")
        print(f"\nConfiguration {conf}:")
        with open(conf, encoding="utf-8") as f:
            for line in f:
                print("    " + line.rstrip("\n"))
        run_env = dict(os.environ, XDG_CONFIG_HOME=rig.root, XDG_DATA_HOME=rig.root)

        def run(title):
            print(f"\n== {title}\n$ interimap --config={conf}")
            try:
                res = subprocess.run([program, f"--config={conf}"], env=run_env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     timeout=300)
            except (OSError, subprocess.TimeoutExpired) as e:
                print(f"    demo: {e}")
                return False
            for line in res.stdout.decode("utf-8", "replace").splitlines():
                print("    " + line)
            if res.returncode != 0:
                print(f"    (exit status {res.returncode})")
            return res.returncode == 0

        failed = not run("First run: every mailbox and message goes to the other side")
        if not failed:
            local.add_flags("INBOX", uids["Lunch on Friday?"], ["\\Answered"])
            new = message("Meeting moved to 3pm", "See you there.\n", "2026-11-07T09:05:00Z")
            remote.append("INBOX", new, flags=[], date="2026-11-07T09:05:00Z")
            print("\nlocal:  \\Answered added to 'Lunch on Friday?'"
                  "\nremote: a new message 'Meeting moved to 3pm' arrives in INBOX")
            failed = not run("Second run: only what changed travels")
        if not failed:
            quarterly = _demo_uid(remote, "INBOX", subjects, "Quarterly numbers")
            local.remove_flags("INBOX", uids["Quarterly numbers"], ["$Work"])
            local.add_flags("INBOX", uids["Quarterly numbers"], ["\\Seen"])
            remote.add_flags("INBOX", quarterly, ["$Label1"])
            print("\nlocal:  'Quarterly numbers' gets \\Seen and loses $Work"
                  "\nremote: the same message gets $Label1"
                  "\nBoth sides changed it: a conflict. Each side ends with the union of "
                  "both lists,\nso $Work, removed on one side only, stays.")
            failed = not run("Third run: a conflict ends with the union of both flag lists")

        print("\nBoth stores now:")
        _demo_show(stores, subjects)
        diffs = local.compare(remote, names=("local", "remote"))
        for line in diffs:
            print("  differs: " + line)
        if not diffs:
            print("local and remote agree: same mailboxes, subscriptions, messages, flags "
                  "and dates")
    print(f"\nstopped everything; folder removed: {not os.path.exists(rig.root)}; "
          f"{time.monotonic() - t0:.2f} s")
    return 1 if failed or diffs else 0


def _demo_uid(store, mailbox, subjects, subject):
    """The UID of the sample message SUBJECT in STORE's MAILBOX."""
    for m in store.messages(mailbox):
        if subjects.get(m["sha256"]) == subject:
            return m["uid"]
    raise RigError(f"{subject!r} not found in {mailbox}")


def _demo_show(stores, subjects):
    """Every message of both stores, side by side: mailbox, subject, flags
    ('-': no flags; blank: not in that store)."""
    rows = []
    for side, st in stores.items():
        for name, box in st.dump().items():
            path = "/".join(name.split(box["delimiter"])) if box["delimiter"] else name
            for m in box["messages"]:
                subject = subjects.get(m["sha256"], f"(sha256 {m['sha256'][:12]})")
                rows.append((path, subject, side, " ".join(m["flags"]) or "-"))
    table = {}
    for path, subject, side, flags in rows:
        table.setdefault((path, subject), {})[side] = flags
    head = ("mailbox", "message", "local flags", "remote flags")
    lines = [(path, subject, f.get("local", ""), f.get("remote", ""))
             for (path, subject), f in sorted(table.items())]
    widths = [max(len(x[i]) for x in [head] + lines) + 2 for i in range(3)]
    for line in [head] + lines:
        print(("  " + "".join(x.ljust(w) for x, w in zip(line, widths)) + line[3]).rstrip())
    print("  ('-': no flags; blank: not in that store)")


def _demo_rig():
    missing = qrrig.missing_requirements(daemon=True)
    if missing:
        print(f"demo skipped: {'; '.join(missing)}")
        return qrrig.SKIP
    t0 = time.monotonic()
    with Rig() as rig:
        a = rig.store("store0")
        b = rig.store("store1", separator=".", compress=True,
                      drop_capabilities=["LITERAL+"])
        d = rig.daemon()
        print(f"rig folder      {rig.root}")
        print(f"store0 tunnel   {a.tunnel_command}")
        print(f"store1 tunnel   {b.tunnel_command}  (separator '.', COMPRESS, no LITERAL+)")
        print(f"daemon          pid {d.pid}, IMAP {d.imap_port}, IMAPS {d.imaps_port}, "
              f"LMTP {d.lmtp_port}, CA {d.cafile}")

        for s in (a, b):
            s.create(f"Work{s.separator}Reports")
            s.subscribe(f"Work{s.separator}Reports")
            s.append("INBOX", make_message("hello"), flags=["\\Seen"], date=1577934245)
            s.append(f"Work{s.separator}Reports", make_message("report", "numbers\n"),
                     flags=["$Label1"], date=1577934246)
        uid = a.append("INBOX", make_message("only in store0"))
        print(f"\nstore0: 3 messages added; store1: 2 (store0 INBOX UID {uid} is extra)")

        with d.connect("imaps") as c:
            greeting = c.greeting.raw.decode().strip()
            print(f"IMAPS greeting (TLS verified, host localhost): {greeting}")
            c.login(d.user().name, d.user().password)
            print(f"IMAPS after LOGIN: COMPRESS=DEFLATE "
                  f"{'advertised' if 'COMPRESS=DEFLATE' in c.capability() else 'MISSING'}")
        with d.connect("imap") as c:
            before = sorted(c.capabilities)
            after = c.starttls(d.ssl_context())
            auth_before = " ".join(x for x in before if "TLS" in x or "AUTH" in x)
            auth_after = " ".join(sorted(x for x in after if "AUTH" in x))
            print(f"plain port before STARTTLS: {auth_before}")
            print(f"plain port after STARTTLS:  {auth_after}")
        d.deliver(d.user().name, make_message("via LMTP"))
        print(f"LMTP delivery: {d.user().name}'s INBOX holds "
              f"{len(d.user().messages('INBOX'))} message(s)")

        print("\nstore0 state:")
        print(json.dumps(a.dump(), indent=2, sort_keys=True))
        print("\nstore0 vs store1:")
        for line in a.compare(b, names=("store0", "store1")):
            print("  " + line)
        extra = a.messages("INBOX")[-1]
        b.append("INBOX", a.body("INBOX", uid), flags=extra["flags"], date=extra["internaldate"])
        diffs = a.compare(b)
        print(f"after copying the extra message: {'equal' if not diffs else diffs}")
        leftovers = d.processes()
    after = [p for p in leftovers if qrrig.system.alive(p)]
    print(f"\nstopped everything ({len(leftovers)} daemon processes, {len(after)} left); "
          f"folder removed: {not os.path.exists(rig.root)}; {time.monotonic() - t0:.2f} s")
    return 0 if not after and not diffs else 1


# --- main ------------------------------------------------------------------------

def main(argv=None):
    p = argparse.ArgumentParser(prog="rig.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="start servers, run COMMAND with QR_RIG_* set, stop")
    add_setup_options(r)
    r.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS...")
    s = sub.add_parser("start", help="start servers and leave them running")
    add_setup_options(s)
    s.add_argument("--json", action="store_true", help="print a JSON description")
    st = sub.add_parser("stop", help="stop a started rig (by pid) and remove its folder")
    st.add_argument("dir")
    e = sub.add_parser("env", help="print the QR_RIG_* variables of a started rig")
    e.add_argument("dir")
    e.add_argument("--json", action="store_true")
    add_mail_parser(sub)
    sub.add_parser("demo", help="short self-demonstration (a few seconds)")
    args = p.parse_args(argv)
    try:
        return {"run": cmd_run, "start": cmd_start, "stop": cmd_stop, "env": cmd_env,
                "mail": cmd_mail, "demo": cmd_demo}[args.cmd](args)
    except RigError as e:
        print(f"rig.py: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
