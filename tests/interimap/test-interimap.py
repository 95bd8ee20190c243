#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""interimap against real Dovecot: two-way synchronisation scenarios.

    test-interimap.py [BINARY] [--group G]... [--case NAME]... [--list]

BINARY is the interimap under test (default: $QR_INTERIMAP); it may be the
Perl reference /usr/bin/interimap itself, which is how the expectations
were proven. Cases marked "ours only" (the APPEND journal after SIGKILL,
peak RSS with a 100 MiB message, sorted processing order) are skipped for
the reference. Groups (one meson test each): sync, mailboxes, errors,
interop, faults. Needs root and Dovecot (tests/rig); otherwise prints
`1..0 # SKIP reason`. Prints TAP, one line per check.

Every case builds fresh tunnel stores (tests/interimap/harness.py), runs
the binary with a private HOME, and checks exact outcomes: exit status,
stderr lines (as a multiset: the reference visits mailboxes in Perl hash
order; traffic statistics are counted, not compared), both stores, and the
database rows. Cases marked "differential" are run a second time on twin
stores with the Perl reference, and the normalised outcomes must match
(stderr lines sorted, database path and traffic lines removed, UIDVALIDITY
and database indices left out).

Environment: QR_ITEST_SELFDIFF=1 also runs the differential part when the
binary is the reference (a self-test of the normalisation);
QR_ITEST_FORCE=1 runs "ours only" cases with the reference too (expect
them to fail where the reference is known to be weaker).
"""
import calendar
import os
import sqlite3
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402
from harness import (CUT_TUNNEL, PYTHON, REFERENCE, Ctx, Harness, Skip,  # noqa: E402
                     Trace, diff_text, msg, schema_problems, sha, trace_diff)
from qrrig.imap import mutf7_encode  # noqa: E402

GROUPS = ("sync", "mailboxes", "errors", "interop", "faults")
CASES = []


class Case:
    def __init__(self, name, group, func, ours_only=None, differential=False):
        self.name, self.group, self.func = name, group, func
        self.ours_only, self.differential = ours_only, differential


def case(name, group, ours_only=None, differential=False):
    def deco(func):
        CASES.append(Case(name, group, func, ours_only, differential))
        return func
    return deco


# --- common expectations --------------------------------------------------------------

def expect_run(ctx, r, lines, rc=0, what="", traffic=2, any_order=False):
    """Exit status RC, empty stdout, stderr = LINES (any order) plus TRAFFIC
    statistics lines (local first, then remote, unless ANY_ORDER: the
    reference's --delete/--rename exit through Perl's global destruction)."""
    sfx = f" ({what})" if what else ""
    ctx.check(r.rc == rc, f"exit status {rc}{sfx}", r.describe())
    ctx.check(sorted(r.info()) == sorted(lines), f"stderr lines{sfx}",
              diff_text(sorted(r.info()), sorted(lines)) + "\n" + r.describe())
    got = [ln.split(":")[0] for ln in r.traffic()]
    want = ["local", "remote"][:traffic] if traffic else []
    if any_order:
        got = sorted(got)
    ctx.check(got == want, f"traffic statistics lines{sfx}", r.describe())
    ctx.check(r.stdout == "", f"nothing on stdout{sfx}", r.stdout)


def expect_schema(ctx, db):
    ctx.check(db is not None and not schema_problems(db), "database schema is §5.2's",
              "no database" if db is None else "\n".join(schema_problems(db)))


def mapping(db, name):
    for idx, (n, _s, _t) in db["mailboxes"].items():
        if n == name:
            return db["mapping"].get(idx, [])
    return None


def subscribed_rows(db):
    return {n: s for n, s, _t in db["mailboxes"].values()}


def messages(st, name):
    """[(uid, flags tuple)] of a mailbox in a state()."""
    return [(m[0], m[2]) for m in st[name]["messages"]]


D = ["2020-01-02T03:04:05Z", "2019-12-31T23:59:59Z", "2021-06-07T08:09:10Z",
     "2018-03-04T05:06:07Z", "2022-02-02T22:22:22Z"]


# --- group sync: messages, flags, expunges (differential) ------------------------------------

@case("initial-local-to-remote", "sync", differential=True)
def c_initial_l2r(h, ctx, mk):
    p = mk()
    p.add("local", "INBOX", "i1", flags=["\\Seen"], date=D[0])
    p.add("local", "INBOX", "i2", flags=["\\Flagged", "$Label1"], date=D[1])
    p.add("local", "INBOX", "i3", date=D[2])
    p.create("local", "Work")
    p.add("local", "Work", "w1", flags=["\\Answered", "\\Seen"], date=D[3])
    p.add("local", "Work", "w2", date=D[4])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox Work",
                        "remote: Created mailbox Work",
                        "remote(INBOX): Added 3 UID(s) 1:3 -> 1:3",
                        "remote(Work): Added 2 UID(s) 1:2 -> 1:2"])
    st, db = p.states(), p.db()
    expect_schema(ctx, db)
    p.compare(ctx, states=st, db=db)
    ctx.equal(messages(st["remote"], "INBOX"),
              [(1, ("\\Seen",)), (2, ("$Label1", "\\Flagged")), (3, ())], "remote INBOX flags")
    ctx.equal([m[3] for m in st["remote"]["INBOX"]["messages"]], D[:3],
              "INTERNALDATEs copied")
    ctx.equal(mapping(db, "INBOX"), [(1, 1), (2, 2), (3, 3)], "INBOX mapping rows")
    ctx.equal(mapping(db, "Work"), [(1, 1), (2, 2)], "Work mapping rows")
    ctx.equal(subscribed_rows(db), {"INBOX": 0, "Work": 0}, "mailboxes rows")
    ctx.check(os.stat(p.db_path).st_mode & 0o777 == 0o600, "database file mode 0600",
              oct(os.stat(p.db_path).st_mode))


@case("initial-remote-to-local", "sync", differential=True)
def c_initial_r2l(h, ctx, mk):
    p = mk()
    p.add("remote", "INBOX", "r1", flags=["\\Seen", "\\Answered"], date=D[0])
    p.add("remote", "INBOX", "r2", date=D[1])
    p.add("remote", "INBOX", "r3", flags=["$Forwarded"], date=D[2])
    p.create("remote", "Work")
    p.subscribe("remote", "Work")
    p.add("remote", "Work", "w1", date=D[3])
    p.add("remote", "Work", "w2", flags=["\\Draft"], date=D[4])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox Work",
                        "local: Created mailbox Work",
                        "local: Subscribe to Work",
                        "local(INBOX): Added 3 UID(s) 1:3 <- 1:3",
                        "local(Work): Added 2 UID(s) 1:2 <- 1:2"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(messages(st["local"], "INBOX"),
              [(1, ("\\Answered", "\\Seen")), (2, ()), (3, ("$Forwarded",))],
              "local INBOX flags")
    ctx.equal(subscribed_rows(db), {"INBOX": 0, "Work": 1}, "mailboxes rows (subscribed)")
    ctx.equal(mapping(db, "Work"), [(1, 1), (2, 2)], "Work mapping rows")


@case("capabilities-no-multiappend-compress", "sync", differential=True)
def c_caps(h, ctx, mk):
    p = mk(remote_drop=["MULTIAPPEND", "LITERAL+"], local_drop=["LITERAL+"],
           local_compress=True, remote_compress=True)
    p.configure(local={"compress": "YES"})
    p.add("local", "INBOX", "c1", date=D[0], size=40000)
    p.add("local", "INBOX", "c2", flags=["\\Seen"], date=D[1])
    p.add("local", "INBOX", "c3", date=D[2], size=70000)
    p.add("remote", "INBOX", "c4", flags=["\\Flagged"], date=D[3], size=30000)
    p.add("remote", "INBOX", "c5", date=D[4])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "local(INBOX): Added 2 UID(s) 4:5 <- 1:2",   # local has MULTIAPPEND
                        "remote(INBOX): Added 1 UID(s) 1 -> 3",
                        "remote(INBOX): Added 1 UID(s) 2 -> 4",
                        "remote(INBOX): Added 1 UID(s) 3 -> 5"])
    ctx.check(all("(compr. " in ln for ln in r.traffic()) and len(r.traffic()) == 2,
              "both traffic lines show compression", r.describe())
    p.compare(ctx)


def initial(ctx, p, side, tags, flags=None, mailbox="INBOX"):
    """Add TAGS to SIDE's MAILBOX (FLAGS[i] each) and synchronise once."""
    for i, t in enumerate(tags):
        p.add(side, mailbox, t, flags=(flags[i] if flags else ()), date=D[i % len(D)])
    r = p.run()
    ctx.require(r.rc == 0, "initial synchronisation", r.describe())
    return r


