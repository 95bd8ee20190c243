/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_tls_creds: GnuTLS certificate credentials plus a reference count.
 *
 * Loading trust anchors (the system store holds a few hundred
 * certificates) costs milliseconds, so a program making several
 * connections with the same trust settings loads them once and hands the
 * same object to each TLS layer; every layer holds a reference and the
 * last qr_tls_creds_unref() frees it. The count is atomic so that
 * sessions in different threads may share one object (GnuTLS allows
 * concurrent use of loaded credentials); loading itself is not shared.
 *
 * What is loaded follows spec imap-client.md §3.2: with verification on,
 * SSL_CAfile and/or SSL_CApath when either is set, else the system store.
 * OpenSSL's default locations honour the SSL_CERT_FILE and SSL_CERT_DIR
 * environment variables; so do we (secure_getenv, so set-uid programs
 * ignore them), falling back to gnutls_certificate_set_x509_system_trust.
 * Without verification nothing is loaded: pins need no trust anchors.
 * A CA file that holds no certificate is an error, as it is for OpenSSL.
 */
#include "config.h"

#include "transport/tls_p.h"

#include <stdatomic.h>
#include <stdlib.h>

#include <gnutls/x509.h>

#include "util/alloc.h"

struct qr_tls_creds {
    atomic_int refs;                       /* references held; the last unref frees */
    gnutls_certificate_credentials_t cred; /* owned GnuTLS credentials */
};

/* Load one file or directory of PEM anchors: 0, or QR_ETLS naming it. */
static int load_anchors(qr_tls_creds *c, const char *what, const char *path, int is_dir,
                        qr_errslot *err)
{
    int rc = is_dir ? gnutls_certificate_set_x509_trust_dir(c->cred, path, GNUTLS_X509_FMT_PEM)
                    : gnutls_certificate_set_x509_trust_file(c->cred, path, GNUTLS_X509_FMT_PEM);

    if (rc > 0)
        return 0;
    if (rc == 0)
        qr_err_set(err, QR_ETLS, "Can't load trust anchors from %s '%s': no certificate found",
                   what, path);
    else
        qr_err_set(err, QR_ETLS, "Can't load trust anchors from %s '%s': %s", what, path,
                   gnutls_strerror(rc));
    qr_errslot_set_lib_code(err, rc);
    return QR_ETLS;
}

/* The default locations: the environment's, else GnuTLS's system store. */
static int load_default(qr_tls_creds *c, qr_errslot *err, const qr_logger *log)
{
    const char *file = secure_getenv("SSL_CERT_FILE");
    const char *dir = secure_getenv("SSL_CERT_DIR");
    int rc = 0;

    if (log)
        qr_log(log, QR_LOG_DEBUG, QR_LOG_EVENT,
               "Using default locations for trusted CA certificates");
    if ((file && *file) || (dir && *dir)) {
        if (file && *file)
            rc = load_anchors(c, "SSL_CERT_FILE", file, 0, err);
        if (!rc && dir && *dir)
            rc = load_anchors(c, "SSL_CERT_DIR", dir, 1, err);
        return rc;
    }
    rc = gnutls_certificate_set_x509_system_trust(c->cred);
    if (rc >= 0)
        return 0;
    qr_err_set(err, QR_ETLS, "Can't load trust anchors from the system trust store: %s",
               gnutls_strerror(rc));
    qr_errslot_set_lib_code(err, rc);
    return QR_ETLS;
}

static int load_trust(qr_tls_creds *c, const qr_tls_options *o, qr_errslot *err,
                      const qr_logger *log)
{
    int has_file = o->cafile && *o->cafile, has_dir = o->capath && *o->capath, rc = 0;

    if (!o->verify)
        return 0;
    if (!has_file && !has_dir)
        return load_default(c, err, log);
    if (has_file)
        rc = load_anchors(c, "SSL_CAfile", o->cafile, 0, err);
    if (!rc && has_dir)
        rc = load_anchors(c, "SSL_CApath", o->capath, 1, err);
    return rc;
}

int qr_tls_creds_new(qr_tls_creds **out, const qr_tls_options *o, qr_errslot *err,
                     const qr_logger *log)
{
    qr_tls_creds *c = qr_calloc(1, sizeof(*c));
    int rc;

    *out = NULL;
    if (!c)
        return qr_err_set(err, QR_ENOMEM, "TLS credentials: out of memory");
    atomic_init(&c->refs, 1);
    rc = gnutls_certificate_allocate_credentials(&c->cred);
    if (rc < 0) {
        qr_free(c);
        return qr_err_set(err, QR_ENOMEM, "TLS credentials: %s", gnutls_strerror(rc));
    }
    rc = load_trust(c, o, err, log);
    if (rc) {
        qr_tls_creds_unref(c);
        return rc;
    }
    *out = c;
    return 0;
}

qr_tls_creds *qr_tls_creds_ref(qr_tls_creds *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void qr_tls_creds_unref(qr_tls_creds *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    gnutls_certificate_free_credentials(c->cred);
    qr_free(c);
}

gnutls_certificate_credentials_t qr_tls_creds_gnutls(const qr_tls_creds *c)
{
    return c->cred;
}
