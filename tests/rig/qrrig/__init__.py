# SPDX-License-Identifier: LGPL-2.1-or-later
"""qrrig: start and stop real Dovecot servers for libqresync tests.

Public API:
    Rig            owner of a temp folder; .store(), .daemon(), .certs, .close()
    Store          a tunnel store (PREAUTH over setpriv + Dovecot imap)
    Daemon         a Dovecot daemon on 127.0.0.1 (IMAP/STARTTLS, IMAPS, LMTP)
    DaemonUser     a daemon's passwd-file user (same helpers as Store)
    CertFactory, CertPair, spki_sha256   throw-away certificates and pins
    ImapClient     the small IMAP client the helpers use
    compare_dumps, make_message, imap_date
    RigError, ImapError
    missing_requirements()  -> reasons the rig cannot run (empty if it can)
    SKIP           77, the exit status meaning "skipped"
"""

from .certs import CertFactory, CertPair, spki_sha256
from .daemon import Daemon, DaemonUser
from .imap import ImapClient, ImapError
from .mail import compare_dumps, imap_date, make_message
from .rig import Rig
from .store import Store
from .system import RigError, missing_requirements

SKIP = 77

__all__ = ["Rig", "Store", "Daemon", "DaemonUser", "CertFactory", "CertPair", "spki_sha256",
           "ImapClient", "ImapError", "compare_dumps", "imap_date", "make_message",
           "RigError", "missing_requirements", "SKIP"]
