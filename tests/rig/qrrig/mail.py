# SPDX-License-Identifier: LGPL-2.1-or-later
"""Mailbox helpers shared by tunnel stores and daemon users, state dumps,
and the comparison of two dumps.

A class using MailOps provides `_open_session()` returning a logged-in
ImapClient. Each helper call opens its own short session (a few ms) and
logs out, so helpers never hold a mailbox open while a tool under test runs.
Mailbox names are Unicode strings (converted to modified UTF-7 on the wire).
"""

import calendar
import collections
import contextlib
import datetime
import email.utils
import hashlib
import re

from .imap import ImapError, Literal, mailbox_arg, mutf7_decode, sequence_set
from .system import RigError

MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def imap_date(when):
    """INTERNALDATE text for APPEND from a datetime (naive = UTC), a Unix
    timestamp, an ISO 8601 string (as in dump(): '2020-01-02T03:04:05Z'),
    or a string already in IMAP form ('02-Jan-2020 03:04:05 +0000')."""
    if isinstance(when, str):
        if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]", when):
            return when
        when = datetime.datetime.fromisoformat(when.replace("Z", "+00:00"))
    if isinstance(when, (int, float)):
        when = datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    off = int(when.utcoffset().total_seconds()) // 60
    sign = "+" if off >= 0 else "-"
    off = abs(off)
    return (f"{when.day:02d}-{MONTHS[when.month - 1]}-{when.year:04d} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} "
            f"{sign}{off // 60:02d}{off % 60:02d}")


def parse_internaldate(text):
    """IMAP INTERNALDATE text -> 'YYYY-MM-DDTHH:MM:SSZ' (UTC), independent of
    the server's time zone."""
    day, mon, rest = text.strip().split("-", 2)
    year, clock, zone = rest.split(" ")
    hh, mm, ss = (int(x) for x in clock.split(":"))
    ts = calendar.timegm((int(year), MONTHS.index(mon.capitalize()) + 1, int(day), hh, mm, ss))
    sign = 1 if zone[0] == "+" else -1
    ts -= sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def make_message(subject="test", body="hello\r\n", sender="alice@example.net",
                 to="bob@example.net", date=None, message_id=None, headers=()):
    """A small RFC 5322 message (bytes, CRLF line ends)."""
    if date is None:
        date = email.utils.formatdate(0, usegmt=True)
    elif not isinstance(date, str):
        date = email.utils.format_datetime(date if getattr(date, "tzinfo", None)
                                           else date.replace(tzinfo=datetime.timezone.utc))
    if message_id is None:
        message_id = "<" + hashlib.sha256((subject + body).encode()).hexdigest()[:24] + "@qrrig>"
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", f"Date: {date}",
             f"Message-ID: {message_id}"] + list(headers)
    text = "\r\n".join(lines) + "\r\n\r\n" + body.replace("\r\n", "\n").replace("\n", "\r\n")
    return text.encode("utf-8")


def _flag_list(flags):
    if isinstance(flags, str):
        flags = flags.split()
    return "(" + " ".join(flags) + ")"


