/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SSL_fingerprint: public-key pins (spec imap-client.md §3.3).
 *
 * A pin is "[ALGO$]HEX": ALGO is any digest GnuTLS knows by name
 * (gnutls_digest_get_id: sha1, sha256, sha384, sha512, sha3-256, ...;
 * case-insensitive; default sha256), HEX the digest of the DER
 * SubjectPublicKeyInfo of the server's leaf certificate -- what
 * `openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER |
 * openssl dgst -sha256` prints. Hex digits are case-insensitive and
 * colons between them are tolerated (as the reference's code does).
 *
 * Parsing happens once, when the layer is created: an unknown digest is
 * "Can't find MD value for name 'ALGO'" (the reference's text) and, unlike
 * the reference (which would only fail to match at connection time), a
 * HEX of the wrong length or with a non-hex character is refused at once.
 * Matching runs in the verify callback during the handshake (tls_verify.c)
 * on the leaf only; any entry matching is enough.
 */
#include "config.h"

#include "transport/tls_p.h"

#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>

#include "util/alloc.h"

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Decode HEX (colons skipped) into exactly want bytes: 0 or -1. */
static int hex_decode(const char *hex, size_t len, unsigned char *out, size_t want)
{
    size_t i, got = 0;
    int hi = -1;

    for (i = 0; i < len; i++) {
        int v = hexval(hex[i]);

        if (hex[i] == ':' && hi < 0)
            continue;
        if (v < 0 || (hi < 0 && got == want))
            return -1;
        if (hi < 0) {
            hi = v;
        } else {
            out[got++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    return got == want && hi < 0 ? 0 : -1;
}

/* One token (length len) into p. */
static int pin_parse_one(qr_tls_pin *p, const char *tok, size_t len, qr_errslot *err)
{
    const char *dollar = memchr(tok, '$', len);
    const char *hex = dollar ? dollar + 1 : tok;
    size_t alen = dollar ? (size_t)(dollar - tok) : 0, hlen = len - (size_t)(hex - tok);
    char algo[32] = "sha256";

    if (dollar) {
        if (alen >= sizeof(algo))
            return qr_err_set(err, QR_EINVAL, "Can't find MD value for name '%.*s'", (int)alen,
                              tok);
        memcpy(algo, tok, alen);
        algo[alen] = '\0';
    }
    p->algo = gnutls_digest_get_id(algo);
    if (p->algo == GNUTLS_DIG_UNKNOWN)
        return qr_err_set(err, QR_EINVAL, "Can't find MD value for name '%s'", algo);
    p->len = gnutls_hash_get_len((gnutls_digest_algorithm_t)p->algo);
    if (p->len == 0 || p->len > sizeof(p->digest) || hex_decode(hex, hlen, p->digest, p->len))
        return qr_err_set(err, QR_EINVAL,
                          "SSL_fingerprint: '%.*s' is not a HEX %s digest (%zu bytes)", (int)len,
                          tok, algo, p->len);
    p->label = qr_malloc(strlen(algo) + 1 + hlen + 1);
    if (!p->label)
        return qr_err_set(err, QR_ENOMEM, "SSL_fingerprint: out of memory");
    memcpy(p->label, algo, strlen(algo));
    p->label[strlen(algo)] = '$';
    memcpy(p->label + strlen(algo) + 1, hex, hlen);
    p->label[strlen(algo) + 1 + hlen] = '\0';
    return 0;
}

static size_t count_tokens(const char *list)
{
    size_t n = 0;

    while (*list) {
        list += strspn(list, " \t");
        if (*list)
            n++;
        list += strcspn(list, " \t");
    }
    return n;
}

int qr_tls_pins_parse(const char *list, qr_tls_pin **pins, size_t *npins, qr_errslot *err)
{
    size_t n = list ? count_tokens(list) : 0, i = 0;
    qr_tls_pin *v;

    *pins = NULL;
    *npins = 0;
    if (n == 0)
        return 0;
    v = qr_calloc(n, sizeof(*v));
    if (!v)
        return qr_err_set(err, QR_ENOMEM, "SSL_fingerprint: out of memory");
    while (*list) {
        size_t len;
        int rc;

        list += strspn(list, " \t");
        len = strcspn(list, " \t");
        if (len == 0)
            break;
        rc = pin_parse_one(&v[i++], list, len, err);
        if (rc) {
            qr_tls_pins_free(v, n);
            return rc;
        }
        list += len;
    }
    *pins = v;
    *npins = n;
    return 0;
}

void qr_tls_pins_free(qr_tls_pin *pins, size_t npins)
{
    size_t i;

    for (i = 0; pins && i < npins; i++)
        qr_free(pins[i].label);
    qr_free(pins);
}

/* The DER SubjectPublicKeyInfo of a DER certificate (gnutls_free it). */
static int leaf_spki(const gnutls_datum_t *leaf, gnutls_datum_t *spki)
{
    gnutls_pubkey_t pk;
    int rc = gnutls_pubkey_init(&pk);

    if (rc < 0)
        return rc;
    rc = gnutls_pubkey_import_x509_raw(pk, leaf, GNUTLS_X509_FMT_DER, 0);
    if (rc >= 0)
        rc = gnutls_pubkey_export2(pk, GNUTLS_X509_FMT_DER, spki);
    gnutls_pubkey_deinit(pk);
    return rc;
}

int qr_tls_pins_match(const qr_tls_pin *pins, size_t npins, const gnutls_datum_t *leaf,
                      size_t *which)
{
    gnutls_datum_t spki = {NULL, 0};
    unsigned char md[64];
    size_t i;
    int rc = leaf_spki(leaf, &spki), found = 0;

    if (rc < 0)
        return rc;
    for (i = 0; i < npins && !found; i++) {
        rc = gnutls_hash_fast(pins[i].algo, spki.data, spki.size, md);
        if (rc >= 0 && memcmp(md, pins[i].digest, pins[i].len) == 0) {
            *which = i;
            found = 1;
        }
    }
    gnutls_free(spki.data);
    return found;
}