@case("new-messages-both-sides", "sync", differential=True)
def c_new_both(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["n1", "n2"])
    p.add("local", "INBOX", "n3", flags=["\\Seen"], date=D[2])
    p.add("local", "INBOX", "n4", date=D[3])
    p.add("remote", "INBOX", "n5", flags=["\\Flagged"], date=D[4])
    r = p.run()
    expect_run(ctx, r, ["local(INBOX): Added 1 UID(s) 5 <- 3",
                        "remote(INBOX): Added 2 UID(s) 3:4 -> 4:5"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(mapping(db, "INBOX"), [(1, 1), (2, 2), (3, 4), (4, 5), (5, 3)], "mapping rows")
    ctx.equal(messages(st["local"], "INBOX")[-1], (5, ("\\Flagged",)), "flags of the copy")


@case("flag-changes-both-sides", "sync", differential=True)
def c_flags(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["f1", "f2", "f3", "f4"],
            [(), ["\\Seen"], ["$Label1", "\\Seen"], ["\\Flagged"]])
    p.flags_add("local", "INBOX", 1, ["\\Flagged"])
    p.flags_remove("local", "INBOX", 2, ["\\Seen"])
    p.flags_add("remote", "INBOX", 3, ["\\Answered"])
    p.flags_set("remote", "INBOX", 4, ["\\Seen"])
    r = p.run()
    expect_run(ctx, r, ["remote(INBOX): Updated flags (\\Flagged) for UID 1",
                        "remote(INBOX): Updated flags () for UID 2",
                        "local(INBOX): Updated flags ($Label1 \\Answered \\Seen) for UID 3",
                        "local(INBOX): Updated flags (\\Seen) for UID 4"])
    st = p.states()
    p.compare(ctx, states=st)
    ctx.equal(messages(st["remote"], "INBOX"),
              [(1, ("\\Flagged",)), (2, ()), (3, ("$Label1", "\\Answered", "\\Seen")),
               (4, ("\\Seen",))], "remote flags")
    # the same flag change on both sides is no conflict and needs no STORE
    p.flags_add("local", "INBOX", 2, ["\\Draft"])
    p.flags_add("remote", "INBOX", 2, ["\\Draft"])
    r = p.run()
    expect_run(ctx, r, [], what="same change on both sides")
    p.compare(ctx, "consistent after the same change on both sides")


@case("flag-conflicts", "sync", differential=True)
def c_conflict(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["x1", "x2", "x3"],
            [["\\Seen"], ["\\Answered", "\\Seen"], ["\\Seen"]])
    p.flags_add("local", "INBOX", 1, ["\\Flagged"])
    p.flags_add("remote", "INBOX", 1, ["$Label1"])
    p.flags_remove("local", "INBOX", 2, ["\\Seen"])
    p.flags_add("remote", "INBOX", 2, ["\\Flagged"])
    p.flags_set("local", "INBOX", 3, [])
    p.flags_set("remote", "INBOX", 3, ["\\Deleted"])
    r = p.run()
    w = ("WARNING: Conflicting flag update in INBOX for local UID {l} ({lf}) and remote UID {r} "
         "({rf}). Setting both to the union ({u}).")
    expect_run(ctx, r, [
        w.format(l=1, lf="\\Flagged \\Seen", r=1, rf="$Label1 \\Seen",
                 u="$Label1 \\Flagged \\Seen"),
        "local(INBOX): Updated flags ($Label1 \\Flagged \\Seen) for UID 1",
        "remote(INBOX): Updated flags ($Label1 \\Flagged \\Seen) for UID 1",
        w.format(l=2, lf="\\Answered", r=2, rf="\\Answered \\Flagged \\Seen",
                 u="\\Answered \\Flagged \\Seen"),
        "local(INBOX): Updated flags (\\Answered \\Flagged \\Seen) for UID 2",
        w.format(l=3, lf="", r=3, rf="\\Deleted", u="\\Deleted"),
        "local(INBOX): Updated flags (\\Deleted) for UID 3"])
    # remote UIDs 2 and 3 already hold the union: the STORE changes nothing
    # there, the server reports nothing, so nothing is logged (§12.5)
    st = p.states()
    p.compare(ctx, states=st)
    ctx.equal(messages(st["local"], "INBOX"),
              [(1, ("$Label1", "\\Flagged", "\\Seen")),
               (2, ("\\Answered", "\\Flagged", "\\Seen")), (3, ("\\Deleted",))],
              "both sides hold the union")


@case("keywords", "sync", differential=True)
def c_keywords(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["k1", "k2", "k3"],
            [["$Forwarded", "NonJunk"], ["work-item", "\\Seen"], ["$MDNSent", "$Junk"]])
    st = p.states()
    ctx.equal(messages(st["remote"], "INBOX"),
              [(1, ("$Forwarded", "NonJunk")), (2, ("\\Seen", "work-item")),
               (3, ("$Junk", "$MDNSent"))], "keywords copied with the messages")
    p.flags_add("remote", "INBOX", 1, ["Later"])
    p.flags_remove("local", "INBOX", 2, ["work-item"])
    p.flags_set("local", "INBOX", 3, ["$NotJunk", "Project-X"])
    r = p.run()
    expect_run(ctx, r, ["local(INBOX): Updated flags ($Forwarded Later NonJunk) for UID 1",
                        "remote(INBOX): Updated flags (\\Seen) for UID 2",
                        "remote(INBOX): Updated flags ($NotJunk Project-X) for UID 3"])
    p.compare(ctx)


@case("expunges-both-sides", "sync", differential=True)
def c_expunge(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["e1", "e2", "e3", "e4", "e5"])
    p.expunge("local", "INBOX", [1, 4])
    p.expunge("remote", "INBOX", [3, 4])
    r = p.run()
    expect_run(ctx, r, ["remote(INBOX): Removed 1 UID(s) 1",
                        "local(INBOX): Removed 1 UID(s) 3"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(mapping(db, "INBOX"), [(2, 2), (5, 5)], "mapping rows left")
    ctx.equal([m[0] for m in st["local"]["INBOX"]["messages"]], [2, 5], "local UIDs left")
    # expunge everything on one side
    p.expunge("remote", "INBOX", [2, 5])
    r = p.run()
    expect_run(ctx, r, ["local(INBOX): Removed 2 UID(s) 2,5"], what="expunge all")
    st, db = p.states(), p.db()
    p.compare(ctx, "consistent after expunging everything", states=st, db=db)
    ctx.equal(mapping(db, "INBOX"), [], "no mapping rows left")


@case("expunge-vs-flag-change", "sync", differential=True)
def c_expunge_flags(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["v1", "v2", "v3"])
    p.expunge("local", "INBOX", 1)
    p.flags_add("remote", "INBOX", 1, ["\\Flagged"])
    p.flags_add("local", "INBOX", 2, ["\\Seen"])
    p.expunge("remote", "INBOX", 2)
    r = p.run()
    # the expunge wins on both sides; the flag change is reported unmatched
    # because its mapping row is gone by the time flags are compared (§12.4)
    expect_run(ctx, r, ["remote(INBOX): Removed 1 UID(s) 1",
                        "local(INBOX): Removed 1 UID(s) 2",
                        "local(INBOX): WARNING: No match for modified remote UID 1. "
                        "Try '--repair'.",
                        "remote(INBOX): WARNING: No match for modified local UID 2. "
                        "Try '--repair'."])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(mapping(db, "INBOX"), [(3, 3)], "mapping rows left")


# --- group mailboxes: creation, subscriptions, names, delimiters, selection ---------------

@case("mailboxes-created-with-hierarchy", "mailboxes", differential=True)
def c_mailboxes(h, ctx, mk):
    p = mk()
    r = p.run()
    ctx.require(r.rc == 0, "first run on empty stores", r.describe())
    p.create("local", "a", "a/b/c")
    p.add("local", "a/b/c", "abc1", date=D[0])
    p.create("remote", "x/y", "Archive")
    p.add("remote", "x/y", "xy1", flags=["\\Seen"], date=D[1])
    r = p.run()
    expect_run(ctx, r, ["database: Created mailbox a",
                        "remote: Created mailbox a",
                        "database: Created mailbox a/b/c",
                        "remote: Created mailbox a/b/c",
                        "remote(a/b/c): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox x/y",
                        "local: Created mailbox x/y",
                        "local(x/y): Added 1 UID(s) 1 <- 1",
                        "database: Created mailbox Archive",
                        "local: Created mailbox Archive"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(sorted(subscribed_rows(db)), sorted(["INBOX", "a", "a\0b\0c", "x\0y", "Archive"]),
              "database rows: parents that do not exist are not created")
    ctx.check("a\0b" in st["remote"] and not st["remote"]["a\0b"]["selectable"],
              "a/b is only an implied parent on remote", repr(st["remote"].get("a\0b")))


@case("subscriptions", "mailboxes", differential=True)
def c_subscriptions(h, ctx, mk):
    p = mk()
    p.create("local", "Sub1", "Sub2", "Sub3")
    p.subscribe("local", "Sub2", "Sub3")
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox Sub1", "remote: Created mailbox Sub1",
                        "database: Created mailbox Sub2", "remote: Created mailbox Sub2",
                        "remote: Subscribe to Sub2",
                        "database: Created mailbox Sub3", "remote: Created mailbox Sub3",
                        "remote: Subscribe to Sub3"], what="first run")
    ctx.equal(subscribed_rows(p.db()), {"INBOX": 0, "Sub1": 0, "Sub2": 1, "Sub3": 1},
              "database subscribed column after the first run")
    p.subscribe("local", "Sub1")        # db 0, one side 1 -> the subscription wins
    p.unsubscribe("remote", "Sub2")     # db 1, one side 0 -> the unsubscription wins
    p.unsubscribe("local", "Sub3")      # both 0 now, db 1 -> db updated silently
    p.unsubscribe("remote", "Sub3")
    p.subscribe("remote", "INBOX")
    p.create("remote", "New")
    p.subscribe("remote", "New")
    r = p.run()
    expect_run(ctx, r, ["remote: Subscribe to Sub1",
                        "local: Unsubscribe to Sub2",
                        "local: Subscribe to INBOX",
                        "database: Created mailbox New",
                        "local: Created mailbox New",
                        "local: Subscribe to New"], what="second run")
    st, db = p.states(), p.db()
    ctx.equal(subscribed_rows(db), {"INBOX": 1, "Sub1": 1, "Sub2": 0, "Sub3": 0, "New": 1},
              "database subscribed column after the changes")
    p.compare(ctx, states=st, db=db)
    # both sides subscribe on their own: the database follows silently
    p.subscribe("local", "Sub3")
    p.subscribe("remote", "Sub3")
    r = p.run()
    expect_run(ctx, r, [], what="both sides subscribed")
    ctx.equal(subscribed_rows(p.db())["Sub3"], 1, "database follows a subscription on both sides")


NAMES = ["Caf\u00e9", "Caf\u00e9/Brouillons \u2603", "with space", 'quo"te', "back\\slash",
         "\u00dcn\u00efc\u00f6d\u00e9/\u5b50", "amp&and"]


def mutf7(name):
    return "/".join(mutf7_encode(part) for part in name.split("/"))


@case("mailbox-names-utf7-quotes", "mailboxes", differential=True)
def c_names(h, ctx, mk):
    p = mk()
    for i, n in enumerate(NAMES):
        p.create("local", n)
        p.add("local", n, f"name{i}", date=D[i % 5])
    p.create("remote", "R\u00e9mote \"q\" \\ x")
    p.add("remote", "R\u00e9mote \"q\" \\ x", "rname", date=D[0])
    r = p.run()
    lines = [f"Creating new schema in database file {p.db_path}",
             "database: Created mailbox INBOX"]
    for n in NAMES:
        s = mutf7(n)
        lines += [f"database: Created mailbox {s}", f"remote: Created mailbox {s}",
                  f"remote({s}): Added 1 UID(s) 1 -> 1"]
    s = mutf7("R\u00e9mote \"q\" \\ x")
    lines += [f"database: Created mailbox {s}", f"local: Created mailbox {s}",
              f"local({s}): Added 1 UID(s) 1 <- 1"]
    expect_run(ctx, r, lines)
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    con = sqlite3.connect(p.db_path)
    raw = sorted(bytes(r[0]) for r in con.execute("SELECT mailbox FROM mailboxes"))
    con.close()
    want = sorted([b"INBOX"] + [mutf7(n).replace("/", "\0").encode() for n in NAMES] +
                  [mutf7("R\u00e9mote \"q\" \\ x").encode()])
    ctx.equal(raw, want, "database names are modified UTF-7 with NUL delimiters")


@case("delimiters-slash-vs-dot", "mailboxes", differential=True)
def c_delimiters(h, ctx, mk):
    p = mk(local_sep="/", remote_sep=".")
    p.create("local", "a/b")
    p.add("local", "a/b", "ab1", date=D[0])
    p.create("remote", "c.d", "e")
    p.add("remote", "c.d", "cd1", flags=["\\Seen"], date=D[1])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox a/b", "remote: Created mailbox a.b",
                        "remote(a.b): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox c/d", "local: Created mailbox c/d",
                        "local(c/d): Added 1 UID(s) 1 <- 1",
                        "database: Created mailbox e", "local: Created mailbox e"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    ctx.equal(sorted(subscribed_rows(db)), sorted(["INBOX", "a\0b", "c\0d", "e"]),
              "database names use NUL, not a delimiter")
    p.add("remote", "a.b", "ab2", date=D[2])
    p.flags_add("local", "c/d", 1, ["\\Flagged"])
    r = p.run()
    expect_run(ctx, r, ["local(a/b): Added 1 UID(s) 2 <- 2",
                        "remote(c.d): Updated flags (\\Flagged \\Seen) for UID 1"],
               what="second run")
    p.compare(ctx, "consistent after the second run")


@case("list-reference", "mailboxes", differential=True)
def c_list_reference(h, ctx, mk):
    p = mk()
    p.configure(local={"list-reference": "perso/"})
    p.add("local", "INBOX", "outside", date=D[0])      # not under perso/: left alone
    p.create("local", "other")
    p.add("remote", "INBOX", "ref1", date=D[1])
    p.add("remote", "INBOX", "ref2", date=D[2])
    p.create("remote", "Work")
    p.add("remote", "Work", "ref3", date=D[3])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX", "local: Created mailbox perso/INBOX",
                        "local(perso/INBOX): Added 2 UID(s) 1:2 <- 1:2",
                        "database: Created mailbox Work", "local: Created mailbox perso/Work",
                        "local(perso/Work): Added 1 UID(s) 1 <- 1"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db)
    raw = p.local.dump()
    ctx.equal(sorted(n for n, e in raw.items() if e["uidvalidity"] is not None),
              ["INBOX", "other", "perso/INBOX", "perso/Work"], "local mailboxes")
    ctx.equal(len(raw["INBOX"]["messages"]), 1, "local INBOX (outside the reference) untouched")
    p.add("local", "perso/Work", "ref4", date=D[4])
    r = p.run()
    expect_run(ctx, r, ["remote(Work): Added 1 UID(s) 2 -> 2"], what="second run")
    p.compare(ctx, "consistent after the second run")


@case("list-mailbox-nul-pattern", "mailboxes", differential=True)
def c_list_mailbox(h, ctx, mk):
    p = mk(local_sep="/", remote_sep=".")
    p.configure(default={"list-mailbox": 'INBOX "a\\0*"'})
    for side, names in (("local", ["a/x", "ab", "b"]), ("remote", ["a.z", "b.q"])):
        for n in names:
            p.create(side, n)
            p.add(side, n, f"lm-{side}-{n}", date=D[0])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox a/x", "remote: Created mailbox a.x",
                        "remote(a.x): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox a/z", "local: Created mailbox a/z",
                        "local(a/z): Added 1 UID(s) 1 <- 1"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db, mailboxes={"INBOX", "a\0x", "a\0z"})
    ctx.equal(sorted(subscribed_rows(db)), ["INBOX", "a\0x", "a\0z"], "database rows")
    ctx.equal(sorted(n for n, e in st["remote"].items() if e["selectable"]),
              ["INBOX", "a\0x", "a\0z", "b\0q"], "remote mailboxes (ab and b not copied)")
    ctx.equal(sorted(n for n, e in st["local"].items() if e["selectable"]),
              ["INBOX", "a\0x", "a\0z", "ab", "b"], "local mailboxes (b/q not copied)")


@case("ignore-mailbox", "mailboxes", differential=True)
def c_ignore(h, ctx, mk):
    p = mk()
    p.configure(default={"ignore-mailbox": "^virtual(?:\\x00|$)"})
    for n in ("virtual", "virtual/x", "virtualx", "Keep"):
        p.create("local", n)
        p.add("local", n, f"ig-{n}", date=D[1])
    p.create("remote", "virtual/y")
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "database: Created mailbox Keep", "remote: Created mailbox Keep",
                        "remote(Keep): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox virtualx", "remote: Created mailbox virtualx",
                        "remote(virtualx): Added 1 UID(s) 1 -> 1"])
    st, db = p.states(), p.db()
    keep = {"INBOX", "Keep", "virtualx"}
    p.compare(ctx, states=st, db=db, mailboxes=keep)
    ctx.equal(sorted(subscribed_rows(db)), sorted(keep), "database rows")
    ctx.equal(sorted(n for n, e in st["remote"].items() if e["selectable"]),
              sorted(keep | {"virtual\0y"}), "remote mailboxes")


