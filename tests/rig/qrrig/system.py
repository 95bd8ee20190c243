# SPDX-License-Identifier: LGPL-2.1-or-later
"""Operating-system helpers: requirements, the `mail` user, paths, processes.

Everything here reads /proc directly (Linux only) so that processes can be
found and stopped by pid without relying on process names.
"""

import os
import pwd
import re
import shutil
import signal
import subprocess
import time

DOVECOT = "/usr/sbin/dovecot"
IMAP_BIN = "/usr/lib/dovecot/imap"
DOVEADM = "/usr/bin/doveadm"
DOVECONF = "/usr/bin/doveconf"
SETPRIV = "/usr/bin/setpriv"
CERTTOOL = "/usr/bin/certtool"
ENV = "/usr/bin/env"
MAIL_USER = "mail"

# Characters allowed in rig paths: a tunnel command is split on whitespace
# (interimap's Perl exec rule) and must not need a shell.
SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+,:@%-]+$")

# Executables whose processes belong to Dovecot (for the leftover sweep).
DOVECOT_EXES = ("/usr/sbin/dovecot", "/usr/lib/dovecot/", "/usr/bin/doveadm",
                "/usr/bin/doveconf")


class RigError(Exception):
    """Any failure of the rig itself (start, stop, helper command)."""


def missing_requirements(daemon=True):
    """Return a list of reasons why the rig cannot run here (empty if it can)."""
    missing = []
    need = [DOVECOT, IMAP_BIN, DOVEADM, DOVECONF, SETPRIV, ENV]
    if daemon:
        need.append(CERTTOOL)
    for path in need:
        if not os.access(path, os.X_OK):
            missing.append(f"{path} not found (Dovecot, util-linux or gnutls-bin missing)")
    try:
        pwd.getpwnam(MAIL_USER)
    except KeyError:
        missing.append(f"no user {MAIL_USER!r}")
    if os.geteuid() != 0:
        missing.append("not running as root (stores are served as user mail via setpriv)")
    return missing


def mail_ids():
    """Return (uid, gid) of the `mail` user."""
    pw = pwd.getpwnam(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


def check_path(path):
    """Make sure PATH can appear in a tunnel command and is reachable by `mail`.

    Raises RigError with an explanation otherwise.
    """
    if not SAFE_PATH.match(path):
        raise RigError(f"rig path {path!r} has characters that a tunnel command "
                       "cannot carry (use [A-Za-z0-9_./+,:@%-] only; set QR_RIG_TMPDIR)")
    uid, gid = mail_ids()
    cur = os.path.dirname(os.path.abspath(path))
    while True:
        st = os.stat(cur)
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid == gid:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            raise RigError(f"user {MAIL_USER} cannot enter {cur} (mode "
                           f"{st.st_mode & 0o7777:o}); put the rig elsewhere "
                           "with QR_RIG_TMPDIR")
        if cur == "/":
            return
        cur = os.path.dirname(cur)


def make_dirs(owner_mail, *paths, mode=0o755):
    """Create directories (parents as needed); chown them to mail if asked."""
    uid, gid = mail_ids()
    for path in paths:
        os.makedirs(path, exist_ok=True)
        os.chmod(path, mode)
        if owner_mail:
            os.chown(path, uid, gid)


def chown_mail(path):
    """chown PATH (a file or a directory, recursively) to mail:mail."""
    uid, gid = mail_ids()
    os.chown(path, uid, gid)
    for top, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(top, name), uid, gid, follow_symlinks=False)


def write_file(path, text, mode=0o644, owner_mail=False):
    """Write TEXT to PATH with MODE (and owner mail if asked)."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner_mail:
        uid, gid = mail_ids()
        os.chown(path, uid, gid)


def tail(path, lines=30):
    """Return the last LINES lines of a text file, or '' if it is missing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


def run(argv, *, input=None, timeout=30, check=True):
    """Run a short command, capture its output; RigError on failure."""
    try:
        proc = subprocess.run(argv, input=input, capture_output=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RigError(f"{argv[0]}: {e}") from e
    if check and proc.returncode != 0:
        raise RigError(f"{' '.join(argv)} exited {proc.returncode}: "
                       f"{proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc


def doveconf_check(conf):
    """Validate a Dovecot configuration file with doveconf; RigError if bad."""
    run([DOVECONF, "-c", conf, "-n"])


# --- processes --------------------------------------------------------------

def proc_stat(pid):
    """Return dict(state, ppid, pgrp, sid, start) for PID, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode("ascii", "replace")
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = data[data.rindex(")") + 2:].split()
    return {"state": fields[0], "ppid": int(fields[1]), "pgrp": int(fields[2]),
            "sid": int(fields[3]), "start": int(fields[19])}


def alive(pid):
    """True if PID exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def all_pids():
    """Every pid currently in /proc."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def session_members(sid):
    """Live processes whose session id is SID (a daemon started with setsid)."""
    out = []
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st["sid"] == sid and st["state"] not in ("Z", "X"):
            out.append(pid)
    return out


def is_dovecot(pid):
    """True if PID runs a Dovecot executable (dovecot, doveadm, its helpers)."""
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith(DOVECOT_EXES)
    except OSError:
        return False


def dovecot_processes_under(root):
    """Live Dovecot processes tied to ROOT: their cwd is inside ROOT, or their
    command line mentions ROOT. Only Dovecot executables are considered, so a
    shell whose working directory is inside ROOT is never picked."""
    root = os.path.realpath(root)
    out = []
    me = os.getpid()
    for pid in all_pids():
        if pid == me or not alive(pid):
            continue
        if not is_dovecot(pid):
            continue
        try:
            cwd = os.readlink(f"/proc/{pid}/cwd")
        except OSError:
            cwd = ""
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().decode("utf-8", "replace")
        except OSError:
            cmdline = ""
        if cwd == root or cwd.startswith(root + "/") or root in cmdline:
            out.append(pid)
    return out


def signal_pids(pids, sig):
    """Send SIG to each pid, ignoring those already gone."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def wait_gone(pids, timeout):
    """Wait until none of PIDS is alive; return the ones still alive."""
    deadline = time.monotonic() + timeout
    left = [p for p in pids if alive(p)]
    while left and time.monotonic() < deadline:
        time.sleep(0.02)
        left = [p for p in left if alive(p)]
    return left


def terminate(pids, timeout=5.0):
    """SIGTERM PIDS, wait, SIGKILL the survivors; return any still alive."""
    pids = [p for p in pids if alive(p)]
    if not pids:
        return []
    signal_pids(pids, signal.SIGTERM)
    left = wait_gone(pids, timeout)
    if left:
        signal_pids(left, signal.SIGKILL)
        left = wait_gone(left, 2.0)
    return left


def remove_tree(path):
    """Remove a directory tree, ignoring files that vanish meanwhile."""
    shutil.rmtree(path, ignore_errors=True)