class MailOps:
    """Store helpers: mailboxes, messages, flags, state dump and compare."""

    def _open_session(self):
        raise NotImplementedError

    @contextlib.contextmanager
    def session(self):
        """A logged-in ImapClient for custom commands; logged out afterwards."""
        client = self._open_session()
        try:
            yield client
        finally:
            client.logout()

    # -- mailboxes

    def list_mailboxes(self):
        """Every mailbox: list of dicts {name, delimiter, attributes, subscribed}
        sorted by name; subscribed names that do not exist are included with
        the attribute \\NonExistent."""
        with self.session() as c:
            return _list(c)

    def create(self, name):
        with self.session() as c:
            c.command("CREATE", mailbox_arg(name))

    def delete(self, name):
        with self.session() as c:
            c.command("DELETE", mailbox_arg(name))

    def rename(self, old, new):
        with self.session() as c:
            c.command("RENAME", mailbox_arg(old), mailbox_arg(new))

    def subscribe(self, name):
        with self.session() as c:
            c.command("SUBSCRIBE", mailbox_arg(name))

    def unsubscribe(self, name):
        with self.session() as c:
            c.command("UNSUBSCRIBE", mailbox_arg(name))

    def status(self, name):
        """STATUS: dict with MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, HIGHESTMODSEQ."""
        with self.session() as c:
            res = c.command("STATUS", mailbox_arg(name),
                            "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN HIGHESTMODSEQ)")
            items = res.responses("STATUS")[0].data[1]
            return {items[i].upper(): int(items[i + 1]) for i in range(0, len(items), 2)}

    # -- messages

    def append(self, mailbox, message, flags=(), date=None):
        """APPEND MESSAGE (bytes) with FLAGS (list or space-separated string,
        keywords allowed) and an optional INTERNALDATE (see imap_date()).
        Returns the new UID."""
        args = ["APPEND", mailbox_arg(mailbox), _flag_list(flags)]
        if date is not None:
            args.append('"' + imap_date(date) + '"')
        args.append(Literal(message))
        with self.session() as c:
            res = c.command(*args)
        if not res.code or res.code[0].upper() != "APPENDUID":
            raise RigError(f"APPEND gave no APPENDUID: {res.text}")
        return int(res.code[2])

    def _store(self, mailbox, uids, op, flags):
        with self.session() as c:
            c.select(mailbox, condstore=False)
            c.command("UID", "STORE", sequence_set(uids), op, _flag_list(flags))

    def set_flags(self, mailbox, uids, flags):
        """Replace the flags of UIDS (int, iterable or 'N:M' string)."""
        self._store(mailbox, uids, "FLAGS.SILENT", flags)

    def add_flags(self, mailbox, uids, flags):
        self._store(mailbox, uids, "+FLAGS.SILENT", flags)

    def remove_flags(self, mailbox, uids, flags):
        self._store(mailbox, uids, "-FLAGS.SILENT", flags)

    def expunge(self, mailbox, uids):
        """Mark UIDS \\Deleted and UID EXPUNGE exactly those."""
        seq = sequence_set(uids)
        with self.session() as c:
            c.select(mailbox, condstore=False)
            c.command("UID", "STORE", seq, "+FLAGS.SILENT", "(\\Deleted)")
            c.command("UID", "EXPUNGE", seq)

    def messages(self, mailbox):
        """Messages of a mailbox: list of dicts {uid, flags, internaldate,
        sha256, size} sorted by UID (see dump())."""
        with self.session() as c:
            info = c.select(mailbox, readonly=True)
            return _fetch_all(c, info.get("EXISTS", 0))

    def body(self, mailbox, uid):
        """The full raw message UID (bytes)."""
        with self.session() as c:
            c.select(mailbox, readonly=True, condstore=False)
            res = c.command("UID", "FETCH", str(int(uid)), "(BODY.PEEK[])")
            for r in res.responses("FETCH"):
                items = _pairs(r.data[0])
                if int(items.get("UID", -1)) == int(uid):
                    return items["BODY[]"]
        raise RigError(f"{mailbox}: no message with UID {uid}")

    # -- state

    def dump(self):
        """The whole store state, stable and JSON-able:

        {mailbox name: {"delimiter", "attributes" (sorted, without
        \\Subscribed), "subscribed", "uidvalidity", "uidnext",
        "highestmodseq", "messages": [{"uid", "flags" (sorted, without
        \\Recent), "internaldate" (UTC, 'YYYY-MM-DDTHH:MM:SSZ'), "sha256"
        (of the raw message), "size"}]}}.

        Mailboxes that cannot be selected (\\Noselect, \\NonExistent) have
        None for the three numbers and no messages. Read-only (EXAMINE): it
        changes nothing, not even \\Recent.
        """
        out = {}
        with self.session() as c:
            for mbox in _list(c):
                entry = {"delimiter": mbox["delimiter"], "attributes": mbox["attributes"],
                         "subscribed": mbox["subscribed"], "uidvalidity": None,
                         "uidnext": None, "highestmodseq": None, "messages": []}
                if _selectable(mbox["attributes"]):
                    info = c.select(mbox["name"], readonly=True)
                    entry["uidvalidity"] = info.get("UIDVALIDITY")
                    entry["uidnext"] = info.get("UIDNEXT")
                    entry["highestmodseq"] = info.get("HIGHESTMODSEQ")
                    entry["messages"] = _fetch_all(c, info.get("EXISTS", 0))
                out[mbox["name"]] = entry
        return out

    def compare(self, other, **options):
        """Differences between this store and OTHER (a MailOps or a dump);
        see compare_dumps() for OPTIONS. Empty list = same content."""
        theirs = other.dump() if isinstance(other, MailOps) else other
        return compare_dumps(self.dump(), theirs, **options)


def _selectable(attributes):
    low = {a.lower() for a in attributes}
    return "\\noselect" not in low and "\\nonexistent" not in low


def _list(c):
    """Every listed mailbox with its SUBSCRIBED state, plus the subscribed
    names that do not exist (LIST-EXTENDED reports them \\NonExistent)."""
    found = {}

    def entry(resp):
        attrs, delim, name = resp.data[0], resp.data[1], resp.data[2]
        if isinstance(name, bytes):
            name = name.decode("utf-8")
        name = mutf7_decode(name)
        return attrs, found.setdefault(name, {"name": name, "delimiter": delim,
                                              "attributes": set(), "subscribed": False})

    for r in c.command("LIST", '""', '"*"', "RETURN", "(SUBSCRIBED)").responses("LIST"):
        attrs, e = entry(r)
        for a in attrs:
            if a.lower() == "\\subscribed":
                e["subscribed"] = True
            else:
                e["attributes"].add(a)
    for r in c.command("LIST", "(SUBSCRIBED)", '""', '"*"').responses("LIST"):
        attrs, e = entry(r)
        e["subscribed"] = True
        e["attributes"].update(a for a in attrs if a.lower() == "\\nonexistent")
    for e in found.values():
        e["attributes"] = sorted(e["attributes"])
    return [found[n] for n in sorted(found)]


