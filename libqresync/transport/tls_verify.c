/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The peer check run inside the handshake (spec imap-client.md §3.2-3.3).
 *
 * The TLS layer installs a GnuTLS verify callback
 * (gnutls_session_set_verify_function) that calls qr_tls_check_peer()
 * once the server's certificate chain has arrived; returning -1 aborts
 * the handshake, so a rejected server never sees a byte of application
 * data. In order:
 *
 *  1. Debug log of the chain, deepest first: "[D] preverify=0|1",
 *     "  Issuer Name: /CN=...", "  Subject Name: /CN=..." (OpenSSL's
 *     one-line DN format). OpenSSL calls its callback once per certificate
 *     of the chain it built, including the root from the trust store;
 *     GnuTLS verifies the whole chain at once, so we show the certificates
 *     the server sent, and preverify for depth D is the verdict on the
 *     chain from D upwards against our trust anchors (the name check only
 *     at depth 0). Computed only when debug logging is on.
 *  2. With SSL_verify: gnutls_certificate_verify_peers() with the host
 *     name (GNUTLS_DT_DNS_HOSTNAME: SAN dNSName, CN only without DNS SAN,
 *     wildcard in the left-most label) or, for an IP literal, its binary
 *     address (GNUTLS_DT_IP_ADDRESS: SAN iPAddress), plus the purpose
 *     "TLS WWW server" (OpenSSL's "SSL server"). Any status bit rejects;
 *     the reason is GnuTLS's own status text.
 *  3. With pins: the leaf's SPKI digest must match one (tls_pin.c); on a
 *     match "Peer certificate matches pinned SPKI digest ALGO$HEX" (debug),
 *     else the warning "Fingerprint doesn't match! MiTM in action?".
 */
#include "config.h"

#include "transport/tls_p.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/x509.h>

/* OpenSSL short names of the usual DN attributes. */
static const struct {
    const char *oid, *name;
} dn_names[] = {
    {"2.5.4.3", "CN"},
    {"2.5.4.6", "C"},
    {"2.5.4.7", "L"},
    {"2.5.4.8", "ST"},
    {"2.5.4.10", "O"},
    {"2.5.4.11", "OU"},
    {"2.5.4.5", "serialNumber"},
    {"2.5.4.4", "SN"},
    {"2.5.4.42", "GN"},
    {"2.5.4.12", "title"},
    {"2.5.4.9", "street"},
    {"2.5.4.17", "postalCode"},
    {"1.2.840.113549.1.9.1", "emailAddress"},
    {"0.9.2342.19200300.100.1.25", "DC"},
    {"0.9.2342.19200300.100.1.1", "UID"},
};

/* Append to buf (capacity cap, *used so far); silently cut when full. */
static void put(char *buf, size_t cap, size_t *used, const char *s, size_t len)
{
    if (*used + len >= cap)
        len = cap - 1 - *used;
    memcpy(buf + *used, s, len);
    *used += len;
    buf[*used] = '\0';
}

/* One AVA as "/NAME=value", non-printable bytes as \xHH (as OpenSSL does). */
static void put_ava(char *buf, size_t cap, size_t *used, const gnutls_x509_ava_st *ava)
{
    const char *name = NULL;
    size_t i,
        oidlen = strnlen((const char *)ava->oid.data, ava->oid.size); /* size may count a NUL */
    char esc[8];

    for (i = 0; i < sizeof(dn_names) / sizeof(dn_names[0]) && !name; i++)
        if (strlen(dn_names[i].oid) == oidlen &&
            memcmp(dn_names[i].oid, ava->oid.data, oidlen) == 0)
            name = dn_names[i].name;
    put(buf, cap, used, "/", 1);
    if (name)
        put(buf, cap, used, name, strlen(name));
    else
        put(buf, cap, used, (const char *)ava->oid.data, oidlen);
    put(buf, cap, used, "=", 1);
    for (i = 0; i < ava->value.size; i++) {
        unsigned char ch = ava->value.data[i];

        if (ch >= 0x20 && ch < 0x7f) {
            put(buf, cap, used, (const char *)&ch, 1);
        } else {
            snprintf(esc, sizeof(esc), "\\x%02X", ch);
            put(buf, cap, used, esc, 4);
        }
    }
}

/* The DN in OpenSSL's one-line format ("/C=FR/O=Example/CN=host"). */
static void dn_oneline(gnutls_x509_dn_t dn, char *buf, size_t cap)
{
    size_t used = 0;
    int irdn, iava;

    buf[0] = '\0';
    for (irdn = 0;; irdn++) {
        for (iava = 0;; iava++) {
            gnutls_x509_ava_st ava;

            if (gnutls_x509_dn_get_rdn_ava(dn, irdn, iava, &ava) < 0)
                break;
            put_ava(buf, cap, &used, &ava);
        }
        if (iava == 0)
            return;
    }
}

/* What the name check compares against (one element of vdata). */
static void host_vdata(const qr_tls_check *c, gnutls_typed_vdata_st *v)
{
    memset(v, 0, sizeof(*v));
    if (c->host_is_ip) {
        v->type = GNUTLS_DT_IP_ADDRESS;
        v->data = (unsigned char *)(uintptr_t)c->ip;
        v->size = (unsigned)c->iplen;
    } else {
        v->type = GNUTLS_DT_DNS_HOSTNAME;
        v->data = (unsigned char *)(uintptr_t)c->host;
    }
}

static void purpose_vdata(gnutls_typed_vdata_st *v)
{
    memset(v, 0, sizeof(*v));
    v->type = GNUTLS_DT_KEY_PURPOSE_OID;
    v->data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_SERVER;
}

/* preverify for the chain from depth on: 1 trusted, 0 not. */
static int preverify(gnutls_x509_trust_list_t tl, gnutls_x509_crt_t *crts, unsigned n,
                     unsigned depth, const qr_tls_check *c)
{
    gnutls_typed_vdata_st v[2];
    unsigned status = 0, nv = 0;

    if (!tl)
        return 0;
    if (depth == 0) {
        host_vdata(c, &v[nv++]);
        purpose_vdata(&v[nv++]);
    }
    if (gnutls_x509_trust_list_verify_crt2(tl, crts + depth, n - depth, nv ? v : NULL, nv, 0,
                                           &status, NULL) < 0)
        return 0;
    return status == 0;
}

static void log_cert(const qr_tls_check *c, gnutls_x509_crt_t crt, unsigned depth, int pre)
{
    gnutls_x509_dn_t dn;
    char text[1024];

    qr_log(c->log, QR_LOG_DEBUG, QR_LOG_EVENT, "[%u] preverify=%d", depth, pre);
    if (gnutls_x509_crt_get_issuer(crt, &dn) >= 0) {
        dn_oneline(dn, text, sizeof(text));
        qr_log(c->log, QR_LOG_DEBUG, QR_LOG_EVENT, "  Issuer Name: %s", text);
    }
    if (gnutls_x509_crt_get_subject(crt, &dn) >= 0) {
        dn_oneline(dn, text, sizeof(text));
        qr_log(c->log, QR_LOG_DEBUG, QR_LOG_EVENT, "  Subject Name: %s", text);
    }
}

/* Step 1 of the essay (at most 16 certificates are shown). */
static void log_chain(gnutls_certificate_credentials_t cred, const gnutls_datum_t *chain,
                      unsigned n, const qr_tls_check *c)
{
    gnutls_x509_crt_t crts[16];
    gnutls_x509_trust_list_t tl = NULL;
    unsigned i, got = 0;

    n = n > 16 ? 16 : n;
    for (i = 0; i < n; i++, got++) {
        if (gnutls_x509_crt_init(&crts[i]) < 0)
            break;
        if (gnutls_x509_crt_import(crts[i], &chain[i], GNUTLS_X509_FMT_DER) < 0) {
            gnutls_x509_crt_deinit(crts[i]);
            break;
        }
    }
    gnutls_certificate_get_trust_list(cred, &tl);
    for (i = got; i-- > 0;)
        log_cert(c, crts[i], i, preverify(tl, crts, got, i, c));
    for (i = 0; i < got; i++)
        gnutls_x509_crt_deinit(crts[i]);
}

/* Step 2: 0 or -1 with c->why. */
static int check_chain(gnutls_session_t session, qr_tls_check *c)
{
    gnutls_typed_vdata_st v[2];
    gnutls_datum_t text = {NULL, 0};
    unsigned status = 0;
    int rc;

    host_vdata(c, &v[0]);
    purpose_vdata(&v[1]);
    rc = gnutls_certificate_verify_peers(session, v, 2, &status);
    if (rc < 0) {
        snprintf(c->why, sizeof(c->why), "certificate verification failed: %s",
                 gnutls_strerror(rc));
        return -1;
    }
    if (status == 0)
        return 0;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) < 0)
        snprintf(c->why, sizeof(c->why), "certificate verification failed (status 0x%x)", status);
    else
        snprintf(c->why, sizeof(c->why), "certificate verification failed: %s", text.data);
    gnutls_free(text.data);
    return -1;
}