@case("list-select-opts-subscribed", "mailboxes", differential=True)
def c_select_opts(h, ctx, mk):
    p = mk()
    p.configure(default={"list-select-opts": "subscribed"})
    p.create("local", "S1", "U1")
    p.subscribe("local", "S1")
    p.add("local", "S1", "so1", date=D[0])
    p.add("local", "U1", "so2", date=D[0])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox S1", "remote: Created mailbox S1",
                        "remote: Subscribe to S1", "remote(S1): Added 1 UID(s) 1 -> 1"])
    st, db = p.states(), p.db()
    p.compare(ctx, states=st, db=db, mailboxes={"S1"})
    ctx.equal(subscribed_rows(db), {"S1": 1}, "database rows (only the subscribed mailbox)")


@case("command-line-mailboxes", "mailboxes", differential=True)
def c_cli(h, ctx, mk):
    p = mk(local_sep="/", remote_sep=".")
    p.configure(default={"ignore-mailbox": "^a"})
    p.add("local", "INBOX", "cli1", date=D[0])
    for n in ("a/b", "c"):
        p.create("local", n)
        p.add("local", n, f"cli-{n}", date=D[1])
    p.create("remote", "d.e")
    p.add("remote", "d.e", "cli-de", date=D[2])
    r = p.run("inbox", "a/b")
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "remote(INBOX): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox a/b", "remote: Created mailbox a.b",
                        "remote(a.b): Added 1 UID(s) 1 -> 1"], what="inbox a/b")
    st, db = p.states(), p.db()
    ctx.equal(sorted(subscribed_rows(db)), ["INBOX", "a\0b"],
              "only the named mailboxes (ignore-mailbox does not apply to them)")
    p.compare(ctx, states=st, db=db, mailboxes={"INBOX", "a\0b"})
    ctx.check("c" not in st["remote"] and "d\0e" not in st["local"],
              "other mailboxes untouched", repr(sorted(st["remote"])) + repr(sorted(st["local"])))
    r = p.run()
    expect_run(ctx, r, ["database: Created mailbox c", "remote: Created mailbox c",
                        "remote(c): Added 1 UID(s) 1 -> 1",
                        "database: Created mailbox d/e", "local: Created mailbox d/e",
                        "local(d/e): Added 1 UID(s) 1 <- 1"], what="no argument")
    p.compare(ctx, "consistent after a run without arguments",
              mailboxes={"INBOX", "a\0b", "c", "d\0e"})


