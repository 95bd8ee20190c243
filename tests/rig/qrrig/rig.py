# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Rig: one temporary root folder owning stores, daemons and certificates.

    with Rig() as rig:
        a = rig.store("a")                      # tunnel store, separator '/'
        b = rig.store("b", separator=".", compress=True)
        d = rig.daemon(users={"alice": "pw"})   # Dovecot on 127.0.0.1
        ...
    # everything stopped (by pid) and the folder removed

Every live Rig is stopped at interpreter exit (atexit) and on SIGTERM/SIGHUP
(turned into SystemExit when those signals still have their default
handler), and a daemon's master also gets SIGTERM if the Python process
dies (PR_SET_PDEATHSIG) unless the rig is `detached` (CLI `start`).
QR_RIG_KEEP=1 keeps the folder after stopping, for debugging.
QR_RIG_TMPDIR chooses where the folder is made (default: $TMPDIR or /tmp).
"""

import atexit
import json
import os
import re
import shlex
import signal
import tempfile
import threading
import weakref

from . import system
from .certs import CertFactory
from .daemon import Daemon
from .store import Store
from .system import RigError

CLI = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "rig.py")
NAME = re.compile(r"^[A-Za-z0-9_-]+$")

_live = weakref.WeakSet()
_handlers_installed = False


def _keep_default():
    return os.environ.get("QR_RIG_KEEP", "").lower() in ("1", "yes", "true", "on")


def _close_all():
    for rig in list(_live):
        try:
            rig.close()
        except Exception as e:  # atexit: report, go on with the others
            print(f"qrrig: cleanup of {rig.root} failed: {e}", flush=True)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_close_all)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _on_signal)


class Rig:
    """Owner of a root temp folder and of everything started inside it."""

    def __init__(self, root=None, keep=None, detached=False, key_type="ecdsa"):
        missing = system.missing_requirements(daemon=False)
        if missing:
            raise RigError("; ".join(missing))
        if root is None:
            root = tempfile.mkdtemp(prefix="qrrig-", dir=os.environ.get("QR_RIG_TMPDIR") or None)
            self.owns_root = True
        else:
            root = os.path.abspath(root)
            self.owns_root = not os.path.exists(root)
            os.makedirs(root, exist_ok=True)
        os.chmod(root, 0o755)
        self.root = root
        self.keep = _keep_default() if keep is None else keep
        self.detached = detached
        self.key_type = key_type
        self.stores = {}
        self.daemons = {}
        self.closed = False
        self._certs = None
        self._default_caps = None
        system.check_path(os.path.join(root, "x"))
        _live.add(self)
        _install_handlers()
        self.save()

    # -- parts

    @property
    def certs(self):
        """The CertFactory (made on first use, with its CA) in ROOT/certs."""
        if self._certs is None:
            self._certs = CertFactory(os.path.join(self.root, "certs"), self.key_type)
        return self._certs

    @property
    def cafile(self):
        return self.certs.cafile

    def _new_name(self, kind, existing):
        n = 0
        while f"{kind}{n}" in existing:
            n += 1
        return f"{kind}{n}"

    def store(self, name=None, separator="/", capabilities=None, drop_capabilities=None,
              compress=False, verify=True):
        """Create a tunnel store (default names store0, store1...).

        CAPABILITIES: explicit imap_capability list (string or list);
        DROP_CAPABILITIES: remove these from Dovecot's default list instead
        (e.g. ['LITERAL+', 'MULTIAPPEND']). COMPRESS loads imap_zlib
        (COMPRESS=DEFLATE; added to an explicit list). Both only apply to the
        direct tunnel form. VERIFY opens both tunnel forms once and checks
        the greeting and capabilities.
        """
        name = name or self._new_name("store", self.stores)
        self._check_name(name)
        if drop_capabilities:
            if capabilities is not None:
                raise RigError("give capabilities or drop_capabilities, not both")
            drop = {c.upper() for c in (drop_capabilities.split()
                                        if isinstance(drop_capabilities, str)
                                        else drop_capabilities)}
            capabilities = [c for c in self.default_capabilities() if c.upper() not in drop]
        st = Store(name, os.path.join(self.root, name), separator, capabilities, compress)
        st.create_on_disk()
        self.stores[name] = st
        self.save()
        if verify:
            st.verify()
        return st

    def default_capabilities(self):
        """Dovecot's own capability list for a PREAUTH tunnel (no COMPRESS)."""
        if self._default_caps is None:
            probe = Store("_probe", os.path.join(self.root, "_probe"))
            probe.create_on_disk()
            try:
                with probe.open() as c:
                    caps = c.greeting.code[1:] if c.greeting.code_name() == "CAPABILITY" else []
            finally:
                system.remove_tree(probe.path)
            self._default_caps = [c for c in caps if c.upper() != "COMPRESS=DEFLATE"]
        return list(self._default_caps)

    def daemon(self, name=None, users=None, compress=True, separator="/", plaintext_auth=False,
               cert=None, auth_failure_delay="0", auth_penalty=False, extra_conf="",
               timeout=20.0):
        """Start a Dovecot daemon (default names daemon0, daemon1...).

        USERS: dict name -> password, or a list of names (password
        NAME-Secret-1), default {'alice': 'alice-Secret-1'}. CERT: a CertPair
        to serve (default: a fresh localhost certificate from the rig CA).
        PLAINTEXT_AUTH sets disable_plaintext_auth = no. AUTH_FAILURE_DELAY
        is Dovecot's delay after a failed login (default 0: fast tests);
        AUTH_PENALTY keeps Dovecot's growing delay (up to 15 s) for an IP
        after failures (default off, else one failing test slows the next).
        EXTRA_CONF is appended to dovecot.conf.
        """
        missing = system.missing_requirements(daemon=True)
        if missing:
            raise RigError("; ".join(missing))
        name = name or self._new_name("daemon", self.daemons)
        self._check_name(name)
        if cert is None:
            cert = self.certs.server(f"{name}-server")
        d = Daemon(name, os.path.join(self.root, name), self.cafile, cert, users, compress,
                   separator, plaintext_auth, auth_failure_delay, auth_penalty, extra_conf,
                   owned=not self.detached)
        self.daemons[name] = d
        try:
            d.start(timeout)
        except BaseException:
            del self.daemons[name]
            raise
        finally:
            self.save()
        return d

    def _check_name(self, name):
        if not NAME.match(name) or name in self.stores or name in self.daemons \
                or name in ("certs", "_probe"):
            raise RigError(f"bad or duplicate name {name!r}")

    # -- description

    def describe(self):
        return {"version": 1, "root": self.root, "pid": os.getpid(), "cli": CLI,
                "stores": [s.path for s in self.stores.values()],
                "daemons": [d.path for d in self.daemons.values()],
                "cafile": self._certs.cafile if self._certs else None}

    def environment(self):
        """QR_RIG_* variables describing this rig (see README.md)."""
        env = {"QR_RIG_DIR": self.root, "QR_RIG_CLI": CLI,
               "QR_RIG_STORES": str(len(self.stores))}
        for i, s in enumerate(self.stores.values()):
            p = f"QR_RIG_STORE{i}_"
            env.update({p + "NAME": s.name, p + "COMMAND": s.tunnel_command,
                        p + "DOVEADM_COMMAND": s.doveadm_command, p + "CONF": s.conf,
                        p + "DIR": s.path, p + "MAILDIR": s.maildir,
                        p + "SEPARATOR": s.separator})
        if self._certs:
            env["QR_RIG_CAFILE"] = self._certs.cafile
        env["QR_RIG_DAEMONS"] = str(len(self.daemons))
        for i, d in enumerate(self.daemons.values()):
            # The first daemon: QR_RIG_IMAP_PORT, QR_RIG_DAEMON_DIR...; the
            # others: QR_RIG_DAEMON1_IMAP_PORT, QR_RIG_DAEMON1_DIR...
            p = "QR_RIG_" if i == 0 else f"QR_RIG_DAEMON{i}_"
            own = "QR_RIG_DAEMON_" if i == 0 else p
            users = list(d.users.values())
            env.update({p + "HOST": d.host, p + "IMAP_PORT": str(d.imap_port),
                        p + "IMAPS_PORT": str(d.imaps_port), p + "LMTP_PORT": str(d.lmtp_port),
                        p + "SERVER_CERT": d.cert.cert, p + "SPKI_SHA256": d.cert.spki_sha256(),
                        own + "DIR": d.path, own + "PID": str(d.pid), own + "LOG": d.log_path,
                        p + "USER": users[0].name, p + "PASSWORD": users[0].password,
                        p + "USERS": " ".join(u.name for u in users)})
            for j, u in enumerate(users):
                env[f"{p}USER{j}_NAME"] = u.name
                env[f"{p}USER{j}_PASSWORD"] = u.password
        return env

    def save(self):
        """Write ROOT/rig.json (description) and ROOT/rig.env (sh exports)."""
        with open(os.path.join(self.root, "rig.json"), "w", encoding="utf-8") as f:
            json.dump(self.describe(), f, indent=2)
        with open(os.path.join(self.root, "rig.env"), "w", encoding="utf-8") as f:
            for k, v in self.environment().items():
                f.write(f"export {k}={shlex.quote(v)}\n")

    @classmethod
    def load(cls, root, cleanup=False):
        """Reattach to a rig folder made by another process (CLI start): its
        stores and daemons can be used, and close() stops them by pid. With
        CLEANUP, it is also closed at exit like a rig made here."""
        root = os.path.abspath(root)
        with open(os.path.join(root, "rig.json"), encoding="utf-8") as f:
            d = json.load(f)
        rig = cls.__new__(cls)
        rig.root, rig.owns_root, rig.keep, rig.detached = root, True, _keep_default(), True
        rig.key_type, rig.closed, rig._default_caps = "ecdsa", False, None
        rig._certs = CertFactory(os.path.dirname(d["cafile"])) if d.get("cafile") else None
        rig.stores = {s.name: s for s in (Store.load(p) for p in d["stores"])}
        rig.daemons = {x.name: x for x in (Daemon.load(p) for p in d["daemons"])}
        if cleanup:
            _live.add(rig)
            _install_handlers()
        return rig

    # -- teardown

    def close(self):
        """Stop every daemon by pid, end leftover Dovecot processes of the
        folder (e.g. tunnels a client did not close), remove the folder
        (unless kept). Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        _live.discard(self)
        errors = []
        for d in self.daemons.values():
            try:
                d.stop()
            except RigError as e:
                errors.append(str(e))
        left = system.terminate(system.dovecot_processes_under(self.root))
        if left:
            errors.append(f"processes {left} survived SIGKILL")
        if not self.keep and not errors and self.owns_root:
            if os.path.exists(os.path.join(self.root, "rig.json")):
                system.remove_tree(self.root)
        if errors:
            raise RigError(f"rig {self.root}: " + "; ".join(errors))

    def detach(self):
        """Forget this rig without stopping anything (CLI start)."""
        self.closed = True
        _live.discard(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return f"<Rig {self.root}>"