def _pairs(items):
    """FETCH item list -> dict (upper-case keys)."""
    return {str(items[i]).upper(): items[i + 1] for i in range(0, len(items) - 1, 2)}


def _fetch_all(c, exists):
    if not exists:
        return []
    res = c.command("UID", "FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    msgs = []
    for r in res.responses("FETCH"):
        items = _pairs(r.data[0])
        body = items["BODY[]"]
        if not isinstance(body, bytes):
            body = (body or "").encode("utf-8")
        msgs.append({
            "uid": int(items["UID"]),
            "flags": sorted(f for f in items["FLAGS"] if f.lower() != "\\recent"),
            "internaldate": parse_internaldate(items["INTERNALDATE"]),
            "sha256": hashlib.sha256(body).hexdigest(),
            "size": int(items["RFC822.SIZE"]),
        })
    msgs.sort(key=lambda m: m["uid"])
    if len(msgs) != exists:
        raise ImapError(f"FETCH returned {len(msgs)} messages, EXISTS is {exists}")
    return msgs


# --- comparison -----------------------------------------------------------------

def _norm_name(name, delimiter):
    """Mailbox name -> hierarchy path with '/' (INBOX upper-cased), so that
    stores with different separators can be compared."""
    parts = name.split(delimiter) if delimiter else [name]
    if parts[0].upper() == "INBOX":
        parts[0] = "INBOX"
    return "/".join(parts)


def compare_dumps(a, b, ignore_uids=True, internaldate=True, flags=True,
                  subscriptions=True, names=("A", "B")):
    """Readable differences between two dump() results; [] if they match.

    Mailboxes are matched by hierarchy (each side split on its own
    delimiter). Compared: which mailboxes exist and whether they are
    selectable, subscriptions (if SUBSCRIPTIONS), and per mailbox the
    multiset of messages keyed by (sha256, size, flags if FLAGS,
    internaldate if INTERNALDATE). Unless IGNORE_UIDS, UIDs are part of the
    key and UIDVALIDITY and UIDNEXT must match too.
    """
    na, nb = names
    ma = {_norm_name(n, e["delimiter"]): e for n, e in a.items()}
    mb = {_norm_name(n, e["delimiter"]): e for n, e in b.items()}
    diffs = []
    for name in sorted(set(ma) | set(mb)):
        ea, eb = ma.get(name), mb.get(name)
        if ea is None or eb is None:
            side, e = (na, ea) if eb is None else (nb, eb)
            if not _selectable(e["attributes"]):
                what = "listed as " + " ".join(e["attributes"])
                if e["subscribed"]:
                    what += " (subscribed)"
                diffs.append(f"{name}: {what} only in {side}")
            else:
                diffs.append(f"{name}: mailbox only in {side}")
            continue
        sa, sb = _selectable(ea["attributes"]), _selectable(eb["attributes"])
        if sa != sb:
            diffs.append(f"{name}: selectable in {na if sa else nb} only")
        if subscriptions and ea["subscribed"] != eb["subscribed"]:
            diffs.append(f"{name}: subscribed in {na if ea['subscribed'] else nb} only")
        if not ignore_uids:
            for key in ("uidvalidity", "uidnext"):
                if ea[key] != eb[key]:
                    diffs.append(f"{name}: {key.upper()} {na}={ea[key]} {nb}={eb[key]}")
        diffs.extend(_compare_messages(name, ea["messages"], eb["messages"], ignore_uids,
                                       internaldate, flags, names))
    return diffs


def _message_key(m, ignore_uids, internaldate, flags):
    key = (m["sha256"], m["size"])
    key += (tuple(m["flags"]) if flags else None,)
    key += (m["internaldate"] if internaldate else None,)
    key += (None if ignore_uids else m["uid"],)
    return key


def _describe(key):
    sha, size, flags, date, uid = key
    parts = [] if uid is None else [f"uid={uid}"]
    parts.append(f"sha256={sha[:12]} size={size}")
    if flags is not None:
        parts.append("flags=(" + " ".join(flags) + ")")
    if date is not None:
        parts.append(f"date={date}")
    return " ".join(parts)


def _compare_messages(mailbox, la, lb, ignore_uids, internaldate, flags, names):
    ca = collections.Counter(_message_key(m, ignore_uids, internaldate, flags) for m in la)
    cb = collections.Counter(_message_key(m, ignore_uids, internaldate, flags) for m in lb)
    out = []
    for key in sorted(set(ca) | set(cb), key=lambda k: tuple(str(x) for x in k)):
        if ca[key] != cb[key]:
            out.append(f"{mailbox}: message {_describe(key)}: {ca[key]} in {names[0]}, "
                       f"{cb[key]} in {names[1]}")
    return out