@case("sorted-mailbox-order", "mailboxes", ours_only="mailboxes are processed in sorted order")
def c_sorted(h, ctx, mk):
    p = mk()
    names = ["Work/2020", "Lists", "Archive", "Work", "Zeta", "Misc"]
    for n in names:
        p.create("local", n)
        p.add("local", n, f"so-{n}", date=D[0])
    r = p.run()
    ctx.check(r.rc == 0, "exit status 0", r.describe())
    created = [ln.split("mailbox ", 1)[1] for ln in r.lines
               if ln.startswith("database: Created mailbox ") and not ln.endswith(" INBOX")]
    ctx.equal(created, sorted(names), "database: Created lines in sorted order")
    added = [re.match(r"^remote\((.*)\): Added", ln).group(1) for ln in r.lines
             if re.match(r"^remote\((.*)\): Added", ln)]
    ctx.equal(added, sorted(names), "mailboxes copied in sorted order")


SUMMARY = re.compile(r"^Summary: (\d+) mailboxes synced, (\d+) messages copied \(local <- remote "
                     r"(\d+), local -> remote (\d+), (\d+\.\d) MiB\), (\d+) flag updates, (\d+) "
                     r"expunged in \d+\.\d\d s$")


@case("summary-line", "sync", ours_only="the closing Summary line (tools/interimap/report.h)")
def c_summary(h, ctx, mk):
    p = mk()
    p.add_many("local", "INBOX", ["su1", "su2", "su3"], date=D[0])
    p.create("local", "Work")
    p.add("local", "Work", "su4", size=300000, date=D[1])
    p.add("remote", "INBOX", "su5", date=D[2])
    size = sum(len(msg(t)) for t in ("su1", "su2", "su3", "su5")) + len(msg("su4", size=300000))

    def summary(r):
        lines = [ln for ln in r.lines if ln.startswith("Summary")]
        m = SUMMARY.match(lines[0]) if len(lines) == 1 else None
        return m.groups() if m else lines

    r = p.run()
    ctx.check(r.rc == 0, "exit status 0", r.describe())
    ctx.equal(summary(r), ("2", "5", "1", "4", f"{size / 1048576:.1f}", "0", "0"),
              "Summary after the first run")
    p.flags_add("local", "INBOX", 1, ["\\Seen"])
    p.flags_add("remote", "INBOX", 1, ["\\Flagged"])
    p.expunge("remote", "INBOX", 3)
    r = p.run()
    ctx.equal(summary(r), ("1", "0", "0", "0", "0.0", "2", "1"), "Summary after changes")
    r = p.run()
    ctx.equal(summary(r), [], "no Summary when nothing was synchronised")
    p.add("remote", "INBOX", "su6", date=D[3])
    r = p.run("--quiet")
    ctx.check(r.rc == 0 and r.stderr == "", "no Summary with --quiet", r.describe())


