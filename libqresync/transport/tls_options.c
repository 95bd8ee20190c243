/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS option values → a GnuTLS priority (spec imap-client.md §3.1).
 *
 * The reference speaks OpenSSL: protocol names like "TLSv1.2", cipher
 * lists like "EECDH+AESGCM:!aNULL", TLS 1.3 suite names. GnuTLS speaks
 * priority strings: "NORMAL:-VERS-ALL:+VERS-TLS1.2". This file translates,
 * and refuses what it cannot translate faithfully (tls_p.h documents the
 * cipher mapping table and its limits; SSL_priority is the escape hatch).
 *
 * The result is either SSL_priority verbatim, or a fragment appended to
 * GnuTLS's default priority (GNUTLS_PRIORITY_INIT_DEF_APPEND, which keeps
 * the system-wide policy) in this order: protocol versions, then cipher,
 * KX and MAC restrictions, then removals. An empty fragment means the
 * defaults, exactly as when no option is set (the reference then uses the
 * library's defaults too).
 *
 * Protocol versions: SSL_protocol_min/max select the range of versions
 * ("-VERS-ALL:+VERS-TLS1.2:+VERS-TLS1.3"); the deprecated SSL_protocols
 * is used only when neither is set and disables versions
 * ("-VERS-TLS1.0:-VERS-TLS1.1"). SSLv2 has no GnuTLS name and GnuTLS 3.7
 * is built without SSLv3, so "+VERS-SSL3.0" enables nothing: a range
 * holding nothing else ends with GnuTLS's "No or insufficient priorities"
 * error, which is honest.
 *
 * Nothing here allocates except the output strings (qr_malloc).
 */
#include "config.h"

#include "transport/tls_p.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

/* ---- protocol versions -------------------------------------------------- */

static const char *const version_names[QR_TLS_NVERSIONS] = {
    "SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3",
};

/* GnuTLS priority names, NULL where GnuTLS has none. */
static const char *const version_prio[QR_TLS_NVERSIONS] = {
    NULL, "VERS-SSL3.0", "VERS-TLS1.0", "VERS-TLS1.1", "VERS-TLS1.2", "VERS-TLS1.3",
};

void qr_tls_options_init(qr_tls_options *o)
{
    memset(o, 0, sizeof(*o));
    o->verify = 1;
}

const char *qr_tls_version_name(int version)
{
    return version >= 0 && version < QR_TLS_NVERSIONS ? version_names[version] : "unknown";
}

int qr_tls_parse_version(const char *name, int *version, qr_errslot *err)
{
    int v;

    for (v = QR_TLS_SSLV3; v < QR_TLS_NVERSIONS; v++) {
        if (strcmp(name, version_names[v]) == 0) {
            *version = v;
            return 0;
        }
    }
    return qr_err_set(err, QR_EINVAL, "Unknown protocol version: %s", name);
}

/* One SSL_protocols name (length len) → version, or -1. */
static int protocols_lookup(const char *name, size_t len)
{
    int v;

    if (len == 7 && memcmp(name, "TLSv1.0", 7) == 0)
        return QR_TLS_V1_0;
    for (v = 0; v < QR_TLS_NVERSIONS; v++)
        if (strlen(version_names[v]) == len && memcmp(name, version_names[v], len) == 0)
            return v;
    return -1;
}

int qr_tls_parse_protocols(const char *list, unsigned *disabled, qr_errslot *err)
{
    unsigned include = 0, exclude = 0, all = (1u << QR_TLS_NVERSIONS) - 1;
    const char *p = list;

    while (*p) {
        size_t len;
        int neg, v;

        p += strspn(p, " \t");
        len = strcspn(p, " \t");
        if (len == 0)
            break;
        neg = *p == '!';
        v = protocols_lookup(p + neg, len - (size_t)neg);
        if (v < 0)
            return qr_err_set(err, QR_EINVAL, "Unknown SSL protocol: %.*s",
                              (int)(len - (size_t)neg), p + neg);
        if (neg)
            exclude |= 1u << v;
        else
            include |= 1u << v;
        p += len;
    }
    if (include)
        exclude |= all & ~include;
    *disabled = exclude;
    return 0;
}

void qr_tls_format_protocols(unsigned mask, char *buf, size_t cap)
{
    size_t used = 0;
    int v;

    /* version_names happens to be in strcmp order, so the list comes out sorted */
    buf[0] = '\0';
    for (v = 0; v < QR_TLS_NVERSIONS && cap > 0; v++) {
        int n;

        if (!(mask & (1u << v)))
            continue;
        n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", version_names[v]);
        if (n < 0 || (size_t)n >= cap - used)
            return;
        used += (size_t)n;
    }
}

/* ---- a small string builder ---------------------------------------------- */

/* Fixed-capacity text: every fragment we build is far below PRIO_MAX. */
#define PRIO_MAX 1024

typedef struct prio_buf {
    char text[PRIO_MAX]; /* ':'-separated items, NUL-terminated */
    size_t len;          /* bytes used in text */
} prio_buf;

/* Append ":item" (no ':' when empty). Items come from fixed tables, so it fits. */
static void prio_add(prio_buf *b, const char *sign, const char *item)
{
    int n = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s%s%s", b->len ? ":" : "", sign,
                     item);

    if (n > 0 && (size_t)n < sizeof(b->text) - b->len)
        b->len += (size_t)n;
}

