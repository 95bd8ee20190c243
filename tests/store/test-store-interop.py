#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Interop of our state store with the Perl reference interimap (0.5.7).

Run under `rig.py run --stores 2 --skip-exit 0 -- test-store-interop.py
STORE_DUMP`. The reference synchronises the two tunnel stores into a
database it creates; store-dump (our store's typed accessors) must read
exactly the rows the sqlite3 CLI reads, and leave sqlite_master alone.
Then a database created by our schema step (plus mailbox rows) must be
accepted by the reference, with its sqlite_master text unchanged. Both
upgrade the same version-0 database to the same text and rows. Last, the
two exclude each other through the lock. Prints TAP.
"""
import os
import subprocess
import sys
import tempfile

STORE_DUMP = sys.argv[1]
RIG_CLI = os.environ.get("QR_RIG_CLI")
count = 0
failed = 0


def ok(cond, name, detail=""):
    global count, failed
    count += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (count, name))
    if not cond:
        failed += 1
        for line in str(detail).splitlines():
            print("#   " + line)


def sqlite(db, sql):
    return subprocess.run(["sqlite3", "-separator", " ", db, sql], check=True,
                          capture_output=True, text=True).stdout


def cli_rows(db):
    """The rows as the sqlite3 CLI reads them, in store-dump's format."""
    out = []
    for line in sqlite(db, "SELECT idx, hex(mailbox), subscribed FROM mailboxes "
                           "ORDER BY idx").splitlines():
        out.append("mailbox " + line)
    for side in ("local", "remote"):
        for line in sqlite(db, "SELECT idx, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ FROM %s "
                               "ORDER BY idx" % side).splitlines():
            f = line.split(" ")
            f[3] = str(int(f[3]) % 2**64)
            out.append(side + " " + " ".join(f))
    for line in sqlite(db, "SELECT idx, lUID, rUID FROM mapping ORDER BY idx, lUID").splitlines():
        out.append("mapping " + line)
    return out


def master(db):
    return sqlite(db, "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid")


def dump(*args):
    return subprocess.run([STORE_DUMP, *args], capture_output=True, text=True)


def rig_mail(*args, stdin=None):
    return subprocess.run([sys.executable, RIG_CLI, "mail", *args], input=stdin,
                          capture_output=True, text=True, check=True).stdout


def interimap(tmp, db):
    cfg = os.path.join(tmp, "config-" + os.path.basename(db))
    with open(cfg, "w") as f:
        f.write("database = %s\n\n[local]\ntype = tunnel\ncommand = %s\n\n"
                "[remote]\ntype = tunnel\ncommand = %s\n"
                % (db, os.environ["QR_RIG_STORE0_COMMAND"], os.environ["QR_RIG_STORE1_COMMAND"]))
    env = dict(os.environ, HOME=tmp, XDG_CONFIG_HOME=os.path.join(tmp, "config"),
               XDG_DATA_HOME=os.path.join(tmp, "data"))
    return subprocess.run(["/usr/bin/interimap", "--config=" + cfg], env=env,
                          capture_output=True, text=True, timeout=120)


def message(subject):
    return ("From: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\n"
            "Date: Sat, 01 Feb 2020 10:00:00 +0000\r\n\r\nbody of %s\r\n" % (subject, subject))


def main():
    if not os.environ.get("QR_RIG_STORE1_COMMAND") or not RIG_CLI:
        print("1..0 # SKIP no rig stores")
        return 0
    tmp = tempfile.mkdtemp(prefix="qr-store-interop.")
    os.chmod(tmp, 0o755)

    rig_mail("store0", "create", "a/b")
    rig_mail("store0", "append", "INBOX", stdin=message("one"))
    rig_mail("store0", "append", "a/b", stdin=message("two"))
    rig_mail("store1", "append", "INBOX", stdin=message("three"))

    # 1. the reference writes a database; we read the same rows
    ref_db = os.path.join(tmp, "ref.db")
    p = interimap(tmp, ref_db)
    ok(p.returncode == 0, "reference interimap syncs into a new database", p.stderr)
    p = interimap(tmp, ref_db)
    ok(p.returncode == 0, "reference interimap runs again", p.stderr)
    before = master(ref_db)
    rows = cli_rows(ref_db)
    ok(len([r for r in rows if r.startswith("mapping ")]) == 3,
       "the reference mapped three messages", "\n".join(rows))
    ok(any(r.split(" ")[2] == "610062" for r in rows if r.startswith("mailbox ")),
       "the reference stored names as NUL-delimited BLOBs", "\n".join(rows))
    typ = sqlite(ref_db, "SELECT DISTINCT typeof(mailbox) FROM mailboxes")
    ok(typ == "blob\n", "typeof(mailbox) is blob in the reference's database", typ)
    d = dump(ref_db)
    ok(d.returncode == 0 and d.stdout.splitlines() == ["schema current"] + rows,
       "store-dump reads exactly the rows the sqlite3 CLI reads",
       "ours:\n%s%s\ncli:\n%s" % (d.stdout, d.stderr, "\n".join(rows)))
    ok(master(ref_db) == before, "opening with our store leaves sqlite_master unchanged")

    # 2. a database created by our store is accepted by the reference
    our_db = os.path.join(tmp, "ours.db")
    d = dump("--create", our_db, "INBOX", "a/b")
    ok(d.returncode == 0 and d.stdout.splitlines() ==
       ["schema created", "mailbox 1 494E424F58 0", "mailbox 2 610062 0"],
       "store-dump creates a database with two mailbox rows", d.stdout + d.stderr)
    ok(master(our_db) == before, "our schema text equals the reference's (sqlite_master)",
       "ours:\n%s\nreference:\n%s" % (master(our_db), before))
    ok(sqlite(our_db, "PRAGMA user_version") == "1\n", "our user_version is 1")
    mode = os.stat(our_db).st_mode & 0o777
    ok(mode == 0o600, "our database file is created 0600", oct(mode))
    ours_before = master(our_db)
    p = interimap(tmp, our_db)
    ok(p.returncode == 0 and "Creating new schema" not in p.stderr,
       "reference interimap accepts our database", p.stderr)
    ok(master(our_db) == ours_before, "the reference leaves our sqlite_master unchanged")
    rows = cli_rows(our_db)
    # the stores already hold each other's copies (part 1) but this database
    # maps none of them, so the reference copies both ways again: what matters
    # is that it used our two rows (no new mailbox row) for both mailboxes.
    ok([r for r in rows if r.startswith("mailbox ")] == ["mailbox 1 494E424F58 0",
                                                          "mailbox 2 610062 0"]
       and {r.split(" ")[1] for r in rows if not r.startswith("mailbox ")} == {"1", "2"}
       and len([r for r in rows if r.startswith("mapping ")]) > 0,
       "the reference synchronised using our mailbox rows", "\n".join(rows))
    d = dump(our_db)
    ok(d.returncode == 0 and d.stdout.splitlines() == ["schema current"] + rows,
       "store-dump reads the reference's rows back", d.stdout + d.stderr)

    # 3. upgrade from version 0: the reference and our store give the same
    # sqlite_master text and mailbox rows
    v0_sql = ("CREATE TABLE mailboxes (idx INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT, "
              "mailbox TEXT NOT NULL CHECK (mailbox != '') UNIQUE, subscribed BOOLEAN NOT NULL);"
              + "".join(sqlite(ref_db, "SELECT sql || ';' FROM sqlite_master WHERE name IN "
                                       "('local', 'remote', 'mapping') ORDER BY rowid")
                        .splitlines())
              + "INSERT INTO mailboxes VALUES (1, 'INBOX', 0), (2, 'a/b', 0);")
    v0_ref = os.path.join(tmp, "v0-ref.db")
    v0_ours = os.path.join(tmp, "v0-ours.db")
    sqlite(v0_ref, v0_sql)
    sqlite(v0_ours, v0_sql)
    d = dump(v0_ours)
    ok(d.returncode == 0 and d.stdout.splitlines() ==
       ["schema upgraded", "mailbox 1 494E424F58 0", "mailbox 2 610062 0"],
       "our store upgrades a version-0 database", d.stdout + d.stderr)
    p = interimap(tmp, v0_ref)
    ok(p.returncode == 0 and "Upgrading database version from 0" in p.stderr,
       "the reference upgrades the same version-0 database", p.stderr)
    ok(master(v0_ours) == master(v0_ref), "same sqlite_master text after both upgrades",
       "ours:\n%s\nreference:\n%s" % (master(v0_ours), master(v0_ref)))
    ok(sqlite(v0_ours, "SELECT idx, typeof(mailbox), hex(mailbox) FROM mailboxes") ==
       sqlite(v0_ref, "SELECT idx, typeof(mailbox), hex(mailbox) FROM mailboxes"),
       "same mailbox rows after both upgrades")
    p = interimap(tmp, v0_ours)
    ok(p.returncode == 0 and "Upgrading" not in p.stderr and "Creating" not in p.stderr,
       "the reference accepts our upgraded database", p.stderr)

    # 4. the lock excludes the reference while our store holds it
    holder = subprocess.Popen([STORE_DUMP, "--hold", our_db], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    line = holder.stdout.readline()
    ok(line == "locked\n", "store-dump holds the lock", line)
    p = interimap(tmp, our_db)
    ok(p.returncode != 0 and "database is locked" in p.stderr,
       "reference interimap fails with 'database is locked' while we hold it",
       "%d %s" % (p.returncode, p.stderr))
    holder.stdin.close()
    holder.wait(timeout=30)
    ok(holder.returncode == 0, "store-dump released the lock")
    p = interimap(tmp, our_db)
    ok(p.returncode == 0, "reference interimap runs once we are gone", p.stderr)

    subprocess.run(["rm", "-rf", tmp], check=False)
    print("1..%d" % count)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