# --- group errors: refusals, the lock, odd messages, output formats -----------------------

def snapshot(p):
    return p.states(), p.db()


@case("uidvalidity-change", "errors")
def c_uidvalidity(h, ctx, mk):
    p = mk()
    p.create("local", "Work")
    p.add("local", "Work", "uv1", date=D[0])
    initial(ctx, p, "local", ["uv0"])
    p.delete("remote", "Work")
    p.create("remote", "Work")
    p.add("remote", "Work", "uv2", date=D[1])
    before = snapshot(p)
    server_uv = before[0]["remote"]["Work"]["uidvalidity"]
    db = before[1]
    idx = [i for i, (n, _s, _t) in db["mailboxes"].items() if n == "Work"][0]
    db_uv = db["remote"][idx][0]
    ctx.require(server_uv != db_uv, "Dovecot gave the new Work a new UIDVALIDITY",
                f"{server_uv} == {db_uv}")
    r = p.run()
    expect_run(ctx, r, [f"remote: ERROR: UIDVALIDITY changed! ({server_uv} != {db_uv})  "
                        "Need to invalidate the UID cache for Work."], rc=1)
    ctx.check(snapshot(p) == before, "nothing changed (stores and database)")
    r = p.run("--target=database", "--delete", "Work")
    expect_run(ctx, r, ["database: Removed mailbox Work"], what="--target=database --delete",
               any_order=True)
    r = p.run()
    expect_run(ctx, r, ["database: Created mailbox Work",
                        "local(Work): Added 1 UID(s) 2 <- 1",
                        "remote(Work): Added 1 UID(s) 1 -> 2"], what="after --delete")
    p.compare(ctx)


@case("mailbox-deleted-on-one-side", "errors")
def c_deleted(h, ctx, mk):
    p = mk(local_sep="/", remote_sep=".")
    p.create("local", "Work/Old")
    p.add("local", "Work/Old", "del1", date=D[0])
    initial(ctx, p, "local", ["del0"])
    p.delete("local", "Work/Old")
    p.add("remote", "INBOX", "del2", date=D[1])     # a pending change that must wait
    before = snapshot(p)
    r = p.run()
    expect_run(ctx, r, ["database: ERROR: Mailbox Work/Old exists. Run `interimap "
                        "--target=database --delete Work/Old` to delete."], rc=1)
    ctx.check(snapshot(p)[1] == before[1], "database unchanged")
    ctx.check(snapshot(p)[0]["remote"] == before[0]["remote"], "remote store unchanged")
    r = p.run("--target=database", "--delete", "Work/Old")
    expect_run(ctx, r, ["database: Removed mailbox Work/Old"], what="--target=database --delete",
               any_order=True)
    r = p.run()
    expect_run(ctx, r, ["database: Created mailbox Work/Old", "local: Created mailbox Work/Old",
                        "local(Work/Old): Added 1 UID(s) 1 <- 1",
                        "local(INBOX): Added 1 UID(s) 2 <- 2"], what="after --delete")
    p.compare(ctx)


@case("second-instance-locked", "errors")
def c_lock(h, ctx, mk):
    p = mk()
    initial(ctx, p, "local", ["lk1"])
    marker = os.path.join(p.home, "hang.marker")
    hang = p.configure(local={"command": f"{PYTHON} {CUT_TUNNEL} --hang --marker {marker}"},
                       config_path=os.path.join(p.config_home, "interimap", "hang"))
    p.add("local", "INBOX", "lk2", date=D[1])
    before = snapshot(p)
    first = p.start("--config=hang")
    deadline = time.monotonic() + 20
    while not os.path.exists(marker) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        ctx.require(os.path.exists(marker), "the first instance holds the database and waits",
                    first.poll() and first.poll().describe())
        r = p.run(timeout=30)
        ctx.check(r.rc != 0, "second instance fails", r.describe())
        if not h.is_reference:
            ctx.check(r.rc == 255, "exit status 255 (docs/compatibility.md)", r.describe())
        ctx.check(any("database is locked" in ln for ln in r.lines),
                  "it says 'database is locked'", r.describe())
        ctx.check(not r.traffic(), "no server was contacted", r.describe())
    finally:
        first.kill(signal.SIGTERM)
        fr = first.wait(10)
    ctx.check(fr.rc == 0, "the first instance ends with status 0 on SIGTERM", fr.describe())
    ctx.check(snapshot(p) == before, "nothing changed (stores and database)")
    r = p.run()
    expect_run(ctx, r, ["remote(INBOX): Added 1 UID(s) 2 -> 2"], what="after the lock is gone")
    p.compare(ctx)


@case("zero-length-message", "errors", differential=True)
def c_zero(h, ctx, mk):
    p = mk()
    p.add("local", "INBOX", "z1", date=D[0])
    p.maildir_add("local", b"", mtime=calendar.timegm((2020, 5, 6, 7, 8, 9)))
    p.add("local", "INBOX", "z3", date=D[2])
    r = p.run()
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "local(INBOX): WARNING: Ignoring new 0-length message (UID 2)",
                        "remote(INBOX): Added 2 UID(s) 1,3 -> 1:2"])
    st, db = p.states(), p.db()
    ctx.equal([m[0] for m in st["local"]["INBOX"]["messages"]], [1, 2, 3], "local UIDs")
    p.compare(ctx, states=st, db=db, exclude={sha(b"")})
    ctx.equal(mapping(db, "INBOX"), [(1, 1), (3, 2)], "mapping rows")
    r = p.run()
    expect_run(ctx, r, [], what="rerun: no second warning")


def populate_two_mailboxes(ctx, p):
    p.create("local", "Work")
    p.add("local", "Work", "noop-w", date=D[0])
    p.add("remote", "INBOX", "noop-i", flags=["\\Seen"], date=D[1])
    r = p.run()
    ctx.require(r.rc == 0, "initial synchronisation", r.describe())


@case("no-op-rerun-and-quiet", "errors", differential=True)
def c_noop(h, ctx, mk):
    p = mk()
    populate_two_mailboxes(ctx, p)
    before = snapshot(p)
    r = p.run()
    expect_run(ctx, r, [], what="no-op")
    ctx.check(len(r.lines) == 2 and len(r.traffic()) == 2,
              "only the two traffic lines (no summary either)", r.describe())
    ctx.check(snapshot(p) == before, "nothing changed (stores incl. HIGHESTMODSEQ, database)")
    for opt in ("--quiet", "-q"):
        r = p.run(opt)
        ctx.check(r.rc == 0 and r.stderr == "" and r.stdout == "",
                  f"{opt}: exit 0, nothing printed", r.describe())
    ctx.check(snapshot(p) == before, "nothing changed after the --quiet runs")
    # --quiet with work to do: informational lines hidden, database lines and
    # warnings kept
    p.create("remote", "Quiet")
    p.add("remote", "INBOX", "noop-q", date=D[2])
    p.flags_add("local", "INBOX", 1, ["\\Flagged"])
    p.flags_add("remote", "INBOX", 1, ["$Label1"])
    r = p.run("--quiet")
    expect_run(ctx, r, ["database: Created mailbox Quiet",
                        "WARNING: Conflicting flag update in INBOX for local UID 1 "
                        "(\\Flagged \\Seen) and remote UID 1 ($Label1 \\Seen). Setting both "
                        "to the union ($Label1 \\Flagged \\Seen)."], what="--quiet", traffic=0)
    p.compare(ctx, "consistent after the --quiet run")


MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
STAMP = re.compile(r"^(" + "|".join(MONTHS) + r") ([ 1-3]\d) (\d\d):(\d\d):(\d\d)\.(\d{1,6}) ")