/* Step 3: 0 or -1 with c->why. */
static int check_pins(const gnutls_datum_t *leaf, qr_tls_check *c)
{
    size_t which = 0;
    int rc = qr_tls_pins_match(c->pins, c->npins, leaf, &which);

    if (rc == 1) {
        if (c->log)
            qr_log(c->log, QR_LOG_DEBUG, QR_LOG_EVENT,
                   "Peer certificate matches pinned SPKI digest %s", c->pins[which].label);
        return 0;
    }
    if (rc < 0) {
        snprintf(c->why, sizeof(c->why), "cannot read the peer's public key: %s",
                 gnutls_strerror(rc));
        return -1;
    }
    if (c->log)
        qr_log(c->log, QR_LOG_WARNING, QR_LOG_EVENT, "Fingerprint doesn't match! MiTM in action?");
    snprintf(c->why, sizeof(c->why), "Fingerprint doesn't match! MiTM in action?");
    return -1;
}

int qr_tls_check_peer(gnutls_session_t session, gnutls_certificate_credentials_t cred,
                      qr_tls_check *c)
{
    unsigned n = 0;
    const gnutls_datum_t *chain = gnutls_certificate_get_peers(session, &n);

    c->accepted = 0;
    if (!chain || n == 0) {
        snprintf(c->why, sizeof(c->why), "the server sent no certificate");
        return -1;
    }
    c->leaf_seen = 1;
    if (c->log && qr_logger_enabled(c->log, QR_LOG_DEBUG))
        log_chain(cred, chain, n, c);
    if (c->verify && check_chain(session, c) != 0)
        return -1;
    if (c->npins && check_pins(&chain[0], c) != 0)
        return -1;
    c->accepted = 1;
    return 0;
}