/* Versions part of the fragment, with the debug lines and the warning. */
static int prio_versions(prio_buf *b, const qr_tls_options *o, const qr_logger *log,
                         qr_errslot *err)
{
    int lo = QR_TLS_SSLV3, hi = QR_TLS_V1_3, rc, v;

    if (o->protocol_min || o->protocol_max) {
        if (o->protocol_min && (rc = qr_tls_parse_version(o->protocol_min, &lo, err)) != 0)
            return rc;
        if (o->protocol_max && (rc = qr_tls_parse_version(o->protocol_max, &hi, err)) != 0)
            return rc;
        if (lo > hi)
            return qr_err_set(err, QR_EINVAL, "SSL_protocol_min %s is above SSL_protocol_max %s",
                              version_names[lo], version_names[hi]);
        if (o->protocol_min && log)
            qr_log(log, QR_LOG_DEBUG, QR_LOG_EVENT, "Minimum SSL/TLS protocol version: %s",
                   o->protocol_min);
        if (o->protocol_max && log)
            qr_log(log, QR_LOG_DEBUG, QR_LOG_EVENT, "Maximum SSL/TLS protocol version: %s",
                   o->protocol_max);
        prio_add(b, "-", "VERS-ALL");
        for (v = lo; v <= hi; v++)
            prio_add(b, "+", version_prio[v]);
        return 0;
    }
    if (o->protocols) {
        unsigned off;
        char names[128];

        if (log)
            qr_log(log, QR_LOG_WARNING, QR_LOG_EVENT,
                   "SSL_protocols is deprecated and will be removed in a future release! "
                   "Use SSL_protocol_{min,max} instead.");
        if ((rc = qr_tls_parse_protocols(o->protocols, &off, err)) != 0)
            return rc;
        qr_tls_format_protocols(off, names, sizeof(names));
        if (off && log)
            qr_log(log, QR_LOG_DEBUG, QR_LOG_EVENT, "Disabling SSL protocols: %s", names);
        for (v = 0; v < QR_TLS_NVERSIONS; v++)
            if ((off & (1u << v)) && version_prio[v])
                prio_add(b, "-", version_prio[v]);
    }
    return 0;
}

/* ---- ciphers -------------------------------------------------------------- */

/* Components, one bit each; the index is the bit number. */
static const char *const kx_names[] = {"ECDHE-RSA", "ECDHE-ECDSA", "DHE-RSA", "RSA"};
static const char *const cipher_names[] = {
    "AES-128-GCM", "AES-256-GCM",   "CHACHA20-POLY1305", "AES-128-CCM",
    "AES-256-CCM", "AES-128-CCM-8", "AES-128-CBC",       "AES-256-CBC",
};
static const char *const mac_names[] = {"AEAD", "SHA1", "SHA256", "SHA384"};

enum { KX_ECDHE_RSA = 1, KX_ECDHE_ECDSA = 2, KX_DHE_RSA = 4, KX_RSA = 8, KX_ALL = 15 };
enum {
    C_A128GCM = 1,
    C_A256GCM = 2,
    C_CHACHA = 4,
    C_A128CCM = 8,
    C_A256CCM = 16,
    C_A128CCM8 = 32,
    C_A128CBC = 64,
    C_A256CBC = 128,
    C_ALL = 255
};
enum { M_AEAD = 1, M_SHA1 = 2, M_SHA256 = 4, M_SHA384 = 8, M_ALL = 15 };

