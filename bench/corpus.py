#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""corpus.py: a realistic, deterministic mail corpus for benchmarks, and a
fast loader into the rig's Dovecot stores (tests/rig).

Corpus (same SEED and sizes -> byte-identical messages, flags and dates):
  * message sizes: 91% 0.6-10 KiB, 8% 10-100 KiB, 1% 100 KiB-1 MiB
    (log-uniform inside each class); small ones are text/plain or
    multipart/alternative, bigger ones mostly carry a base64 attachment
    (incompressible, like real attachments) or a long HTML newsletter;
  * realistic headers: Return-Path, Delivered-To, Received chains,
    DKIM-Signature, From/To/Cc, Subject (Re:/Fwd:), Date with time zones,
    Message-ID, In-Reply-To/References, List-* headers in list folders,
    User-Agent/X-Mailer, X-Spam-Status;
  * flags: \\Seen (most), \\Answered, \\Flagged, \\Draft (Drafts),
    keywords $Forwarded, $MDNSent, $Junk, $NotJunk, $label1-5, todo;
  * spread over N mailboxes with a hierarchy (INBOX, Sent, Archive/2022,
    Lists/dovecot, ...), realistic weights (or uniform), INTERNALDATEs in
    2019-2024, UIDs in date order.

Loading (method "maildir", the default and the fastest): the messages are
written straight into the store's Maildir++ folder, owned by `mail`, as
cur/TIME.M...P...Q....bench,S=SIZE,W=VSIZE:2,FLAGS files (keywords as
letters listed in each folder's dovecot-keywords), the file mtime being the
INTERNALDATE. Then one IMAP session SUBSCRIBEs and STATUSes every mailbox,
which makes Dovecot build its index (dovecot-uidlist, UIDVALIDITY,
HIGHESTMODSEQ) and checks the message counts. Method "append" does the
same over IMAP (pipelined LITERAL+ APPENDs in one session) and is kept to
cross-check the Maildir writer (`corpus.py selftest`) and to compare times.

Usage:
  corpus.py stats [SPEC]                     sizes and flags, no I/O
  corpus.py selftest [SPEC]                  load both ways into a fresh rig,
                                             compare the dumps, print the times
  corpus.py load [SPEC] --dir RIGDIR --target T [--method maildir|append]
                                             into a started rig (rig.py start);
                                             T: store name, daemon0:alice, alice
SPEC: --seed S --messages N --mailboxes M [--layout realistic|uniform]
      [--big BYTES] (one message of BYTES in INBOX instead, for RSS tests)

Needs root for loading (files are chowned to `mail`). Python stdlib only.
"""

import argparse
import base64
import datetime
import hashlib
import math
import os
import pwd
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RIG_DIR = os.path.join(os.path.dirname(HERE), "tests", "rig")
if RIG_DIR not in sys.path:
    sys.path.insert(0, RIG_DIR)

KIB = 1024
MIB = 1024 * 1024

# Mailboxes, parents before children (a prefix of the list is consistent).
BASE_MAILBOXES = [
    ("INBOX", 22), ("Sent", 10), ("Archive", 4), ("Archive/2022", 9), ("Lists", 1),
    ("Lists/dovecot", 7), ("Drafts", 0.4), ("Trash", 3), ("Junk", 2), ("Work", 5),
    ("Work/Projects", 6), ("Archive/2023", 8), ("Lists/debian-devel", 6),
    ("Work/Reports", 2), ("Newsletters", 4), ("Receipts", 2), ("Family", 2),
    ("Travel", 1), ("Lists/lkml", 5), ("Archive/2021", 6),
]
YEARS = {"Archive/2021": 2021, "Archive/2022": 2022, "Archive/2023": 2023}
START = int(datetime.datetime(2019, 1, 1, tzinfo=datetime.timezone.utc).timestamp())
END = int(datetime.datetime(2024, 6, 1, tzinfo=datetime.timezone.utc).timestamp())

KEYWORDS = ["$Forwarded", "$MDNSent", "$Junk", "$NotJunk", "$label1", "$label2",
            "$label3", "$label4", "$label5", "todo"]
SYSTEM_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S",
                  "\\Deleted": "T"}

FIRST = ["Alice", "Bob", "Carol", "David", "Erin", "Frank", "Grace", "Heidi", "Ivan",
         "Judy", "Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent",
         "Victor", "Walter", "Yolanda", "Zoë", "Józef", "Ana", "Lukas", "Mei"]
LAST = ["Martin", "Bernard", "Dubois", "Smith", "Jones", "Müller", "Schmidt", "García",
        "Rossi", "Novak", "Kowalski", "Andersson", "Nguyen", "Tanaka", "Okafor", "Silva",
        "O'Brien", "Dupont", "Lefèvre", "Ivanova"]
DOMAINS = ["example.net", "example.com", "mail.example.org", "lists.example.org",
           "corp.example", "university.example.edu", "shop.example", "bank.example"]
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
          "Mutt/2.2.9 (2022-11-12)", "Microsoft Outlook 16.0", "Apple Mail (2.3731.700.6)",
          "Roundcube Webmail/1.6.5", "Evolution 3.46.4-2", "aerc 0.15.2"]
ZONES = ["+0000", "+0100", "+0200", "-0500", "-0800", "+0530", "+0900", "-0300"]
ATTACH = [("application/pdf", "pdf"), ("image/jpeg", "jpg"), ("image/png", "png"),
          ("application/zip", "zip"), ("application/vnd.oasis.opendocument.text", "odt")]


def mailbox_names(n):
    """The first N mailbox names: the 20 base ones, then Lists/lNNN."""
    names = [m for m, _ in BASE_MAILBOXES[:n]]
    names += [f"Lists/l{i:03d}" for i in range(n - len(names))]
    return names


def _weights(names, layout):
    base = dict(BASE_MAILBOXES)
    if layout == "uniform":
        return [1.0] * len(names)
    return [base.get(n, 1.0) for n in names]


def allocate(total, weights):
    """Split TOTAL over WEIGHTS by largest remainder (each >= 0)."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    counts = [int(x) for x in raw]
    left = total - sum(counts)
    order = sorted(range(len(raw)), key=lambda i: (counts[i] - raw[i], i))
    for i in order[:left]:
        counts[i] += 1
    return counts


class Spec:
    """What to generate. BIG: one message of BIG bytes in INBOX only."""

    def __init__(self, seed=1, messages=5000, mailboxes=20, layout="realistic", big=None):
        self.seed, self.messages, self.mailboxes = seed, messages, mailboxes
        self.layout, self.big = layout, big

    def describe(self):
        return {"seed": self.seed, "messages": self.messages, "mailboxes": self.mailboxes,
                "layout": self.layout, "big": self.big}

    def mailbox_names(self):
        return ["INBOX"] if self.big else mailbox_names(self.mailboxes)

    def counts(self):
        names = self.mailbox_names()
        if self.big:
            return {"INBOX": 1}
        return dict(zip(names, allocate(self.messages, _weights(names, self.layout))))


class Message:
    __slots__ = ("mailbox", "data", "flags", "internaldate")

    def __init__(self, mailbox, data, flags, internaldate):
        self.mailbox = mailbox          # IMAP name, '/' hierarchy
        self.data = data                # bytes, LF line ends, no CR
        self.flags = flags              # list of flags and keywords
        self.internaldate = internaldate  # Unix time


# --- text ------------------------------------------------------------------------

class TextPool:
    """Pseudo-English lines (about 72 columns, paragraphs) to slice bodies from."""

    def __init__(self, seed, size=768 * KIB):
        rng = random.Random(f"pool:{seed}")
        syll = ["an", "ber", "con", "de", "el", "for", "gen", "ha", "in", "ject", "ka", "lo",
                "men", "no", "or", "per", "qua", "re", "sion", "ta", "un", "ver", "wi",
                "x", "ya", "ze", "tion", "st", "ing", "ou", "ly", "pro", "com", "mo"]
        small = ["the", "a", "of", "to", "and", "in", "is", "it", "that", "for", "on",
                 "we", "you", "this", "be", "with", "as", "not", "are", "at", "or", "if"]
        words = [w for w in ("".join(rng.choice(syll) for _ in range(rng.choice((1, 2, 2, 3, 3, 4))))
                             for _ in range(3000))]
        lines, total, line = [], 0, []
        width = 0
        while total < size:
            w = rng.choice(small) if rng.random() < 0.4 else rng.choice(words)
            if rng.random() < 0.06:
                w += rng.choice(".,.,;:?")
            if width + len(w) + 1 > 72:
                text = " ".join(line)
                lines.append(text)
                total += len(text) + 1
                line, width = [], 0
                if rng.random() < 0.12:
                    lines.append("")
                    total += 1
            line.append(w)
            width += len(w) + 1
        self.lines = lines
        self.words = words

    def text(self, rng, nbytes, quote=False):
        """About NBYTES of lines from a random place (wrapping)."""
        out, n = [], 0
        i = rng.randrange(len(self.lines))
        while n < nbytes:
            line = self.lines[i % len(self.lines)]
            if quote and line:
                line = "> " + line
            out.append(line)
            n += len(line) + 1
            i += 1
        return "\n".join(out) + "\n"

    def phrase(self, rng, lo=2, hi=8):
        return " ".join(rng.choice(self.words) for _ in range(rng.randint(lo, hi))).capitalize()


def _b64_lines(data):
    return base64.encodebytes(data).decode("ascii")     # 76 columns, LF


def _date_header(ts, rng):
    zone = rng.choice(ZONES)
    sign = 1 if zone[0] == "+" else -1
    off = sign * (int(zone[1:3]) * 3600 + int(zone[3:5]) * 60)
    d = datetime.datetime.fromtimestamp(ts + off, datetime.timezone.utc)
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
              "Nov", "Dec"]
    return (f"{days[d.weekday()]}, {d.day} {months[d.month - 1]} {d.year} "
            f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {zone}")


def _address(rng):
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = (first + "." + last).lower().replace("'", "")
    local = local.encode("ascii", "ignore").decode()
    dom = rng.choice(DOMAINS)
    display = f"{first} {last}"
    if not display.isascii():      # RFC 2047 encoded-word, like real mailers
        display = "=?UTF-8?B?" + base64.b64encode(display.encode()).decode() + "?="
    elif "'" in display:
        display = f'"{display}"'
    return f"{display} <{local}@{dom}>", f"{local}@{dom}"


class Generator:
    def __init__(self, spec):
        self.spec = spec
        self.pool = TextPool(spec.seed)

    # sizes: 91% 0.6-10 KiB, 8% 10-100 KiB, 1% 100 KiB-1 MiB, log-uniform
    @staticmethod
    def size(rng):
        r = rng.random()
        lo, hi = ((100 * KIB, MIB) if r < 0.01 else (10 * KIB, 100 * KIB) if r < 0.09
                  else (600, 10 * KIB))
        return int(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def flags(self, rng, mailbox):
        f = []
        seen = {"INBOX": 0.7, "Junk": 0.3, "Drafts": 1.0, "Sent": 1.0}.get(mailbox, 0.93)
        if rng.random() < seen:
            f.append("\\Seen")
        if mailbox == "Drafts":
            f.append("\\Draft")
        if mailbox not in ("Sent", "Drafts", "Junk") and rng.random() < 0.08:
            f.append("\\Answered")
        if rng.random() < 0.04:
            f.append("\\Flagged")
        if mailbox == "Junk":
            f.append("$Junk")
        elif mailbox == "INBOX" and rng.random() < 0.05:
            f.append("$NotJunk")
        for kw, p in (("$Forwarded", 0.03), ("$MDNSent", 0.01), ("$label1", 0.02),
                      ("$label2", 0.02), ("$label3", 0.015), ("$label4", 0.01),
                      ("$label5", 0.01), ("todo", 0.02)):
            if rng.random() < p:
                f.append(kw)
        return f

    def headers(self, rng, mailbox, ts, size_hint):
        me_disp, me = "Alice Example <alice@example.org>", "alice@example.org"
        frm_disp, frm = _address(rng)
        if mailbox in ("Sent", "Drafts"):
            (frm_disp, frm), to_disp = (me_disp, me), _address(rng)[0]
        else:
            to_disp = me_disp
        listname = None
        if mailbox.startswith("Lists/"):
            listname = mailbox.split("/", 1)[1]
            to_disp = f"{listname}@lists.example.org"
        date = _date_header(ts - rng.randint(1, 600), rng)
        mid_dom = frm.split("@")[1]
        mid = f"<{rng.getrandbits(64):016x}.{rng.getrandbits(24):06x}@{mid_dom}>"
        h = [f"Return-Path: <{frm}>"]
        if mailbox not in ("Sent", "Drafts"):
            h.append(f"Delivered-To: {me}")
            for hop in range(rng.randint(1, 3)):
                n = rng.randint(1, 9)
                rdate = _date_header(ts - hop * rng.randint(0, 3), rng)
                h.append(f"Received: from mx{n}.{mid_dom} (mx{n}.{mid_dom} "
                         f"[198.51.100.{rng.randint(1, 254)}])\n\tby mail.example.org "
                         f"(Postfix) with ESMTPS id {rng.getrandbits(40):010X}\n\t"
                         f"for <{me}>; {rdate}")
            if rng.random() < 0.55 and size_hint > 2500:
                sig = base64.b64encode(rng.randbytes(256)).decode()
                bh = base64.b64encode(rng.randbytes(32)).decode()
                folded = "\n\t ".join(sig[i:i + 70] for i in range(0, len(sig), 70))
                h.append(f"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; "
                         f"d={mid_dom};\n\ts=s{rng.randint(2019, 2024)}; "
                         f"t={ts}; h=from:to:subject:date:message-id;\n\tbh={bh};\n\tb={folded}")
            if rng.random() < 0.3:
                score = rng.uniform(-3, 4)
                h.append(f"X-Spam-Status: No, score={score:.1f} required=5.0 "
                         f"tests=BAYES_00,DKIM_SIGNED,DKIM_VALID autolearn=ham")
        subject = self.pool.phrase(rng)
        reply = rng.random() < 0.35
        if reply:
            subject = rng.choice(["Re: ", "Re: ", "RE: ", "Fwd: "]) + subject
        if listname:
            subject = f"[{listname}] " + subject
        h += [f"From: {frm_disp}", f"To: {to_disp}"]
        if rng.random() < 0.2:
            h.append("Cc: " + ", ".join(_address(rng)[0] for _ in range(rng.randint(1, 3))))
        h += [f"Subject: {subject}", f"Date: {date}", f"Message-ID: {mid}"]
        if reply:
            refs = [f"<{rng.getrandbits(64):016x}@{rng.choice(DOMAINS)}>"
                    for _ in range(rng.randint(1, 4))]
            h.append(f"In-Reply-To: {refs[-1]}")
            h.append("References: " + "\n ".join(refs))
        if listname or mailbox == "Newsletters":
            lid = listname or "news"
            h += [f"List-Id: <{lid}.lists.example.org>",
                  f"List-Unsubscribe: <mailto:{lid}-request@lists.example.org?subject=unsubscribe>",
                  "Precedence: list"]
        h.append(("User-Agent: " if rng.random() < 0.6 else "X-Mailer: ") + rng.choice(AGENTS))
        h.append("MIME-Version: 1.0")
        return h

    def body(self, rng, mailbox, target, head_len):
        """Content-Type header lines + body, about TARGET - HEAD_LEN bytes."""
        room = max(target - head_len - 60, 80)
        boundary = f"=_{rng.getrandbits(64):016x}"
        if target >= 10 * KIB and (rng.random() < 0.7 or target >= 100 * KIB and rng.random() < 0.85):
            ctype, ext = rng.choice(ATTACH)
            text = self.pool.text(rng, rng.randint(200, 1500))
            blob = max(room - len(text) - 400, 64) * 3 // 4 * 76 // 77
            att = _b64_lines(rng.randbytes(blob))
            name = self.pool.phrase(rng, 1, 3).replace(" ", "_") + "." + ext
            return ([f'Content-Type: multipart/mixed; boundary="{boundary}"'],
                    "This is a multi-part message in MIME format.\n\n"
                    f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                    f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
                    f"--{boundary}\nContent-Type: {ctype}; name=\"{name}\"\n"
                    f"Content-Disposition: attachment; filename=\"{name}\"\n"
                    f"Content-Transfer-Encoding: base64\n\n{att}--{boundary}--\n")
        if target >= 4 * KIB and (mailbox == "Newsletters" or rng.random() < 0.3):
            # multipart/alternative: text + HTML (about 60% of the room)
            part = max(room * 2 // 5, 40)
            text = self.pool.text(rng, part)
            paras = self.pool.text(rng, max(room - part - 400, 40) * 3 // 4).split("\n\n")
            html = ("<html><head><meta charset=\"utf-8\"></head><body>\n" +
                    "".join(f'<p style="margin:0 0 1em 0;font-family:sans-serif">{p}</p>\n'
                            for p in paras) + "</body></html>\n")
            return ([f'Content-Type: multipart/alternative; boundary="{boundary}"'],
                    f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                    f"Content-Transfer-Encoding: 8bit\n\n{text}\n"
                    f"--{boundary}\nContent-Type: text/html; charset=utf-8\n"
                    f"Content-Transfer-Encoding: 8bit\n\n{html}\n--{boundary}--\n")
        quote = rng.random() < 0.3
        if quote:
            own = self.pool.text(rng, max(room // 3, 40))
            body = own + "\nOn some day, someone wrote:\n" + self.pool.text(rng, room - len(own), True)
        else:
            body = self.pool.text(rng, room)
        if rng.random() < 0.5:
            body += "\n-- \n" + rng.choice(FIRST) + "\n"
        return (["Content-Type: text/plain; charset=utf-8; format=flowed",
                 "Content-Transfer-Encoding: 8bit"], body)

    def message(self, rng, mailbox, ts, target=None):
        target = target or self.size(rng)
        h = self.headers(rng, mailbox, ts, target)
        head_len = sum(len(x.encode()) + 1 for x in h) + 80
        ct, body = self.body(rng, mailbox, target, head_len)
        data = ("\n".join(h + ct) + "\n\n" + body).encode("utf-8")
        return Message(mailbox, data, self.flags(rng, mailbox), ts)

    def big_message(self, size):
        """One message of about SIZE bytes: a short note and a base64 video."""
        rng = random.Random(f"big:{self.spec.seed}:{size}")
        ts = START + 86400 * 400
        boundary = f"=_{rng.getrandbits(64):016x}"
        h = self.headers(rng, "INBOX", ts, 3000)
        text = self.pool.text(rng, 600)
        head = ("\n".join(h) + f'\nContent-Type: multipart/mixed; boundary="{boundary}"\n\n'
                f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n"
                f"Content-Transfer-Encoding: 8bit\n\n{text}\n--{boundary}\n"
                "Content-Type: video/mp4; name=\"holiday.mp4\"\n"
                "Content-Disposition: attachment; filename=\"holiday.mp4\"\n"
                "Content-Transfer-Encoding: base64\n\n").encode()
        tail = f"--{boundary}--\n".encode()
        raw = (size - len(head) - len(tail)) * 57 // 77
        data = head + base64.encodebytes(rng.randbytes(raw)) + tail
        return Message("INBOX", data, ["\\Seen"], ts)

    def messages(self):
        """Every message, mailbox by mailbox, in INTERNALDATE order."""
        if self.spec.big:
            yield self.big_message(self.spec.big)
            return
        for mailbox, n in self.spec.counts().items():
            rng = random.Random(f"{self.spec.seed}:{mailbox}")
            year = YEARS.get(mailbox)
            lo, hi = ((int(datetime.datetime(year, 1, 1, tzinfo=datetime.timezone.utc).timestamp()),
                       int(datetime.datetime(year + 1, 1, 1, tzinfo=datetime.timezone.utc).timestamp()))
                      if year else (START, END))
            for ts in sorted(rng.randint(lo, hi) for _ in range(n)):
                yield self.message(rng, mailbox, ts)

    def extra(self, tag, mailboxes, n):
        """N new messages (for resync scenarios), spread over MAILBOXES,
        deterministic in (seed, TAG); INTERNALDATEs after the corpus."""
        rng = random.Random(f"{self.spec.seed}:extra:{tag}")
        out = []
        for i in range(n):
            mailbox = rng.choice(mailboxes)
            out.append(self.message(rng, mailbox, END + 3600 * i + rng.randint(0, 3599)))
        return out


# --- loading ---------------------------------------------------------------------

def mail_ids():
    pw = pwd.getpwnam("mail")
    return pw.pw_uid, pw.pw_gid


def folder_dir(root, mailbox):
    """Maildir++ folder of MAILBOX ('/' hierarchy) under ROOT."""
    if mailbox.upper() == "INBOX":
        return root
    if "." in mailbox:
        raise ValueError(f"{mailbox!r}: '.' cannot appear in a Maildir++ name here")
    return os.path.join(root, "." + mailbox.replace("/", "."))


class MaildirWriter:
    """Write messages as Maildir files owned by mail (the fast loader)."""

    def __init__(self, root):
        self.root = root
        self.uid, self.gid = mail_ids()
        self.ready = set()
        self.seq = 0
        self.count = 0
        self.bytes = 0
        self.kwletter = {k: chr(ord("a") + i) for i, k in enumerate(KEYWORDS)}

    def _mkdir(self, path):
        if not os.path.isdir(path):
            os.mkdir(path, 0o700)
            os.chown(path, self.uid, self.gid)

    def _write(self, path, data, mode=0o600):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
            os.fchown(fd, self.uid, self.gid)
        finally:
            os.close(fd)

    def folder(self, mailbox):
        d = folder_dir(self.root, mailbox)
        if d in self.ready:
            return d
        self._mkdir(self.root)
        self._mkdir(d)
        for sub in ("cur", "new", "tmp"):
            self._mkdir(os.path.join(d, sub))
        if d != self.root:
            self._write(os.path.join(d, "maildirfolder"), b"")
        kw = "".join(f"{i} {k}\n" for i, k in enumerate(KEYWORDS)).encode()
        self._write(os.path.join(d, "dovecot-keywords"), kw)
        self.ready.add(d)
        return d

    def add(self, msg):
        d = self.folder(msg.mailbox)
        data = msg.data
        if b"\r" in data:
            raise ValueError("messages must have LF line ends only")
        self.seq += 1
        letters = sorted(SYSTEM_LETTERS[f] if f.startswith("\\") else self.kwletter[f]
                         for f in msg.flags)
        vsize = len(data) + data.count(b"\n")
        name = (f"{msg.internaldate}.M{self.seq:06d}P{os.getpid()}Q{self.seq}.bench,"
                f"S={len(data)},W={vsize}:2,{''.join(letters)}")
        path = os.path.join(d, "cur", name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchown(fd, self.uid, self.gid)
        finally:
            os.close(fd)
        os.utime(path, (msg.internaldate, msg.internaldate))
        self.count += 1
        self.bytes += len(data)


def crlf(data):
    return data.replace(b"\n", b"\r\n")


def append_all(target, msgs, batch=64):
    """APPEND every message over one IMAP session, pipelined with LITERAL+
    (each command carries its literal; responses read per batch)."""
    from qrrig.imap import mailbox_arg
    from qrrig.mail import imap_date
    created = set()
    count = nbytes = 0
    with target.session() as c:
        existing = {m.upper() if m.upper() == "INBOX" else m for m in _list_names(c)}
        pending = []

        def drain():
            for tag in pending:
                while True:
                    r = c.read_response()
                    if r.tag == tag:
                        if r.kind != "OK":
                            raise RuntimeError(f"APPEND failed: {r.raw[:200]!r}")
                        break
            pending.clear()

        for m in msgs:
            if m.mailbox not in existing and m.mailbox not in created:
                drain()
                c.command("CREATE", mailbox_arg(m.mailbox))
                created.add(m.mailbox)
            data = crlf(m.data)
            tag = c._next_tag()
            c.send(f"{tag} APPEND {mailbox_arg(m.mailbox)} ({' '.join(m.flags)}) "
                   f"\"{imap_date(m.internaldate)}\" {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
            pending.append(tag)
            count += 1
            nbytes += len(m.data)
            if len(pending) >= batch:
                drain()
        drain()
    return count, nbytes


def _list_names(c):
    from qrrig.imap import mutf7_decode
    out = []
    for r in c.command("LIST", '""', '"*"').responses("LIST"):
        name = r.data[2]
        if isinstance(name, bytes):
            name = name.decode()
        out.append(mutf7_decode(name))
    return out


def warm(target, names, expect=None, subscribe=True):
    """One IMAP session: SUBSCRIBE and STATUS each mailbox (Dovecot indexes
    it now); check the message counts against EXPECT {name: count}."""
    from qrrig.imap import mailbox_arg
    got = {}
    with target.session() as c:
        for name in names:
            if subscribe:
                c.command("SUBSCRIBE", mailbox_arg(name))
            res = c.command("STATUS", mailbox_arg(name), "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)")
            items = res.responses("STATUS")[0].data[1]
            st = {items[i].upper(): int(items[i + 1]) for i in range(0, len(items), 2)}
            got[name] = st["MESSAGES"]
    if expect is not None:
        bad = {k: (got.get(k), v) for k, v in expect.items() if got.get(k) != v}
        if bad:
            raise RuntimeError(f"message counts differ (got, expected): {bad}")
    return got


def load(target, spec, method="maildir"):
    """Load SPEC's corpus into TARGET (a qrrig Store or DaemonUser, empty).
    Returns a dict of timings (seconds) and sizes."""
    t0 = time.monotonic()
    gen = Generator(spec)
    names = spec.mailbox_names()
    gen_s = 0.0
    if method == "maildir":
        w = MaildirWriter(target.maildir)
        for name in names:
            w.folder(name)
        it = gen.messages()
        while True:
            g0 = time.monotonic()
            m = next(it, None)
            gen_s += time.monotonic() - g0
            if m is None:
                break
            w.add(m)
        count, nbytes = w.count, w.bytes
    elif method == "append":
        g0 = time.monotonic()
        msgs = list(gen.messages())
        gen_s = time.monotonic() - g0
        from qrrig.imap import mailbox_arg
        with target.session() as c:
            have = set(_list_names(c))
            for name in names:
                if name not in have and name.upper() != "INBOX":
                    c.command("CREATE", mailbox_arg(name))
        count, nbytes = append_all(target, msgs)
    else:
        raise ValueError(f"unknown method {method!r}")
    t1 = time.monotonic()
    warm(target, names, spec.counts())
    t2 = time.monotonic()
    return {"method": method, "messages": count, "bytes": nbytes, "mailboxes": len(names),
            "generate_s": round(gen_s, 3), "write_s": round(t1 - t0 - gen_s, 3),
            "index_s": round(t2 - t1, 3), "total_s": round(t2 - t0, 3)}


# --- statistics -------------------------------------------------------------------

def stats(spec):
    gen = Generator(spec)
    sizes, flags, per_box = [], {}, {}
    t0 = time.monotonic()
    digest = hashlib.sha256()
    for m in gen.messages():
        sizes.append(len(m.data))
        digest.update(m.data)
        digest.update(" ".join(m.flags).encode())
        per_box[m.mailbox] = per_box.get(m.mailbox, 0) + 1
        for f in m.flags:
            flags[f] = flags.get(f, 0) + 1
    dt = time.monotonic() - t0
    n = len(sizes)
    sizes.sort()
    classes = [sum(1 for s in sizes if s < 10 * KIB), sum(1 for s in sizes if 10 * KIB <= s < 100 * KIB),
               sum(1 for s in sizes if s >= 100 * KIB)]
    return {"spec": spec.describe(), "messages": n, "bytes": sum(sizes),
            "min": sizes[0], "median": sizes[n // 2], "max": sizes[-1],
            "classes_pct": [round(100 * c / n, 2) for c in classes],
            "flags": dict(sorted(flags.items())), "mailboxes": per_box,
            "sha256": digest.hexdigest(), "generate_s": round(dt, 3)}


# --- command line -------------------------------------------------------------------

def add_spec_options(p):
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--messages", type=int, default=5000)
    p.add_argument("--mailboxes", type=int, default=20)
    p.add_argument("--layout", choices=("realistic", "uniform"), default="realistic")
    p.add_argument("--big", type=int, default=None, metavar="BYTES",
                   help="one message of BYTES in INBOX instead of the corpus")


def spec_from(args):
    return Spec(args.seed, args.messages, args.mailboxes, args.layout, args.big)


def cmd_selftest(args):
    from qrrig import Rig, compare_dumps
    spec = spec_from(args)
    with Rig() as rig:
        a = rig.store("maildir")
        b = rig.store("append")
        d = rig.daemon(users={"alice": "alice-Secret-1"})
        ta = load(a, spec, "maildir")
        print("maildir into a tunnel store:", ta)
        td = load(d.user("alice"), spec, "maildir")
        print("maildir into a daemon user: ", td)
        tb = load(b, spec, "append")
        print("IMAP APPEND (LITERAL+):     ", tb)
        t0 = time.monotonic()
        da, db, dd = a.dump(), b.dump(), d.user("alice").dump()
        diffs = compare_dumps(da, db, names=("maildir", "append"))
        diffs += compare_dumps(dd, db, names=("daemon", "append"))
        print(f"dumps compared in {time.monotonic() - t0:.1f} s: "
              f"{sum(len(v['messages']) for v in da.values())} messages")
        order_ok = all([m["internaldate"] for m in e["messages"]] ==
                       sorted(m["internaldate"] for m in e["messages"]) for e in da.values())
        if not order_ok:
            diffs.append("maildir store: UIDs not in INTERNALDATE order")
        for line in diffs[:30]:
            print("DIFF", line)
        print("selftest:", "ok" if not diffs else f"{len(diffs)} differences")
        return 0 if not diffs else 1


def cmd_load(args):
    from qrrig import Rig
    rig = Rig.load(args.dir)
    t = args.target
    if t in rig.stores:
        target = rig.stores[t]
    else:
        name, _, user = t.partition(":")
        if name in rig.daemons:
            target = rig.daemons[name].user(user or None)
        else:
            target = next(d.users[t] for d in rig.daemons.values() if t in d.users)
    print(load(target, spec_from(args), args.method))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("stats", help="sizes and flags of the corpus, no I/O")
    add_spec_options(s)
    s = sub.add_parser("selftest", help="load both ways into a fresh rig and compare")
    add_spec_options(s)
    s = sub.add_parser("load", help="load into a started rig")
    add_spec_options(s)
    s.add_argument("--dir", default=os.environ.get("QR_RIG_DIR"), required=False)
    s.add_argument("--target", required=True)
    s.add_argument("--method", choices=("maildir", "append"), default="maildir")
    args = p.parse_args(argv)
    if args.cmd == "stats":
        import json
        print(json.dumps(stats(spec_from(args)), indent=2))
        return 0
    if args.cmd == "selftest":
        return cmd_selftest(args)
    return cmd_load(args)


if __name__ == "__main__":
    sys.exit(main())
