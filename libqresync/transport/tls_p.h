/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tls_p.h: the internal API of the GnuTLS layer (issue 4).
 *
 * Four parts, one file each:
 *
 *   tls_options.c  option values → a GnuTLS priority: protocol names
 *                  (SSL_protocol_min/max, the deprecated SSL_protocols
 *                  list), the OpenSSL cipher syntaxes (SSL_cipherlist,
 *                  SSL_ciphersuites) and the raw SSL_priority;
 *   tls_creds.c    refcounted certificate credentials (trust anchors are
 *                  expensive to load: load once, share between layers);
 *   tls_pin.c      SSL_fingerprint pins and the certificate check run by
 *                  GnuTLS's verify callback during the handshake;
 *   tls_gnutls.c   the layer itself (transport_p.h's contract).
 *
 * Typical use (a tool connecting with `type = imaps`):
 *
 *     qr_tls_options o;
 *     qr_tls_options_init(&o);
 *     o.host = "imap.example.net";           // also SNI unless o.hostname
 *     o.cafile = ...; o.fingerprints = ...;  // config keys, borrowed
 *     qr_tls_creds *c;                      // optional, shareable
 *     qr_tls_creds_new(&c, &o, &err, &log);
 *     qr_layer *tls;
 *     qr_tls_layer_create(&tls, &stack, &o, c, &log);  // takes its own ref
 *     qr_tls_creds_unref(c);
 *     qr_stack_push(&stack, tls);
 *     ... qr_stack_step() until 0 (the handshake), then read/write ...
 *
 * MAPPING OF OPENSSL CIPHER SYNTAX (tls_options.c). GnuTLS has no cipher
 * suite list: a priority string enables key exchanges (KX), ciphers and
 * MACs separately, for every protocol version at once, and the suites
 * offered are every valid combination. So:
 *
 *   SSL_ciphersuites (TLS 1.3 names, ':'-separated):
 *     TLS_AES_128_GCM_SHA256        → AES-128-GCM
 *     TLS_AES_256_GCM_SHA384        → AES-256-GCM
 *     TLS_CHACHA20_POLY1305_SHA256  → CHACHA20-POLY1305
 *     TLS_AES_128_CCM_SHA256        → AES-128-CCM
 *     TLS_AES_128_CCM_8_SHA256      → AES-128-CCM-8
 *     "" (empty: OpenSSL then has no TLS 1.3 suite) → -VERS-TLS1.3
 *   SSL_cipherlist (OpenSSL syntax; elements separated by ':', ',' or ' '):
 *     full suite names (the 33 of tls_options.c's table, e.g.
 *       ECDHE-RSA-AES256-GCM-SHA384 → KX ECDHE-RSA, cipher AES-256-GCM,
 *       MAC AEAD; AES128-SHA → KX RSA, AES-128-CBC, SHA1);
 *     aliases, alone or joined by '+' (an intersection, per category):
 *       KX      ECDHE EECDH kECDHE kEECDH → ECDHE-RSA ECDHE-ECDSA;
 *               DHE EDH kDHE kEDH → DHE-RSA; RSA kRSA → RSA;
 *               aRSA → ECDHE-RSA DHE-RSA RSA; aECDSA ECDSA → ECDHE-ECDSA
 *       cipher  AESGCM → AES-{128,256}-GCM; AESCCM → AES-{128,256}-CCM;
 *               AES → every AES; AES128 / AES256 → that key size;
 *               CHACHA20 → CHACHA20-POLY1305
 *       MAC     SHA1 SHA → SHA1; SHA256; SHA384
 *     DEFAULT, HIGH → no restriction (GnuTLS's defaults hold only
 *       OpenSSL-"HIGH" suites); @STRENGTH and "+NAME" (ordering) → ignored;
 *     "!X" / "-X" with X an alias above → "-COMPONENT" for each;
 *     "!X" / "-X" with X in aNULL eNULL NULL EXP EXPORT LOW MEDIUM MD5 RC4
 *       RC2 DES 3DES IDEA SEED PSK SRP DSS aDSS ADH AECDH kDH kECDH aECDH
 *       CAMELLIA ARIA → nothing (GnuTLS never enables these by default);
 *     anything else (e.g. @SECLEVEL=2, ALL, !ECDHE-RSA-AES128-SHA) →
 *       QR_EINVAL "SSL_cipherlist: cannot map 'X' to a GnuTLS priority;
 *       use SSL_priority".
 *   Per category, the positive elements' sets are joined; a category no
 *   positive element constrains keeps GnuTLS's defaults. The ciphers of
 *   both options are joined likewise (GnuTLS cannot give TLS 1.3 its own
 *   list), and when SSL_ciphersuites names a suite and the MACs are
 *   restricted, AEAD is added so TLS 1.3 stays possible. Consequences:
 *   listing A-B-C and D-E-F also allows A-E-F; an SSL_ciphersuites alone
 *   restricts TLS 1.2 ciphers too; a CBC-only SSL_cipherlist alone rules
 *   out TLS 1.3. The order of elements is ignored (GnuTLS's order holds).
 */
#ifndef QR_TRANSPORT_TLS_P_H
#define QR_TRANSPORT_TLS_P_H

#include <gnutls/gnutls.h>
#include <stddef.h>

#include "transport/transport_p.h"
#include "util/error.h"
#include "util/logger.h"

/* ---- options ------------------------------------------------------------ */

/*
 * Connection settings, mirroring the SSL_* configuration keys (spec
 * imap-client.md §3). Every string is borrowed for the duration of the
 * call that receives the struct; NULL means "not set". Initialise with
 * qr_tls_options_init() (verify on, everything else unset).
 */
typedef struct qr_tls_options {
    const char *host;         /* connection host: name, IP literal or [IP literal]; required */
    const char *hostname;     /* SSL_hostname: SNI name ("" disables SNI) or NULL */
    int verify;               /* SSL_verify: non-zero checks chain and name (default 1) */
    const char *cafile;       /* SSL_CAfile: PEM trust anchors, or NULL */
    const char *capath;       /* SSL_CApath: directory of PEM trust anchors, or NULL */
    const char *fingerprints; /* SSL_fingerprint: "[ALGO$]HEX ..." pins, or NULL */
    const char *protocol_min; /* SSL_protocol_min: SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3, or NULL */
    const char *protocol_max; /* SSL_protocol_max: same names, or NULL */
    const char *protocols;    /* SSL_protocols (deprecated "[!]NAME ..." list), or NULL */
    const char *cipherlist;   /* SSL_cipherlist (OpenSSL syntax, mapped), or NULL */
    const char *ciphersuites; /* SSL_ciphersuites (TLS 1.3 names, mapped), or NULL */
    const char *priority;     /* SSL_priority: raw GnuTLS priority; wins over the above */
    int handshake_timeout_ms; /* deadline of the handshake from its first step; <= 0: none */
} qr_tls_options;

/* Defaults: verify = 1, every string NULL, no handshake timeout. */
void qr_tls_options_init(qr_tls_options *o);

/* Protocol versions, oldest first (bit i of a mask is version i). */
enum {
    QR_TLS_SSLV2 = 0,
    QR_TLS_SSLV3,
    QR_TLS_V1_0,
    QR_TLS_V1_1,
    QR_TLS_V1_2,
    QR_TLS_V1_3,
    QR_TLS_NVERSIONS
};

/*
 * SSL_protocol_min/max value → *version (QR_TLS_SSLV3..QR_TLS_V1_3).
 * QR_EINVAL "Unknown protocol version: NAME".
 */
int qr_tls_parse_version(const char *name, int *version, qr_errslot *err);
/*
 * The deprecated SSL_protocols list ("[!]NAME" tokens separated by
 * spaces; NAME in SSLv2 SSLv3 TLSv1 TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3) →
 * *disabled, a mask of the versions to disable: the "!" ones, plus every
 * version not named when some are named without "!". QR_EINVAL
 * "Unknown SSL protocol: NAME".
 */
int qr_tls_parse_protocols(const char *list, unsigned *disabled, qr_errslot *err);
/* "SSLv2, TLSv1.1" for a mask (names sorted); into buf (always terminated). */
void qr_tls_format_protocols(unsigned mask, char *buf, size_t cap);
/* OpenSSL's name of a version: "TLSv1.2"... */
const char *qr_tls_version_name(int version);
/*
 * The priority fragment for SSL_cipherlist and SSL_ciphersuites (either
 * may be NULL), without a leading ':' (see the mapping above). *out
 * (qr_malloc'ed, caller frees) is "" when nothing needs restricting.
 * QR_EINVAL "SSL_cipherlist: cannot map 'X' to a GnuTLS priority; use
 * SSL_priority" (or SSL_ciphersuites), QR_ENOMEM.
 */
int qr_tls_map_ciphers(const char *cipherlist, const char *ciphersuites, char **out,
                       qr_errslot *err);
/*
 * The whole priority of o: SSL_priority verbatim (*append = 0), or the
 * fragment built from the protocol and cipher options, to be appended to
 * GnuTLS's defaults (*append = 1; "" means plain defaults). Logs the
 * protocol debug lines and the SSL_protocols warning to log (may be
 * NULL). *out is qr_malloc'ed. QR_EINVAL with the messages above, or
 * "SSL_protocol_min TLSv1.3 is above SSL_protocol_max TLSv1.2"; QR_ENOMEM.
 */
int qr_tls_priority_string(const qr_tls_options *o, const qr_logger *log, char **out, int *append,
                           qr_errslot *err);
/*
 * qr_tls_priority_string() compiled by GnuTLS. *out is NULL when the
 * defaults apply (gnutls_set_default_priority). QR_EINVAL "SSL_priority:
 * invalid GnuTLS priority 'STR' at 'POS': MSG" (or "TLS settings:" for a
 * built string), QR_ENOMEM.
 */
int qr_tls_priority_init(gnutls_priority_t *out, const qr_tls_options *o, const qr_logger *log,
                         qr_errslot *err);

/* ---- credentials (tls_creds.c) ------------------------------------------ */

/*
 * Certificate credentials with their trust anchors, shared by reference
 * between layers (and threads: the count is atomic and GnuTLS allows
 * concurrent sessions on one credentials object once it is loaded).
 */
typedef struct qr_tls_creds qr_tls_creds;

/*
 * Load the trust anchors o asks for: with o->verify, SSL_CAfile and/or
 * SSL_CApath if set, else the system store (SSL_CERT_FILE / SSL_CERT_DIR
 * from the environment when set, as OpenSSL does); without verify,
 * nothing. Debug line "Using default locations for trusted CA
 * certificates". QR_ETLS "Can't load trust anchors from SSL_CAfile
 * 'PATH': MSG" (or SSL_CApath, or "the system trust store"), QR_ENOMEM.
 */
int qr_tls_creds_new(qr_tls_creds **out, const qr_tls_options *o, qr_errslot *err,
                     const qr_logger *log);
/* Another reference to c (returned). */
qr_tls_creds *qr_tls_creds_ref(qr_tls_creds *c);
/* Drop a reference; the last one frees. NULL is fine. */
void qr_tls_creds_unref(qr_tls_creds *c);
/* The GnuTLS object; borrowed. */
gnutls_certificate_credentials_t qr_tls_creds_gnutls(const qr_tls_creds *c);

/* ---- pins and the peer check (tls_pin.c) -------------------------------- */

/* One SSL_fingerprint entry. */
typedef struct qr_tls_pin {
    gnutls_digest_algorithm_t algo; /* digest to compute over the leaf's DER SPKI */
    unsigned char digest[64];       /* the expected digest (binary) */
    size_t len;                     /* its length: gnutls_hash_get_len(algo) */
    char *label;                    /* owned: "ALGO$HEX" as configured, for the log */
} qr_tls_pin;

/*
 * Parse "[ALGO$]HEX ..." (ALGO defaults to sha256; colons in HEX are
 * tolerated). *pins is qr_malloc'ed (NULL when the list is empty); free
 * with qr_tls_pins_free(). QR_EINVAL "Can't find MD value for name
 * 'ALGO'" or "SSL_fingerprint: 'X' is not a HEX sha1 digest (20 bytes)",
 * QR_ENOMEM.
 */
int qr_tls_pins_parse(const char *list, qr_tls_pin **pins, size_t *npins, qr_errslot *err);
void qr_tls_pins_free(qr_tls_pin *pins, size_t npins);
/*
 * Compare the leaf certificate (DER) with the pins: 1 and *which = the
 * first matching entry, 0 when none matches, or a negative GnuTLS code
 * when the certificate's public key cannot be read.
 */
int qr_tls_pins_match(const qr_tls_pin *pins, size_t npins, const gnutls_datum_t *leaf,
                      size_t *which);

/*
 * What the verify callback checks and what it found; a member of the
 * layer. Inputs are set before the handshake, outputs by the callback.
 */
typedef struct qr_tls_check {
    const char *host;       /* name to check (brackets removed); borrowed from the layer */
    int host_is_ip;         /* host is an IP literal: check iPAddress SANs */
    unsigned char ip[16];   /* its binary form when host_is_ip */
    size_t iplen;           /* 4 or 16 when host_is_ip */
    int verify;             /* check chain and name */
    const qr_tls_pin *pins; /* borrowed from the layer; NULL: no pinning */
    size_t npins;           /* entries in pins */
    const qr_logger *log;   /* borrowed; NULL: silent */
    int leaf_seen;          /* out: the callback ran with a leaf certificate */
    int accepted;           /* out: the callback accepted the peer */
    char why[320];          /* out: why it rejected (for the error message) */
} qr_tls_check;

/*
 * The body of the GnuTLS verify callback: log the chain ("[D] preverify=N"
 * and its names), check chain and name when c->verify, then the pins.
 * 0 accepts, -1 rejects (c->why says why; the pin mismatch warning is
 * logged).
 */
int qr_tls_check_peer(gnutls_session_t session, gnutls_certificate_credentials_t cred,
                      qr_tls_check *c);

/* ---- the layer (tls_gnutls.c) -------------------------------------------- */

/*
 * A TLS client layer, to push on top of the stack s (socket, tunnel,
 * proxy: any layer). o is read during the call (strings copied as
 * needed); creds may be NULL (the layer then loads its own, per o) or a
 * shared object the layer takes a reference on; log (may be NULL) is
 * borrowed and must outlive the layer. The handshake runs in step().
 * QR_EINVAL (no host; bad options, as in the functions above), QR_ETLS,
 * QR_ENOMEM.
 */
int qr_tls_layer_create(qr_layer **out, qr_stack *s, const qr_tls_options *o, qr_tls_creds *creds,
                        const qr_logger *log);
/* Once the handshake is done: the negotiated version (QR_TLS_*), else -1. */
int qr_tls_layer_version(const qr_layer *l);
/* The SNI name sent, or NULL when none; borrowed from the layer. */
const char *qr_tls_layer_sni(const qr_layer *l);
/* The GnuTLS session (borrowed; for the channel binding, conn_tls.c). */
gnutls_session_t qr_tls_layer_session(const qr_layer *l);

#endif /* QR_TRANSPORT_TLS_P_H */
