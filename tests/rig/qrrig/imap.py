# SPDX-License-Identifier: LGPL-2.1-or-later
"""A small, strict IMAP client for driving test servers.

It talks over a tunnel (a child process's stdin/stdout), a TCP socket, or
TLS, and can STARTTLS, COMPRESS=DEFLATE and AUTHENTICATE (PLAIN,
SCRAM-SHA-1, SCRAM-SHA-256). Responses are parsed into tokens: atoms and
quoted strings become `str`, literals `bytes`, NIL `None`, parenthesised
lists `list`. Mailbox names are converted to and from modified UTF-7.
"""

import base64
import hashlib
import hmac
import os
import re
import select
import socket
import ssl
import subprocess
import time
import zlib

from .system import RigError

LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
STATUS_WORDS = ("OK", "NO", "BAD", "BYE", "PREAUTH")


class ImapError(RigError):
    """Protocol failure, timeout, or a NO/BAD answer (then .status is set)."""

    def __init__(self, message, status=None, code=None, text=None):
        super().__init__(message)
        self.status, self.code, self.text = status, code, text


# --- transports ------------------------------------------------------------

class PipeTransport:
    """A child process (tunnel): we write its stdin and read its stdout."""

    def __init__(self, argv, env=None, stderr=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=stderr, env=env, bufsize=0)
        self.fd = self.proc.stdout.fileno()

    def read(self, timeout):
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise ImapError(f"timeout after {timeout}s waiting for the tunnel")
        return os.read(self.fd, 65536)

    def write(self, data):
        try:
            self.proc.stdin.write(data)
        except BrokenPipeError as e:
            raise ImapError("tunnel closed its input") from e

    def close(self):
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class SocketTransport:
    """A TCP socket, possibly wrapped in TLS (also later, by STARTTLS)."""

    def __init__(self, sock):
        self.sock = sock

    def read(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536)
        except socket.timeout as e:
            raise ImapError(f"timeout after {timeout}s waiting for the server") from e

    def write(self, data):
        self.sock.sendall(data)

    def starttls(self, context, server_hostname):
        self.sock.settimeout(None)
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class DeflateTransport:
    """RFC 4978 COMPRESS=DEFLATE over another transport (raw deflate, sync flush)."""

    def __init__(self, inner):
        self.inner = inner
        self.comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decomp = zlib.decompressobj(-15)

    def read(self, timeout):
        while True:
            data = self.inner.read(timeout)
            if not data:
                return b""
            out = self.decomp.decompress(data)
            if out:
                return out

    def write(self, data):
        self.inner.write(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def close(self):
        self.inner.close()


# --- response parsing --------------------------------------------------------

class Response:
    """One server response.

    tag: '*', '+' or the command tag. For status responses (OK/NO/BAD/BYE/
    PREAUTH) `kind` is that word, `code` the response code as a token list
    (e.g. ['UIDVALIDITY', '42']) or None, `text` the human text. For other
    untagged data `kind` is the keyword (CAPABILITY, LIST, FETCH, EXISTS...),
    `number` the leading number if any, and `data` the parsed tokens after
    the keyword. `raw` is the whole response as received.
    """

    def __init__(self, raw):
        self.raw = raw
        self.tag = self.kind = self.code = self.text = self.number = None
        self.data = []
        self._parse()

    def __repr__(self):
        return f"Response({self.raw[:200]!r})"

    def _parse(self):
        raw = self.raw
        sp = raw.find(b" ")
        if raw.startswith(b"+"):
            self.tag, self.kind = "+", "CONTINUE"
            self.text = raw[2:].rstrip(b"\r\n").decode("utf-8", "replace")
            return
        if sp <= 0:
            raise ImapError(f"malformed response {raw[:200]!r}")
        self.tag = raw[:sp].decode("ascii", "replace")
        pos = sp + 1
        word, pos = _atom(raw, pos)
        if word.isdigit():
            self.number = int(word)
            pos = _skip_sp(raw, pos)
            word, pos = _atom(raw, pos)
        self.kind = word.upper()
        if self.kind in STATUS_WORDS and self.number is None:
            self._parse_status(raw, pos)
        else:
            self.data = parse_tokens(raw, pos)

    def _parse_status(self, raw, pos):
        pos = _skip_sp(raw, pos)
        if raw[pos:pos + 1] == b"[":
            depth, end = 0, pos
            while end < len(raw):
                c = raw[end:end + 1]
                if c == b"[":
                    depth += 1
                elif c == b"]":
                    depth -= 1
                    if depth == 0:
                        break
                end += 1
            self.code = parse_tokens(raw[pos + 1:end] + b"\r\n", 0)
            pos = _skip_sp(raw, end + 1)
        self.text = raw[pos:].rstrip(b"\r\n").decode("utf-8", "replace")

    def code_name(self):
        """Upper-case name of the response code, or None."""
        return self.code[0].upper() if self.code else None


def _skip_sp(buf, pos):
    while buf[pos:pos + 1] == b" ":
        pos += 1
    return pos


def _atom(buf, pos):
    """Read an atom (brackets may enclose spaces: BODY[HEADER.FIELDS (A B)])."""
    start, depth = pos, 0
    while pos < len(buf):
        c = buf[pos:pos + 1]
        if c == b"[":
            depth += 1
        elif c == b"]":
            depth -= 1
        elif depth == 0 and c in (b" ", b"(", b")", b"\r", b"\n"):
            break
        pos += 1
    return buf[start:pos].decode("utf-8", "replace"), pos


def parse_tokens(buf, pos=0):
    """Parse IMAP data from POS to the end of BUF into a token list."""
    stack = [[]]
    while pos < len(buf):
        c = buf[pos:pos + 1]
        if c in (b" ", b"\r", b"\n"):
            pos += 1
        elif c == b"(":
            stack.append([])
            pos += 1
        elif c == b")":
            if len(stack) == 1:
                raise ImapError(f"unbalanced ')' in {buf[:200]!r}")
            done = stack.pop()
            stack[-1].append(done)
            pos += 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while True:
                if pos >= len(buf):
                    raise ImapError(f"unterminated quoted string in {buf[:200]!r}")
                ch = buf[pos:pos + 1]
                if ch == b"\\":
                    out += buf[pos + 1:pos + 2]
                    pos += 2
                elif ch == b'"':
                    pos += 1
                    break
                else:
                    out += ch
                    pos += 1
            stack[-1].append(out.decode("utf-8", "replace"))
        elif c == b"{":
            m = re.compile(rb"\{(\d+)\+?\}\r\n").match(buf, pos)
            if not m:
                raise ImapError(f"bad literal in {buf[:200]!r}")
            n = int(m.group(1))
            stack[-1].append(bytes(buf[m.end():m.end() + n]))
            pos = m.end() + n
        else:
            word, pos = _atom(buf, pos)
            stack[-1].append(None if word.upper() == "NIL" else word)
    if len(stack) != 1:
        raise ImapError(f"unbalanced '(' in {buf[:200]!r}")
    return stack[0]


# --- command arguments ----------------------------------------------------------

class Literal:
    """A command argument sent as a synchronising literal {N}."""

    def __init__(self, data):
        self.data = data if isinstance(data, bytes) else data.encode("utf-8")


def quote(s):
    """A quoted string, or a Literal if S cannot be quoted."""
    if any(c in s for c in "\r\n\0") or not s.isascii():
        return Literal(s)
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def mailbox_arg(name):
    """A mailbox name as a command argument (modified UTF-7, quoted)."""
    return quote(mutf7_encode(name))


def sequence_set(uids):
    """'1:3,7' from an int or an iterable of ints (or a ready string)."""
    if isinstance(uids, str):
        return uids
    if isinstance(uids, int):
        uids = [uids]
    nums = sorted(set(int(u) for u in uids))
    if not nums:
        raise RigError("empty UID set")
    parts, start, prev = [], nums[0], nums[0]
    for n in nums[1:] + [None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        if n is not None:
            start = prev = n
    return ",".join(parts)


# --- modified UTF-7 (RFC 3501 5.1.3) ------------------------------------------------

def mutf7_encode(name):
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            b64 = base64.b64encode(b).decode("ascii").rstrip("=").replace("/", ",")
            out.append("&" + b64 + "-")
            buf.clear()
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    out, pos = [], 0
    while pos < len(name):
        amp = name.find("&", pos)
        if amp < 0:
            out.append(name[pos:])
            break
        out.append(name[pos:amp])
        end = name.index("-", amp)
        chunk = name[amp + 1:end]
        if not chunk:
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        pos = end + 1
    return "".join(out)


# --- SCRAM (RFC 5802 / 7677) ---------------------------------------------------------

class ScramClient:
    """Client side of SCRAM-SHA-1 / SCRAM-SHA-256 without channel binding."""

    def __init__(self, user, password, hash_name="sha256", nonce=None):
        self.hash = hash_name
        self.password = password.encode("utf-8")
        self.nonce = nonce or base64.b64encode(os.urandom(18)).decode("ascii")
        user = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = f"n={user},r={self.nonce}"
        self.server_signature = None

    def first(self):
        return ("n,," + self.first_bare).encode("utf-8")

    def final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode("utf-8").split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ImapError("SCRAM: server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac(self.hash, self.password, base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", self.hash).digest()
        stored_key = hashlib.new(self.hash, client_key).digest()
        without_proof = "c=" + base64.b64encode(b"n,,").decode("ascii") + ",r=" + attrs["r"]
        auth_message = ",".join([self.first_bare, server_first.decode("utf-8"), without_proof])
        signature = hmac.new(stored_key, auth_message.encode("utf-8"), self.hash).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.new(salted, b"Server Key", self.hash).digest()
        self.server_signature = hmac.new(server_key, auth_message.encode("utf-8"),
                                         self.hash).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode("ascii")).encode("utf-8")

    def verify(self, server_final):
        attrs = dict(kv.split("=", 1) for kv in server_final.decode("utf-8").split(","))
        if "e" in attrs:
            raise ImapError(f"SCRAM: server error {attrs['e']}")
        if base64.b64decode(attrs.get("v", "")) != self.server_signature:
            raise ImapError("SCRAM: wrong server signature")
        return b""


# --- the client ---------------------------------------------------------------------

class Result:
    """Outcome of a tagged command: status, code, text and untagged responses."""

    def __init__(self, status, code, text, untagged):
        self.status, self.code, self.text, self.untagged = status, code, text, untagged

    def responses(self, kind):
        """Untagged responses of one kind (e.g. 'LIST', 'FETCH')."""
        return [r for r in self.untagged if r.kind == kind.upper()]

    def codes(self):
        """Response codes of the untagged OK responses and of the tagged
        response, as a dict NAME -> remaining tokens."""
        out = {}
        for r in self.untagged:
            if r.kind == "OK" and r.code:
                out[r.code[0].upper()] = r.code[1:]
        if self.code:
            out[self.code[0].upper()] = self.code[1:]
        return out


class ImapClient:
    """An IMAP connection. Use tunnel() or connect() to make one."""

    def __init__(self, transport, timeout=30.0):
        self.transport = transport
        self.timeout = timeout
        self._buf = b""
        self._tagnum = 0
        self.capabilities = set()
        self.greeting = self.read_response()
        if self.greeting.tag != "*" or self.greeting.kind not in ("OK", "PREAUTH", "BYE"):
            raise ImapError(f"bad greeting {self.greeting.raw!r}")
        self._note_capabilities(self.greeting)

    @classmethod
    def tunnel(cls, argv, env=None, stderr=None, timeout=30.0):
        """Start ARGV as a tunnel (its stdin/stdout carry IMAP)."""
        t = PipeTransport(argv, env=env, stderr=stderr)
        try:
            return cls(t, timeout)
        except BaseException:
            t.close()
            raise

    @classmethod
    def connect(cls, host, port, ssl_context=None, server_hostname=None, timeout=30.0):
        """Connect over TCP; with SSL_CONTEXT, TLS from the start (imaps)."""
        sock = socket.create_connection((host, port), timeout=timeout)
        try:
            if ssl_context is not None:
                sock = ssl_context.wrap_socket(sock, server_hostname=server_hostname)
            return cls(SocketTransport(sock), timeout)
        except BaseException:
            sock.close()
            raise

    # -- low level

    def _fill(self):
        data = self.transport.read(self.timeout)
        if not data:
            raise ImapError("connection closed by the server")
        self._buf += data

    def _read_line(self):
        while True:
            i = self._buf.find(b"\r\n")
            if i >= 0:
                line, self._buf = self._buf[:i + 2], self._buf[i + 2:]
                return line
            self._fill()

    def _read_exact(self, n):
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def read_response(self):
        """Read one complete response (with its literals) and parse it."""
        raw = b""
        while True:
            line = self._read_line()
            raw += line
            m = LITERAL_AT_END.search(line)
            if not m:
                return Response(raw)
            raw += self._read_exact(int(m.group(1)))

    def send(self, data):
        self.transport.write(data)

    def _note_capabilities(self, resp):
        if resp.kind == "CAPABILITY":
            self.capabilities = {str(t).upper() for t in resp.data}
        elif resp.code and resp.code[0].upper() == "CAPABILITY":
            self.capabilities = {str(t).upper() for t in resp.code[1:]}

    def _next_tag(self):
        self._tagnum += 1
        return f"Q{self._tagnum:04d}"

    def command(self, *args, check=True, continuation=None):
        """Send a command made of ARGS (str inserted verbatim, Literal as a
        synchronising literal); return a Result. NO/BAD raise ImapError when
        CHECK. CONTINUATION(text) -> bytes answers '+' requests (SASL)."""
        tag = self._next_tag()
        untagged = []
        pending = tag.encode("ascii")
        for arg in args:
            if isinstance(arg, Literal):
                self.send(pending + b" {%d}\r\n" % len(arg.data))
                resp = self._wait_continuation(tag, untagged)
                if resp is not None:
                    return self._finish(resp, untagged, args, check)
                pending = arg.data
            else:
                pending += b" " + arg.encode("utf-8")
        self.send(pending + b"\r\n")
        while True:
            resp = self.read_response()
            if resp.tag == tag:
                return self._finish(resp, untagged, args, check)
            if resp.tag == "+":
                if continuation is None:
                    raise ImapError(f"unexpected continuation request {resp.raw!r}")
                self.send(continuation(resp.text) + b"\r\n")
                continue
            self._note_capabilities(resp)
            untagged.append(resp)

    def _wait_continuation(self, tag, untagged):
        while True:
            resp = self.read_response()
            if resp.tag == "+":
                return None
            if resp.tag == tag:
                return resp
            self._note_capabilities(resp)
            untagged.append(resp)

    def _finish(self, resp, untagged, args, check):
        self._note_capabilities(resp)
        if check and resp.kind != "OK":
            what = " ".join(a if isinstance(a, str) else "{literal}" for a in args)
            reply = resp.raw.decode("utf-8", "replace").strip()
            raise ImapError(f"{what[:200]}: {reply}",
                            status=resp.kind, code=resp.code, text=resp.text)
        return Result(resp.kind, resp.code, resp.text, untagged)

    # -- commands

    def capability(self):
        """Send CAPABILITY; return the (upper-case) capability set."""
        self.command("CAPABILITY")
        return set(self.capabilities)

    def login(self, user, password):
        return self.command("LOGIN", quote(user), quote(password))

    def authenticate(self, mechanism, steps, initial=None):
        """AUTHENTICATE MECHANISM. STEPS is a list of callables, one per server
        challenge: each takes the decoded challenge and returns the response
        bytes. INITIAL bytes are sent as SASL-IR when given."""
        steps = list(steps)

        def answer(text):
            challenge = base64.b64decode(text) if text else b""
            if not steps:
                raise ImapError(f"unexpected SASL challenge {challenge!r}")
            return base64.b64encode(steps.pop(0)(challenge))
        args = ["AUTHENTICATE", mechanism]
        if initial is not None:
            args.append(base64.b64encode(initial).decode("ascii") if initial else "=")
        return self.command(*args, continuation=answer)

    def authenticate_plain(self, user, password, authzid="", sasl_ir=False):
        """AUTHENTICATE PLAIN, with the credentials in the command (SASL-IR)
        or after the server's empty challenge."""
        data = f"{authzid}\0{user}\0{password}".encode("utf-8")
        if sasl_ir:
            return self.authenticate("PLAIN", [], initial=data)
        return self.authenticate("PLAIN", [lambda c: data])

    def authenticate_scram(self, user, password, hash_name="sha256"):
        """AUTHENTICATE SCRAM-SHA-1 or SCRAM-SHA-256; verifies the server too."""
        scram = ScramClient(user, password, hash_name)
        mech = {"sha1": "SCRAM-SHA-1", "sha256": "SCRAM-SHA-256"}[hash_name]
        res = self.authenticate(mech, [lambda c: scram.first(), scram.final, scram.verify])
        if scram.server_signature is None:
            raise ImapError("SCRAM: exchange did not complete")
        return res

    def starttls(self, context, server_hostname="localhost"):
        """STARTTLS, TLS handshake, then a fresh CAPABILITY."""
        self.command("STARTTLS")
        if self._buf:
            raise ImapError("data after the STARTTLS reply (response injection)")
        self.transport.starttls(context, server_hostname)
        return self.capability()

    def compress(self):
        """COMPRESS DEFLATE; further traffic is compressed both ways."""
        self.command("COMPRESS", "DEFLATE")
        if self._buf:
            raise ImapError("data after the COMPRESS reply")
        self.transport = DeflateTransport(self.transport)

    def select(self, mailbox, readonly=False, condstore=True):
        """SELECT/EXAMINE; return dict of codes and counts (UIDVALIDITY, UIDNEXT,
        HIGHESTMODSEQ, EXISTS...) with int values where numeric."""
        args = ["EXAMINE" if readonly else "SELECT", mailbox_arg(mailbox)]
        if condstore:
            args.append("(CONDSTORE)")
        res = self.command(*args)
        info = {}
        for name, rest in res.codes().items():
            if len(rest) == 1 and isinstance(rest[0], str) and rest[0].isdigit():
                info[name] = int(rest[0])
        for r in res.untagged:
            if r.number is not None:
                info[r.kind] = r.number
        return info

    def logout(self):
        """LOGOUT (errors ignored) and close the transport."""
        try:
            self.command("LOGOUT", check=False)
        except (ImapError, OSError, ssl.SSLError):
            pass
        self.close()

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.logout()


def wait_greeting(host, port, deadline, ssl_context=None, server_hostname=None, alive=None):
    """Connect repeatedly until an IMAP greeting arrives; return it (a Response).
    Gives up at DEADLINE (time.monotonic()), or as soon as ALIVE() is false."""
    last = None
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            raise ImapError(f"server exited before greeting on {host}:{port}")
        try:
            c = ImapClient.connect(host, port, ssl_context, server_hostname, timeout=1.0)
        except (OSError, ImapError) as e:
            last = e
            time.sleep(0.05)
            continue
        greeting = c.greeting
        c.close()
        return greeting
    raise ImapError(f"no IMAP greeting on {host}:{port}: {last}")