/* A set of suites as three component masks (full mask: unconstrained). */
typedef struct suite_set {
    unsigned kx, cipher, mac;
} suite_set;

typedef struct cipher_entry {
    const char *name; /* OpenSSL name */
    suite_set set;    /* what it stands for */
} cipher_entry;

#define S(k, c, m)                                                                                 \
    {                                                                                              \
        (k), (c), (m)                                                                              \
    }

/* Full OpenSSL suite names for TLS <= 1.2 (tls_p.h). */
static const cipher_entry suites12[] = {
    {"ECDHE-ECDSA-AES128-GCM-SHA256", S(KX_ECDHE_ECDSA, C_A128GCM, M_AEAD)},
    {"ECDHE-RSA-AES128-GCM-SHA256", S(KX_ECDHE_RSA, C_A128GCM, M_AEAD)},
    {"ECDHE-ECDSA-AES256-GCM-SHA384", S(KX_ECDHE_ECDSA, C_A256GCM, M_AEAD)},
    {"ECDHE-RSA-AES256-GCM-SHA384", S(KX_ECDHE_RSA, C_A256GCM, M_AEAD)},
    {"ECDHE-ECDSA-CHACHA20-POLY1305", S(KX_ECDHE_ECDSA, C_CHACHA, M_AEAD)},
    {"ECDHE-RSA-CHACHA20-POLY1305", S(KX_ECDHE_RSA, C_CHACHA, M_AEAD)},
    {"DHE-RSA-AES128-GCM-SHA256", S(KX_DHE_RSA, C_A128GCM, M_AEAD)},
    {"DHE-RSA-AES256-GCM-SHA384", S(KX_DHE_RSA, C_A256GCM, M_AEAD)},
    {"DHE-RSA-CHACHA20-POLY1305", S(KX_DHE_RSA, C_CHACHA, M_AEAD)},
    {"ECDHE-ECDSA-AES128-CCM", S(KX_ECDHE_ECDSA, C_A128CCM, M_AEAD)},
    {"ECDHE-ECDSA-AES256-CCM", S(KX_ECDHE_ECDSA, C_A256CCM, M_AEAD)},
    {"ECDHE-ECDSA-AES128-SHA256", S(KX_ECDHE_ECDSA, C_A128CBC, M_SHA256)},
    {"ECDHE-RSA-AES128-SHA256", S(KX_ECDHE_RSA, C_A128CBC, M_SHA256)},
    {"ECDHE-ECDSA-AES256-SHA384", S(KX_ECDHE_ECDSA, C_A256CBC, M_SHA384)},
    {"ECDHE-RSA-AES256-SHA384", S(KX_ECDHE_RSA, C_A256CBC, M_SHA384)},
    {"ECDHE-ECDSA-AES128-SHA", S(KX_ECDHE_ECDSA, C_A128CBC, M_SHA1)},
    {"ECDHE-RSA-AES128-SHA", S(KX_ECDHE_RSA, C_A128CBC, M_SHA1)},
    {"ECDHE-ECDSA-AES256-SHA", S(KX_ECDHE_ECDSA, C_A256CBC, M_SHA1)},
    {"ECDHE-RSA-AES256-SHA", S(KX_ECDHE_RSA, C_A256CBC, M_SHA1)},
    {"DHE-RSA-AES128-SHA256", S(KX_DHE_RSA, C_A128CBC, M_SHA256)},
    {"DHE-RSA-AES256-SHA256", S(KX_DHE_RSA, C_A256CBC, M_SHA256)},
    {"DHE-RSA-AES128-SHA", S(KX_DHE_RSA, C_A128CBC, M_SHA1)},
    {"DHE-RSA-AES256-SHA", S(KX_DHE_RSA, C_A256CBC, M_SHA1)},
    {"DHE-RSA-AES128-CCM", S(KX_DHE_RSA, C_A128CCM, M_AEAD)},
    {"DHE-RSA-AES256-CCM", S(KX_DHE_RSA, C_A256CCM, M_AEAD)},
    {"AES128-GCM-SHA256", S(KX_RSA, C_A128GCM, M_AEAD)},
    {"AES256-GCM-SHA384", S(KX_RSA, C_A256GCM, M_AEAD)},
    {"AES128-CCM", S(KX_RSA, C_A128CCM, M_AEAD)},
    {"AES256-CCM", S(KX_RSA, C_A256CCM, M_AEAD)},
    {"AES128-SHA256", S(KX_RSA, C_A128CBC, M_SHA256)},
    {"AES256-SHA256", S(KX_RSA, C_A256CBC, M_SHA256)},
    {"AES128-SHA", S(KX_RSA, C_A128CBC, M_SHA1)},
    {"AES256-SHA", S(KX_RSA, C_A256CBC, M_SHA1)},
    /* aliases: one category each */
    {"ECDHE", S(KX_ECDHE_RSA | KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"EECDH", S(KX_ECDHE_RSA | KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"kECDHE", S(KX_ECDHE_RSA | KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"kEECDH", S(KX_ECDHE_RSA | KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"DHE", S(KX_DHE_RSA, C_ALL, M_ALL)},
    {"EDH", S(KX_DHE_RSA, C_ALL, M_ALL)},
    {"kDHE", S(KX_DHE_RSA, C_ALL, M_ALL)},
    {"kEDH", S(KX_DHE_RSA, C_ALL, M_ALL)},
    {"RSA", S(KX_RSA, C_ALL, M_ALL)},
    {"kRSA", S(KX_RSA, C_ALL, M_ALL)},
    {"aRSA", S(KX_ECDHE_RSA | KX_DHE_RSA | KX_RSA, C_ALL, M_ALL)},
    {"aECDSA", S(KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"ECDSA", S(KX_ECDHE_ECDSA, C_ALL, M_ALL)},
    {"AESGCM", S(KX_ALL, C_A128GCM | C_A256GCM, M_ALL)},
    {"AESCCM", S(KX_ALL, C_A128CCM | C_A256CCM, M_ALL)},
    {"AES", S(KX_ALL, C_ALL & ~(unsigned)C_CHACHA, M_ALL)},
    {"AES128", S(KX_ALL, C_A128GCM | C_A128CCM | C_A128CCM8 | C_A128CBC, M_ALL)},
    {"AES256", S(KX_ALL, C_A256GCM | C_A256CCM | C_A256CBC, M_ALL)},
    {"CHACHA20", S(KX_ALL, C_CHACHA, M_ALL)},
    {"SHA1", S(KX_ALL, C_ALL, M_SHA1)},
    {"SHA", S(KX_ALL, C_ALL, M_SHA1)},
    {"SHA256", S(KX_ALL, C_ALL, M_SHA256)},
    {"SHA384", S(KX_ALL, C_ALL, M_SHA384)},
};
#define N_SUITES12 33 /* entries of suites12 before the aliases */

/* TLS 1.3 suite names → ciphers. */
static const cipher_entry suites13[] = {
    {"TLS_AES_128_GCM_SHA256", S(KX_ALL, C_A128GCM, M_AEAD)},
    {"TLS_AES_256_GCM_SHA384", S(KX_ALL, C_A256GCM, M_AEAD)},
    {"TLS_CHACHA20_POLY1305_SHA256", S(KX_ALL, C_CHACHA, M_AEAD)},
    {"TLS_AES_128_CCM_SHA256", S(KX_ALL, C_A128CCM, M_AEAD)},
    {"TLS_AES_128_CCM_8_SHA256", S(KX_ALL, C_A128CCM8, M_AEAD)},
};

/* Removals GnuTLS's defaults make pointless (never enabled). */
static const char *const noop_removals[] = {
    "aNULL", "eNULL", "NULL", "EXP",   "EXPORT", "LOW",      "MEDIUM", "MD5", "RC4",
    "RC2",   "DES",   "3DES", "IDEA",  "SEED",   "PSK",      "SRP",    "DSS", "aDSS",
    "ADH",   "AECDH", "kDH",  "kECDH", "aECDH",  "CAMELLIA", "ARIA",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Look name (length len) up in table[first..n): the entry or NULL. */
static const cipher_entry *cipher_lookup(const cipher_entry *table, size_t first, size_t n,
                                         const char *name, size_t len)
{
    size_t i;

    for (i = first; i < n; i++)
        if (strlen(table[i].name) == len && memcmp(table[i].name, name, len) == 0)
            return &table[i];
    return NULL;
}

static int in_list(const char *const *list, size_t n, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (strlen(list[i]) == len && memcmp(list[i], name, len) == 0)
            return 1;
    return 0;
}

/* What SSL_cipherlist asked for so far. */
typedef struct cipher_acc {
    int any_pos;   /* some positive element was seen */
    suite_set pos; /* union of the positive elements */
    suite_set neg; /* components to remove ("!X", "-X") */
} cipher_acc;

static int unmappable(qr_errslot *err, const char *option, const char *el, size_t len)
{
    return qr_err_set(err, QR_EINVAL,
                      "%s: cannot map '%.*s' to a GnuTLS priority; use SSL_priority", option,
                      (int)len, el);
}

/* "!X" or "-X": remove the components alias X constrains. */
static int cipher_removal(cipher_acc *a, const char *el, size_t len, qr_errslot *err)
{
    const cipher_entry *e;

    if (in_list(noop_removals, COUNT(noop_removals), el + 1, len - 1))
        return 0;
    e = cipher_lookup(suites12, N_SUITES12, COUNT(suites12), el + 1, len - 1);
    if (!e)
        return unmappable(err, "SSL_cipherlist", el, len);
    a->neg.kx |= e->set.kx != KX_ALL ? e->set.kx : 0;
    a->neg.cipher |= e->set.cipher != C_ALL ? e->set.cipher : 0;
    a->neg.mac |= e->set.mac != M_ALL ? e->set.mac : 0;
    return 0;
}

/* One SSL_cipherlist element (len > 0). */
static int cipher_element(cipher_acc *a, const char *el, size_t len, qr_errslot *err)
{
    suite_set item = {KX_ALL, C_ALL, M_ALL};
    size_t off = 0;

    if (el[0] == '!' || el[0] == '-')
        return cipher_removal(a, el, len, err);
    if (el[0] == '+' || (len == 9 && memcmp(el, "@STRENGTH", 9) == 0))
        return 0; /* ordering: GnuTLS keeps its own */
    a->any_pos = 1;
    if ((len == 7 && memcmp(el, "DEFAULT", 7) == 0) || (len == 4 && memcmp(el, "HIGH", 4) == 0)) {
        a->pos = item;
        return 0;
    }
    while (off < len) {
        size_t plen = strcspn(el + off, "+");
        const cipher_entry *e;

        plen = plen > len - off ? len - off : plen;
        e = cipher_lookup(suites12, 0, COUNT(suites12), el + off, plen);
        if (!e)
            return unmappable(err, "SSL_cipherlist", el, len);
        item.kx &= e->set.kx;
        item.cipher &= e->set.cipher;
        item.mac &= e->set.mac;
        off += plen + 1;
    }
    a->pos.kx |= item.kx;
    a->pos.cipher |= item.cipher;
    a->pos.mac |= item.mac;
    return 0;
}

static int parse_cipherlist(cipher_acc *a, const char *list, qr_errslot *err)
{
    const char *p = list;

    while (*p) {
        size_t len = strcspn(p, ":, ");
        int rc = len ? cipher_element(a, p, len, err) : 0;

        if (rc)
            return rc;
        p += len;
        p += *p != '\0';
    }
    return 0;
}

/* SSL_ciphersuites → mask of ciphers (0 when empty). */
static int parse_ciphersuites(unsigned *mask, const char *list, qr_errslot *err)
{
    const char *p = list;

    *mask = 0;
    while (*p) {
        size_t len = strcspn(p, ":");
        const cipher_entry *e = len ? cipher_lookup(suites13, 0, COUNT(suites13), p, len) : NULL;

        if (len && !e)
            return unmappable(err, "SSL_ciphersuites", p, len);
        if (e)
            *mask |= e->set.cipher;
        p += len;
        p += *p != '\0';
    }
    return 0;
}

/* "-CAT-ALL:+A:+B" when mask is not the full one. */
static void emit_restriction(prio_buf *b, const char *all, unsigned mask, unsigned full,
                             const char *const *names, size_t n)
{
    size_t i;

    if (mask == full)
        return;
    prio_add(b, "-", all);
    for (i = 0; i < n; i++)
        if (mask & (1u << i))
            prio_add(b, "+", names[i]);
}

static void emit_removals(prio_buf *b, unsigned mask, const char *const *names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (mask & (1u << i))
            prio_add(b, "-", names[i]);
}

/* Append the cipher part to b (see tls_p.h for the rules). */
static int prio_ciphers(prio_buf *b, const char *cipherlist, const char *ciphersuites,
                        qr_errslot *err)
{
    cipher_acc a = {0, {0, 0, 0}, {0, 0, 0}};
    unsigned c13 = 0, ciphers = 0, mac;
    int rc;

    if (cipherlist && (rc = parse_cipherlist(&a, cipherlist, err)) != 0)
        return rc;
    if (ciphersuites && (rc = parse_ciphersuites(&c13, ciphersuites, err)) != 0)
        return rc;
    if (!a.any_pos)
        a.pos = (suite_set){KX_ALL, C_ALL, M_ALL};
    if (cipherlist)
        ciphers |= a.pos.cipher;
    ciphers |= c13;
    if (!cipherlist && !c13)
        ciphers = C_ALL;
    mac = a.pos.mac | (c13 && a.pos.mac != M_ALL ? M_AEAD : 0);
    if (ciphersuites && !c13)
        prio_add(b, "-", "VERS-TLS1.3");
    emit_restriction(b, "CIPHER-ALL", ciphers, C_ALL, cipher_names, COUNT(cipher_names));
    emit_restriction(b, "KX-ALL", a.pos.kx, KX_ALL, kx_names, COUNT(kx_names));
    emit_restriction(b, "MAC-ALL", mac, M_ALL, mac_names, COUNT(mac_names));
    emit_removals(b, a.neg.cipher, cipher_names, COUNT(cipher_names));
    emit_removals(b, a.neg.kx, kx_names, COUNT(kx_names));
    emit_removals(b, a.neg.mac, mac_names, COUNT(mac_names));
    return 0;
}

int qr_tls_map_ciphers(const char *cipherlist, const char *ciphersuites, char **out,
                       qr_errslot *err)
{
    prio_buf b;
    int rc;

    *out = NULL;
    b.len = 0;
    b.text[0] = '\0';
    rc = prio_ciphers(&b, cipherlist, ciphersuites, err);
    if (rc)
        return rc;
    *out = qr_memdup0(b.text, b.len);
    return *out ? 0 : qr_err_set(err, QR_ENOMEM, "TLS settings: out of memory");
}

/* ---- the whole priority ----------------------------------------------------- */

int qr_tls_priority_string(const qr_tls_options *o, const qr_logger *log, char **out, int *append,
                           qr_errslot *err)
{
    prio_buf b;
    int rc;

    *out = NULL;
    *append = !(o->priority && *o->priority);
    if (!*append) {
        *out = qr_strdup(o->priority);
        return *out ? 0 : qr_err_set(err, QR_ENOMEM, "TLS settings: out of memory");
    }
    b.len = 0;
    b.text[0] = '\0';
    rc = prio_versions(&b, o, log, err);
    if (!rc)
        rc = prio_ciphers(&b, o->cipherlist, o->ciphersuites, err);
    if (rc)
        return rc;
    *out = qr_memdup0(b.text, b.len);
    return *out ? 0 : qr_err_set(err, QR_ENOMEM, "TLS settings: out of memory");
}

int qr_tls_priority_init(gnutls_priority_t *out, const qr_tls_options *o, const qr_logger *log,
                         qr_errslot *err)
{
    const char *errpos = NULL;
    char *text;
    int append, rc;

    *out = NULL;
    rc = qr_tls_priority_string(o, log, &text, &append, err);
    if (rc)
        return rc;
    if (append && !*text) {
        qr_free(text);
        return 0;
    }
    rc = gnutls_priority_init2(out, text, &errpos, append ? GNUTLS_PRIORITY_INIT_DEF_APPEND : 0);
    if (rc < 0) {
        int code = rc == GNUTLS_E_MEMORY_ERROR ? QR_ENOMEM : QR_EINVAL;
        size_t len = strlen(text);

        /* point into text (GnuTLS may report a place in its own copy) */
        if (!errpos || (uintptr_t)errpos < (uintptr_t)text ||
            (uintptr_t)errpos > (uintptr_t)(text + len))
            errpos = text;
        qr_err_set(err, code, "%s: invalid GnuTLS priority '%s' at '%s': %s",
                   append ? "TLS settings" : "SSL_priority", text, errpos, gnutls_strerror(rc));
        qr_errslot_set_lib_code(err, rc);
        *out = NULL;
        qr_free(text);
        return code;
    }
    qr_free(text);
    return 0;
}