def stamp_ok(line, t0, t1):
    """Whether LINE starts with a §4.1 timestamp between T0 and T1 (local
    time, the year taken from the clock)."""
    m = STAMP.match(line)
    if not m:
        return False
    year = time.localtime(t0).tm_year
    when = time.mktime((year, MONTHS.index(m.group(1)) + 1, int(m.group(2)), int(m.group(3)),
                        int(m.group(4)), int(m.group(5)), 0, 0, -1))
    return t0 - 2 <= when <= t1 + 2


@case("log-prefix-and-logfile", "errors")
def c_logfile(h, ctx, mk):
    p = mk()
    logfile = os.path.join(p.home, "interimap.log")
    p.configure(default={"log-prefix": "%?n?<%n%?m?:%m?> ?", "logfile": logfile})
    p.add("local", "INBOX", "lf1", date=D[0])
    t0 = time.time()
    r = p.run()
    t1 = time.time()
    expect_lines = [f"Creating new schema in database file {p.db_path}",
                    "<database> Created mailbox INBOX",
                    "<remote:INBOX> Added 1 UID(s) 1 -> 1"]
    ctx.check(r.rc == 0, "exit status 0", r.describe())
    traffic = re.compile(r"^<(local|remote)> " + harness.TRAFFIC_TEXT + "$")

    def info(r):
        """stderr without traffic lines and without the tunnels' own stderr
        (Dovecot's `Disconnected` lines: null-stderr does not apply with --debug)"""
        return [ln for ln in r.lines if not traffic.match(ln) and not harness.OURS_EXTRA.match(ln)
                and not ln.startswith("imap(qrrig)")]

    ctx.equal(sorted(info(r)), sorted(expect_lines), "stderr lines with the custom prefix")
    ctx.equal([traffic.match(ln).group(1) if traffic.match(ln) else None
               for ln in r.lines if "IMAP traffic" in ln], ["local", "remote"],
              "traffic lines with the custom prefix")
    with open(logfile, encoding="utf-8") as f:
        logged = f.read().splitlines()
    ctx.check(all(stamp_ok(ln, t0, t1) for ln in logged),
              "every log file line starts with 'Mon dd HH:MM:SS.usec ' (now)",
              "\n".join(logged))
    ctx.equal([STAMP.sub("", ln) for ln in logged], r.lines,
              "the log file holds the stderr lines (same order)")
    # debug lines go to the log file only
    os.unlink(logfile)
    p.add("remote", "INBOX", "lf2", date=D[1])
    t0 = time.time()
    r = p.run("--debug")
    t1 = time.time()
    ctx.check(r.rc == 0, "--debug: exit status 0", r.describe())
    ctx.check(not any(" C: " in ln or " S: " in ln for ln in r.lines),
              "--debug with a logfile: no protocol lines on stderr", r.describe())
    ctx.equal(sorted(info(r)), ["<local:INBOX> Added 1 UID(s) 2 <- 2"],
              "--debug with a logfile: stderr keeps the informational lines")
    with open(logfile, encoding="utf-8") as f:
        logged = f.read().splitlines()
    ctx.check(all(stamp_ok(ln, t0, t1) for ln in logged), "--debug: every line time-stamped",
              "\n".join(logged[:20]))
    body = [STAMP.sub("", ln) for ln in logged]
    for side in ("local", "remote"):
        ctx.check(any(re.match(rf"^<{side}> C: \S+ LIST ", ln) for ln in body),
                  f"--debug: the log file has the {side} LIST command", "\n".join(body[:40]))
        ctx.check(any(re.match(rf"^<{side}> S: \* LIST ", ln) for ln in body),
                  f"--debug: the log file has {side}'s LIST responses", "\n".join(body[:40]))
    ctx.check(any(re.match(r"^<remote:INBOX> C: \S+ UID FETCH ", ln) for ln in body),
              "--debug: protocol lines carry the selected mailbox", "\n".join(body))
    ctx.check("<local:INBOX> Added 1 UID(s) 2 <- 2" in body,
              "--debug: informational lines in the log file too", "\n".join(body))


def daemon_pair(h, mk, user, password, auth):
    """A pair whose remote is a rig daemon user: IMAP on 127.0.0.1 with
    STARTTLS, trusting the rig's CA."""
    if getattr(h, "daemon", None) is None:
        h.daemon = h.rig.daemon(users={"alice": password, "bob": password})
    d = h.daemon
    p = mk(remote=d.user(user))
    p.configure(remote={"type": "imap", "host": "127.0.0.1", "port": str(d.imap_port),
                        "SSL_CAfile": h.rig.cafile, "username": user, "password": password,
                        "auth": auth})
    return p


@case("debug-redacts-credentials", "errors")
def c_debug(h, ctx, mk):
    password = 'Pa55-"Secret" word'
    import base64
    for user, auth, cmd in (("alice", "PLAIN", "AUTHENTICATE PLAIN"), ("bob", "LOGIN", "LOGIN")):
        plain = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
        p = daemon_pair(h, mk, user, password, auth)
        p.add("local", "INBOX", f"dbg-{auth}", date=D[0])
        r = p.run("--debug")
        ctx.check(r.rc == 0, f"{auth}: exit status 0", r.describe())
        ctx.check(f"remote: C: xxx {cmd} [REDACTED]" in r.lines,
                  f"{auth}: 'remote: C: xxx {cmd} [REDACTED]'", r.describe())
        ctx.check(any(re.match(r"^remote: S: xxx OK ", ln) for ln in r.lines),
                  f"{auth}: 'remote: S: xxx OK ...' after it", r.describe())
        ctx.check("Secret" not in r.stderr and plain not in r.stderr,
                  f"{auth}: the password appears nowhere", r.describe())
        ctx.check(any(re.match(r"^local: C: \S+ ", ln) for ln in r.lines) and
                  any(re.match(r"^remote: S: ", ln) for ln in r.lines),
                  f"{auth}: C: and S: lines on stderr")
        ctx.check(any(re.match(r"^remote\(INBOX\): C: \[\.\.\.\]", ln) for ln in r.lines) and
                  any(re.match(r"^local\(INBOX\): S: \[\.\.\.\]\)$", ln) for ln in r.lines),
                  f"{auth}: literals shown as [...] (C: after the APPEND, S: after BODY[])",
                  "\n".join(ln for ln in r.lines if re.search(r"APPEND|FETCH|\[\.\.\.\]", ln)))
        ctx.check("remote(INBOX): Added 1 UID(s) 1 -> 1" in r.lines,
                  f"{auth}: the message was copied", r.describe())
        # delete the copy again so that the next round starts the same way
        p.expunge("remote", "INBOX", 1)
        p.expunge("local", "INBOX", 1)
        r = p.run("--debug", "--debug")
        ctx.check(r.rc == 0, f"{auth}: --debug --debug: exit status 0", r.describe())
        want = plain if auth == "PLAIN" else "Secret"
        ctx.check(want in r.stderr and "[REDACTED]" not in r.stderr,
                  f"{auth}: --debug --debug shows the credentials", r.describe())


# --- group interop: the Perl reference and ours on one database ------------------------------

def uids(p, side, mailbox):
    return [m["uid"] for m in p.stores[side].messages(mailbox)]


def twin(p, mailbox, luid):
    """The remote UID holding the same message as local LUID (internal name
    MAILBOX)."""
    st = p.states()
    body = [m[1] for m in st["local"][mailbox]["messages"] if m[0] == luid][0]
    return [m[0] for m in st["remote"][mailbox]["messages"] if m[1] == body][0]


