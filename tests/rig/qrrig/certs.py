# SPDX-License-Identifier: LGPL-2.1-or-later
"""Throw-away X.509 material made with GnuTLS certtool.

A CertFactory owns one directory and one test CA. It makes the server
certificate the Dovecot daemon serves (CN and SAN `localhost`, SAN IP
127.0.0.1, signed by the CA) and the broken ones security tests need:
self-signed, expired, not yet valid, wrong host name. `spki_sha256()` gives
the value to pin (`SSL_fingerprint = sha256$HEX`): the SHA-256 of the DER
SubjectPublicKeyInfo of a certificate, not of the whole certificate.
"""

import base64
import hashlib
import os
import re
from dataclasses import dataclass

from .system import CERTTOOL, RigError, run

PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----\s*(.*?)\s*-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class CertPair:
    """A certificate file and its private key file (both PEM)."""
    name: str
    cert: str
    key: str

    def der(self):
        """The DER bytes of the certificate."""
        return pem_to_der(self.cert)

    def spki_sha256(self):
        """Hex SHA-256 of the certificate's DER SubjectPublicKeyInfo (the pin)."""
        return spki_sha256(self.cert)

    def cert_sha256(self):
        """Hex SHA-256 of the whole DER certificate (NOT the pin)."""
        return hashlib.sha256(self.der()).hexdigest()


class CertFactory:
    """Makes keys and certificates under DIRECTORY with a throw-away CA
    (made on construction, or reused if DIRECTORY already has one)."""

    def __init__(self, directory, key_type="ecdsa"):
        self.dir = directory
        self.key_type = key_type
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        ca = CertPair("ca", os.path.join(directory, "ca.pem"), os.path.join(directory, "ca.key"))
        if os.path.exists(ca.cert) and os.path.exists(ca.key):
            self.ca = ca        # reattaching to an existing rig folder
        else:
            self.ca = self._make("ca", {"cn": "qrrig test CA", "ca": True,
                                        "cert_signing_key": True, "crl_signing_key": True,
                                        "expiration_days": 30})

    @property
    def cafile(self):
        """Path of the CA certificate (PEM): the trust anchor for tests."""
        return self.ca.cert

    def server(self, name="server", hostnames=("localhost",), ips=("127.0.0.1",), days=30):
        """A valid server certificate signed by the CA."""
        return self._make(name, _server_template(hostnames, ips, expiration_days=days),
                          signer=self.ca)

    def self_signed(self, name="self-signed", hostnames=("localhost",), ips=("127.0.0.1",)):
        """A server certificate for localhost that signs itself (no CA)."""
        return self._make(name, _server_template(hostnames, ips, expiration_days=30))

    def expired(self, name="expired", hostnames=("localhost",), ips=("127.0.0.1",)):
        """A CA-signed certificate for localhost valid only in 2001."""
        return self._make(name, _server_template(
            hostnames, ips, activation_date="2001-01-01 00:00:00 UTC",
            expiration_date="2001-12-31 00:00:00 UTC"), signer=self.ca)

    def not_yet_valid(self, name="not-yet-valid", hostnames=("localhost",),
                      ips=("127.0.0.1",)):
        """A CA-signed certificate for localhost valid only from 2090 on."""
        return self._make(name, _server_template(
            hostnames, ips, activation_date="2090-01-01 00:00:00 UTC",
            expiration_date="2091-01-01 00:00:00 UTC"), signer=self.ca)

    def wrong_host(self, name="wrong-host", hostnames=("wrong.invalid",), ips=()):
        """A valid CA-signed certificate for another host name (not localhost,
        no IP address)."""
        return self._make(name, _server_template(hostnames, ips, expiration_days=30),
                          signer=self.ca)

    def _make(self, name, template, signer=None):
        """Generate NAME.key and NAME.pem from a template dict."""
        if not re.match(r"^[A-Za-z0-9_.-]+$", name):
            raise RigError(f"bad certificate name {name!r}")
        key = os.path.join(self.dir, name + ".key")
        cert = os.path.join(self.dir, name + ".pem")
        tmpl = os.path.join(self.dir, name + ".tmpl")
        with open(tmpl, "w", encoding="ascii") as f:
            f.write(_render_template(template))
        run([CERTTOOL, "--generate-privkey", f"--key-type={self.key_type}",
             "--no-text", "--outfile", key])
        os.chmod(key, 0o600)
        if signer is None:
            run([CERTTOOL, "--generate-self-signed", "--load-privkey", key,
                 "--template", tmpl, "--no-text", "--outfile", cert])
        else:
            run([CERTTOOL, "--generate-certificate", "--load-privkey", key,
                 "--load-ca-certificate", signer.cert, "--load-ca-privkey", signer.key,
                 "--template", tmpl, "--no-text", "--outfile", cert])
        os.chmod(cert, 0o644)
        return CertPair(name, cert, key)


def _server_template(hostnames, ips, **extra):
    cn = hostnames[0] if hostnames else (ips[0] if ips else "qrrig")
    t = {"cn": cn, "dns_name": list(hostnames), "ip_address": list(ips),
         "tls_www_server": True, "signing_key": True, "encryption_key": True}
    t.update(extra)
    return t


def _render_template(t):
    """certtool template syntax: `key = "value"`, repeated keys, bare flags."""
    lines = []
    for key, value in t.items():
        if value is True:
            lines.append(key)
        elif isinstance(value, int):
            lines.append(f"{key} = {value}")
        elif isinstance(value, list):
            lines.extend(f'{key} = "{v}"' for v in value)
        else:
            lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


# --- DER ----------------------------------------------------------------------

def pem_to_der(path):
    """DER bytes of the first certificate in a PEM file."""
    with open(path, "rb") as f:
        m = PEM_CERT.search(f.read())
    if not m:
        raise RigError(f"{path}: no PEM certificate")
    return base64.b64decode(b"".join(m.group(1).split()))


def _tlv(data, pos):
    """Parse one DER TLV at POS: return (tag, start, content_start, end)."""
    tag = data[pos]
    length = data[pos + 1]
    cpos = pos + 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[cpos:cpos + n], "big")
        cpos += n
    return tag, pos, cpos, cpos + length


def spki_der(cert_der):
    """The DER SubjectPublicKeyInfo inside a DER certificate."""
    _, _, tbs_outer, _ = _tlv(cert_der, 0)           # Certificate SEQUENCE
    _, _, pos, tbs_end = _tlv(cert_der, tbs_outer)   # tbsCertificate SEQUENCE
    fields = []
    while pos < tbs_end:
        tag, start, _, end = _tlv(cert_der, pos)
        fields.append((tag, start, end))
        pos = end
    if fields and fields[0][0] == 0xA0:              # [0] version
        fields = fields[1:]
    # serial, signature, issuer, validity, subject, subjectPublicKeyInfo
    tag, start, end = fields[5]
    if tag != 0x30:
        raise RigError("unexpected certificate layout")
    return cert_der[start:end]


def spki_sha256(cert_path):
    """Hex SHA-256 of the SubjectPublicKeyInfo of the certificate in a PEM file:
    what `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER |
    openssl dgst -sha256` prints, i.e. the value of `SSL_fingerprint`."""
    return hashlib.sha256(spki_der(pem_to_der(cert_path))).hexdigest()