def interop_changes():
    """Changes applied between runs; each may name the warnings it causes."""
    def c1(p):
        p.flags_add("local", "INBOX", uids(p, "local", "INBOX")[0], ["\\Flagged"])
        p.expunge("remote", "INBOX", uids(p, "remote", "INBOX")[-1])
        p.add("local", "INBOX", "io-c1a", date=D[0])
        p.add("local", "INBOX", "io-c1b", flags=["\\Seen"], date=D[1])
        p.create("remote", "New.Sub")
        p.add("remote", "New.Sub", "io-c1c", date=D[2])
        p.subscribe("remote", "Lists")
        return 0

    def c2(p):
        first = uids(p, "local", "INBOX")[0]
        p.flags_add("local", "INBOX", first, ["\\Answered"])
        p.flags_add("remote", "INBOX", twin(p, "INBOX", first), ["Later"])
        p.expunge("local", "Work/A", uids(p, "local", "Work/A")[0])
        p.add_many("remote", "INBOX", ["io-c2a", "io-c2b", "io-c2c"], date=D[3])
        p.create("local", "Work/B")
        p.add("local", "Work/B", "io-c2d", flags=["$Label2"], date=D[4])
        return 1

    def c3(p):
        p.expunge("remote", "INBOX", uids(p, "remote", "INBOX")[1:3])
        p.flags_add("local", "New/Sub", uids(p, "local", "New/Sub"), ["\\Seen"])
        p.add("local", "Lists", "io-c3a", date=D[0])
        p.unsubscribe("remote", "Lists")
        return 0

    def c4(p):
        p.add("local", "Work/A", "io-c4a", date=D[1])
        p.add("remote", "Work.A", "io-c4b", flags=["\\Flagged"], date=D[2])
        p.flags_remove("remote", "INBOX", uids(p, "remote", "INBOX"), ["\\Seen"])
        return 0

    def c5(p):
        p.flags_set("local", "INBOX", uids(p, "local", "INBOX")[-1], ["kw1", "kw2"])
        p.expunge("local", "Work/B", uids(p, "local", "Work/B"))
        p.add("remote", "Work.B", "io-c5a", date=D[3])
        return 0
    return [c1, c2, c3, c4, c5]


@case("interop-with-reference", "interop")
def c_interop(h, ctx, mk):
    if not os.path.exists(REFERENCE):
        raise Skip(f"{REFERENCE} is not installed")
    tools = {"reference": REFERENCE, "ours": h.binary}
    for first, second in (("reference", "ours"), ("ours", "reference")):
        p = mk(local_sep="/", remote_sep=".")
        label = f"{first} first"
        p.add_many("local", "INBOX", ["io-l1", "io-l2", "io-l3"], flags=["\\Seen"], date=D[0])
        p.create("local", "Work/A")
        p.add_many("local", "Work/A", ["io-l4", "io-l5"], date=D[1])
        p.add_many("remote", "INBOX", ["io-r1", "io-r2"], date=D[2])
        p.create("remote", "Lists")
        p.add("remote", "Lists", "io-r3", date=D[3])
        changes = interop_changes()
        order = [first, second] * 3
        for i, tool in enumerate(order):
            conflicts = changes[i - 1](p) if i > 0 else 0
            r = p.run(binary=tools[tool])
            step = f"{label}, run {i + 1} ({tool})"
            ctx.check(r.rc == 0, f"{step}: exit status 0", r.describe())
            bad = [ln for ln in r.lines if "ERROR" in ln or "PANIC" in ln or "Resuming" in ln
                   or ("WARNING" in ln and "Conflicting flag update" not in ln)]
            warn = [ln for ln in r.lines if "Conflicting flag update" in ln]
            ctx.check(not bad and len(warn) == conflicts,
                      f"{step}: no error, {conflicts} conflict warning(s)", r.describe())
            db = p.db()
            p.compare(ctx, f"{step}: stores and database consistent", db=db)
            ctx.check(not schema_problems(db), f"{step}: schema intact",
                      "\n".join(schema_problems(db)))
        for tool in (first, second):
            r = p.run(binary=tools[tool])
            ctx.check(r.rc == 0 and not r.info() and len(r.traffic()) == 2,
                      f"{label}: {tool} then finds nothing to do", r.describe())


# --- group faults: kills and cuts --------------------------------------------------------------

def wait_tunnels_gone(p, timeout=15):
    """Wait until no Dovecot process of the pair's stores runs (the tunnels
    of a killed run finish their last command first)."""
    deadline = time.monotonic() + timeout
    paths = [s.path for s in (p.local, p.remote) if hasattr(s, "path")]
    while time.monotonic() < deadline:
        if not any(harness.qrrig.system.dovecot_processes_under(path) for path in paths):
            return True
        time.sleep(0.02)
    return False


def big_sizes(n, lo=50 << 10, hi=200 << 10):
    return [lo + (i * 7919 * 131) % (hi - lo) for i in range(n)]


def run_and_kill(p, threshold, timeout=harness.RUN_TIMEOUT):
    """Start the binary, SIGKILL it once the remote INBOX holds THRESHOLD
    messages; returns (Result, count at the kill or None)."""
    run = p.start()
    deadline = time.monotonic() + timeout
    count = None
    while run.poll() is None and time.monotonic() < deadline:
        n = p.maildir_count("remote")
        if n >= threshold:
            run.kill(signal.SIGKILL)
            count = n
            break
        time.sleep(0.002)
    r = run.wait()
    if r.timed_out:
        raise harness.Hang(r)
    return r, count


@case("sigkill-mid-copy", "faults",
      ours_only="APPEND batches are journaled; the reference may duplicate (§5.6 NOTE)")
def c_sigkill(h, ctx, mk):
    p = mk()
    n = 300
    sizes = big_sizes(n)
    tags = [f"sk{i}" for i in range(n)]
    for i in range(0, n, 50):
        harness.bulk_append(p.local, "INBOX", [msg(t, size=s) for t, s in
                                               zip(tags[i:i + 50], sizes[i:i + 50])],
                            flags=["\\Seen"], date=D[0])
    bodies = {sha(msg(t, size=s)) for t, s in zip(tags, sizes)}
    for k, threshold in enumerate((30, 150)):
        r, count = run_and_kill(p, threshold)
        ctx.check(count is not None and r.rc == -signal.SIGKILL,
                  f"kill {k + 1}: killed mid-copy ({count} of {n} copied)", r.describe())
        ctx.check(wait_tunnels_gone(p), f"kill {k + 1}: tunnels ended")
    r = p.run()
    ctx.check(r.rc == 0, "rerun: exit status 0", r.describe())
    bad = [ln for ln in r.info() if "ERROR" in ln or "WARNING" in ln]
    ctx.check(not bad, "rerun: no warning or error", r.describe())
    st, db = p.states(), p.db()
    got = [m[1] for m in st["remote"]["INBOX"]["messages"]]
    ctx.check(len(got) == n and set(got) == bodies,
              f"remote INBOX holds each of the {n} messages exactly once",
              f"{len(got)} messages, {len(set(got))} distinct, "
              f"{len(bodies - set(got))} missing")
    p.compare(ctx, states=st, db=db)
    r = p.run()
    expect_run(ctx, r, [], what="no-op afterwards")


@case("network-drop-mid-append", "faults")
def c_drop(h, ctx, mk):
    p = mk()
    marker = os.path.join(p.home, "cut.marker")
    rounds = (("remote", "--up", 1500000, "nd"), ("local", "--down", 2500000, "ne"))
    total = 0
    for side, opt, limit, prefix in rounds:
        tags = [f"{prefix}{i}" for i in range(40)]
        harness.bulk_append(p.local, "INBOX", [msg(t, size=100000) for t in tags], date=D[1])
        total += 40
        cmd = p.stores[side].tunnel_command
        p.configure(**{side: {"command": f"{PYTHON} {CUT_TUNNEL} {opt} {limit} "
                              f"--marker {marker} -- {cmd}"}})
        what = f"{side} tunnel cut after {limit} bytes {opt[2:]}"
        r = p.run()
        with open(marker) as f:
            cut = f.read().strip()
        ctx.check(cut.startswith("cut"), f"{what}: the tunnel was cut", cut)
        ctx.check(r.rc != 0, f"{what}: non-zero exit", r.describe())
        errors = [ln for ln in r.lines if re.match(rf"^{side}(\([^)]*\))?: ERROR: ", ln)]
        h.tap.comment(f"{what}: exit {r.rc}, {errors[0] if errors else 'no ERROR line'}")
        if h.is_reference:
            ctx.check(errors or r.rc == -signal.SIGPIPE,
                      f"{what}: an ERROR line (or SIGPIPE, reference quirk §15.1)", r.describe())
        else:
            ctx.check(errors and r.rc == 1, f"{what}: an ERROR line, exit status 1",
                      r.describe())
        ctx.check(wait_tunnels_gone(p), f"{what}: tunnels ended")
        p.configure()
        r = p.run()
        ctx.check(r.rc == 0, f"{what}: rerun exit status 0", r.describe())
        st, db = p.states(), p.db()
        ctx.equal(len(st["remote"]["INBOX"]["messages"]), total,
                  f"{what}: rerun: remote holds every message once")
        p.compare(ctx, f"{what}: rerun converges", states=st, db=db)


@case("huge-message-rss", "faults", ours_only="bodies stream (peak RSS < 64 MiB)")
def c_rss(h, ctx, mk):
    import hashlib
    p = mk()
    size = 100 << 20
    uid, gid = harness.qrrig.system.mail_ids()
    for store in (p.local, p.remote):       # make the Maildirs exist
        store.status("INBOX")
    new = os.path.join(p.local.maildir, "new")
    name = os.path.join(new, f"{int(time.time())}.Mhuge.qrtest")
    digest = hashlib.sha256()
    head = b"From: a@example.org\nTo: b@example.org\nSubject: huge\nMessage-ID: <huge@qr>\n\n"
    with open(name + ".tmp", "wb") as f:
        f.write(head)
        digest.update(head)
        block = b"".join(b"%07d " % i + b"x" * 68 + b"\n" for i in range(1024))
        written = len(head)
        while written + len(block) <= size:
            f.write(block)
            digest.update(block)
            written += len(block)
    mtime = calendar.timegm((2020, 1, 2, 3, 4, 5))
    os.chown(name + ".tmp", uid, gid)
    os.utime(name + ".tmp", (mtime, mtime))
    os.rename(name + ".tmp", name)
    r = p.run(measure=True)
    expect_run(ctx, r, [f"Creating new schema in database file {p.db_path}",
                        "database: Created mailbox INBOX",
                        "remote(INBOX): Added 1 UID(s) 1 -> 1"])
    h.tap.comment(f"huge-message-rss: peak RSS {r.maxrss_kib} KiB, {r.elapsed:.2f} s")
    ctx.check(r.maxrss_kib is not None and r.maxrss_kib < 64 * 1024,
              f"peak RSS {r.maxrss_kib} KiB < 64 MiB (wait4 ru_maxrss)", r.describe())
    files = [os.path.join(p.remote.maildir, d, f) for d in ("new", "cur")
             for f in os.listdir(os.path.join(p.remote.maildir, d))]
    ctx.require(len(files) == 1, "one message file on remote", repr(files))
    copy = hashlib.sha256()
    with open(files[0], "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            copy.update(chunk)
    ctx.check(copy.hexdigest() == digest.hexdigest() and os.path.getsize(files[0]) == written,
              "the copy is byte for byte the original",
              f"{os.path.getsize(files[0])} bytes vs {written}")
    ctx.check(int(os.stat(files[0]).st_mtime) == mtime, "INTERNALDATE kept",
              f"{os.stat(files[0]).st_mtime} vs {mtime}")


# --- runner ------------------------------------------------------------------------------------

def run_differential(h, c):
    """Run case C with the binary under test (checks reported), then with the
    reference on twin stores (checks silent), and compare the traces."""
    ours, ref = [], []

    def factory(store, binary):
        def mk(**kw):
            p = h.pair(**kw)
            p.binary = binary
            p.trace = Trace()
            store.append(p)
            return p
        return mk

    ctx = Ctx(h, c.name)
    t0 = time.monotonic()
    ok = invoke(h, c, ctx, factory(ours, h.binary))
    want_ref = os.path.exists(REFERENCE) and (not h.is_reference or
                                              os.environ.get("QR_ITEST_SELFDIFF") == "1")
    if not want_ref:
        ctx.skip("differential", "the binary under test is the reference")
    elif ok:
        rctx = Ctx(h, c.name, silent=True)
        invoke(h, c, rctx, factory(ref, REFERENCE))
        for p in ours + ref:
            p.trace.final(p)
        ta, tb = Trace(), Trace()
        for p in ref:
            ta.items += p.trace.items
        for p in ours:
            tb.items += p.trace.items
        diff = trace_diff(ta, tb)
        ctx.check(not diff, "differential: same outcome as the Perl reference", "\n".join(diff))
        shared = {w for w, _d in rctx.failures}
        for what, _d in ctx.failures:
            if what in shared:
                h.tap.comment(f"note: the reference fails '{what}' too")
    h.tap.comment(f"{c.name}: {time.monotonic() - t0:.2f} s")


def invoke(h, c, ctx, mk):
    try:
        c.func(h, ctx, mk)
        return True
    except harness.CaseFailed:
        return False
    except harness.Hang as e:
        ctx.check(False, f"every run ends within {harness.RUN_TIMEOUT} s (it hung; killed)",
                  e.result.describe())
        return False
    except Skip as e:
        ctx.skip("rest", str(e))
        return False
    except Exception:
        import traceback
        ctx.check(False, "ran without an exception", traceback.format_exc())
        return False


def run_plain(h, c):
    if c.ours_only and h.is_reference and os.environ.get("QR_ITEST_FORCE") != "1":
        h.tap.result(True, c.name, skip=f"ours only: {c.ours_only}")
        return
    t0 = time.monotonic()
    invoke(h, c, Ctx(h, c.name), lambda **kw: h.pair(**kw))
    h.tap.comment(f"{c.name}: {time.monotonic() - t0:.2f} s")


def main(argv):
    groups, names, binary, listing = [], [], None, False
    args = iter(argv)
    for a in args:
        if a == "--group":
            groups.append(next(args))
        elif a == "--case":
            names.append(next(args))
        elif a == "--list":
            listing = True
        elif a.startswith("-"):
            print(f"usage: {sys.argv[0]} [BINARY] [--group G]... [--case NAME]... [--list]",
                  file=sys.stderr)
            return 2
        else:
            binary = a
    selected = [c for c in CASES if (not groups or c.group in groups) and
                (not names or c.name in names)]
    if listing:
        for c in selected:
            flags = (" differential" if c.differential else "") + \
                (f" ours-only ({c.ours_only})" if c.ours_only else "")
            print(f"{c.group:10} {c.name}{flags}")
        return 0
    binary = binary or os.environ.get("QR_INTERIMAP")
    if not binary:
        print("1..0 # SKIP no interimap binary (argument or $QR_INTERIMAP)")
        return 0
    if not os.access(binary, os.X_OK):
        print(f"1..0 # SKIP {binary} is not an executable file")
        return 0
    binary = os.path.abspath(binary)
    missing = harness.qrrig.missing_requirements(daemon=any(c.group == "errors"
                                                            for c in selected))
    if missing:
        print("1..0 # SKIP " + "; ".join(missing))
        return 0
    h = Harness(binary)
    h.tap.comment(f"binary under test: {binary}" +
                  (" (the Perl reference)" if h.is_reference else ""))
    t0 = time.monotonic()
    h.start()
    try:
        for c in selected:
            if c.differential:
                run_differential(h, c)
            else:
                run_plain(h, c)
    finally:
        h.close()
    h.tap.comment(f"total: {time.monotonic() - t0:.2f} s")
    return h.tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
