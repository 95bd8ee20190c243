/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TLS layer: a GnuTLS client session over whatever layer lies below
 * (socket, tunnel, SOCKS5 proxy), following transport_p.h's contract.
 *
 * Transport. GnuTLS never sees a file descriptor: its push, vector push
 * and pull functions call qr_layer_write()/qr_layer_read() on the layer
 * below. QR_EAGAIN becomes -1 with errno EAGAIN (gnutls_transport_set_errno),
 * QR_EOF becomes 0, and any other error of the layer below becomes -1/EIO
 * with the code kept in `below_err`: its detail is already in the error
 * slot, so the layer returns that code unchanged instead of a vaguer
 * QR_ETLS. The pull-timeout function says "maybe readable": pull then
 * answers EAGAIN when nothing is there. GnuTLS's own handshake timeout is
 * disabled; ours is `deadline`.
 *
 * States (`state`):
 *
 *   HANDSHAKE  step() drives gnutls_handshake(); QR_EAGAIN while it waits
 *              for the peer (interest() from gnutls_record_get_direction),
 *              QR_ETLS "handshake ... timed out" once `deadline` passes.
 *              The verify callback (tls_verify.c) checks chain, name and
 *              pins inside the handshake, so a rejected server never gets
 *              application data. read/write fail with QR_EINVAL.
 *   OPEN       read = gnutls_record_recv, write = buffered record_send.
 *   CLOSING    close() is sending close_notify (gnutls_bye SHUT_WR);
 *   CLOSED     it was sent. Reads still work in both (the server may still
 *              talk); writes fail with QR_EINVAL.
 *   FAILED     every operation returns `fail_code` again (sticky).
 *
 * Output. GnuTLS requires a send interrupted by GNUTLS_E_AGAIN to be
 * repeated with the same arguments (the record is already encrypted and
 * queued inside GnuTLS). To give write() clean partial-write semantics
 * the layer copies accepted bytes into `wbuf` (one record's worth,
 * 16 KiB) and sends from there: after an EAGAIN `wagain` remembers the
 * length passed, and the next drain repeats exactly that call. wbuf is
 * compacted only when no call is pending, so the bytes never move under
 * GnuTLS. write() returns the bytes copied (QR_EAGAIN when wbuf is full
 * and cannot drain); flush() drains wbuf and flushes the layer below.
 *
 * Input. read() returns what one gnutls_record_recv gives; the rest of the
 * record stays inside GnuTLS, so pending_input() is
 * gnutls_record_check_pending() > 0. A close_notify is QR_EOF "0 bytes
 * read (got EOF)", an EOF without it QR_EOF too (with a note); other fatal
 * errors are QR_ETLS "TLS read from HOST: GnuTLS message". Non-fatal
 * conditions (a warning alert, a TLS 1.2 renegotiation request, which we
 * ignore) are retried.
 *
 * After the handshake (spec imap-client.md §3.5) the layer checks that
 * the callback saw the leaf and, with verification on, accepted it, then
 * logs "SSL protocol: TLSv1.3 (0x304)" and "SSL cipher: NAME (N bits)",
 * where NAME is GnuTLS's (IANA) suite name -- OpenSSL shows its own names
 * for TLS <= 1.2 (ECDHE-RSA-AES256-GCM-SHA384 vs
 * TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384); TLS 1.3 names are the same.
 *
 * GnuTLS >= 3.3 initialises itself: no gnutls_global_init() here.
 */
#include "config.h"

#include "transport/tls_p.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "util/alloc.h"

#define TLS_WBUF  16384 /* bytes of plaintext the layer accepts ahead of GnuTLS */
#define TLS_RETRY 16    /* non-fatal GnuTLS conditions retried per call */

enum tls_state { TLS_HANDSHAKE, TLS_OPEN, TLS_CLOSING, TLS_CLOSED, TLS_FAILED };

typedef struct qr_tls_layer {
    qr_layer base;            /* head; ops = &tls_ops */
    gnutls_session_t session; /* owned GnuTLS session (NULL until created) */
    gnutls_priority_t prio;   /* owned compiled priority; NULL: GnuTLS defaults */
    qr_tls_creds *creds;      /* one owned reference */
    const qr_logger *log;     /* borrowed, may be NULL; outlives the layer */
    char *host;               /* owned: host without brackets (name check, messages) */
    char *sni;                /* owned: the SNI name sent, or NULL */
    qr_tls_pin *pins;         /* owned SSL_fingerprint entries, or NULL */
    size_t npins;             /* entries in pins */
    qr_tls_check check;       /* the verify callback's inputs and findings */
    enum tls_state state;     /* see the essay */
    int fail_code;            /* returned again in TLS_FAILED */
    int timeout_ms;           /* handshake timeout; <= 0: none */
    int64_t deadline;         /* CLOCK_MONOTONIC ms the handshake expires at, or -1 */
    unsigned char *wbuf;      /* owned, TLS_WBUF bytes: accepted plaintext */
    size_t woff;              /* first byte of wbuf not yet taken by GnuTLS */
    size_t wlen;              /* end of the accepted bytes in wbuf */
    size_t wagain;            /* length of the send to repeat after E_AGAIN; 0: none */
    int below_err;            /* last real error of the layer below (detail in the slot) */
    int below_eof;            /* the layer below reported EOF to pull */
    int recv_wants_out;       /* the last recv blocked on sending */
} qr_tls_layer;

static qr_tls_layer *tls_of(const qr_layer *l)
{
    return (qr_tls_layer *)(uintptr_t)l;
}

/* ---- GnuTLS transport callbacks ------------------------------------------ */

static ssize_t tls_vec_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
    qr_tls_layer *t = p;
    ssize_t n = qr_layer_write(t->base.below, iov, iovcnt);

    if (n >= 0)
        return n;
    if (n != QR_EAGAIN)
        t->below_err = (int)n;
    gnutls_transport_set_errno(t->session, n == QR_EAGAIN ? EAGAIN : EIO);
    return -1;
}

static ssize_t tls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
    giovec_t v = {(void *)(uintptr_t)data, len};

    return tls_vec_push(p, &v, 1);
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *buf, size_t cap)
{
    qr_tls_layer *t = p;
    ssize_t n = qr_layer_read(t->base.below, buf, cap);

    if (n > 0)
        return n;
    if (n == QR_EOF) {
        t->below_eof = 1;
        return 0;
    }
    if (n != QR_EAGAIN)
        t->below_err = (int)n;
    gnutls_transport_set_errno(t->session, n == QR_EAGAIN ? EAGAIN : EIO);
    return -1;
}

static int tls_pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
    (void)p;
    (void)ms;
    return 1; /* maybe: pull answers EAGAIN if not */
}

static int tls_verify_cb(gnutls_session_t session)
{
    qr_tls_layer *t = gnutls_session_get_ptr(session);

    return qr_tls_check_peer(session, qr_tls_creds_gnutls(t->creds), &t->check);
}

/* ---- failures ---------------------------------------------------------------- */

/* Enter FAILED with code (the detail is already recorded). */
static int tls_fail(qr_tls_layer *t, int code)
{
    t->state = TLS_FAILED;
    t->fail_code = code;
    t->deadline = -1;
    return code;
}

/* A GnuTLS error during record I/O (what: "read from", "write to"). */
static int tls_fail_io(qr_tls_layer *t, const char *what, int rc)
{
    if (t->below_err && (rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR))
        return tls_fail(t, t->below_err);
    qr_err_set(t->base.stack->err, QR_ETLS, "TLS %s %s: %s", what, t->host, gnutls_strerror(rc));
    qr_errslot_set_lib_code(t->base.stack->err, rc);
    return tls_fail(t, QR_ETLS);
}

static int tls_fail_handshake(qr_tls_layer *t, int rc)
{
    qr_errslot *err = t->base.stack->err;
    const char *h = t->host;

    if (t->below_err && (rc == GNUTLS_E_PULL_ERROR || rc == GNUTLS_E_PUSH_ERROR))
        return tls_fail(t, t->below_err);
    if ((rc == GNUTLS_E_CERTIFICATE_ERROR || rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) &&
        t->check.why[0])
        qr_err_set(err, QR_ETLS, "Can't initiate TLS/SSL handshake with %s: %s", h, t->check.why);
    else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED)
        qr_err_set(err, QR_ETLS,
                   "Can't initiate TLS/SSL handshake with %s: the peer sent a fatal alert: %s", h,
                   gnutls_alert_get_name(gnutls_alert_get(t->session)));
    else if (t->below_eof)
        qr_err_set(err, QR_ETLS,
                   "Can't initiate TLS/SSL handshake with %s: connection closed by the peer "
                   "(got EOF)",
                   h);
    else
        qr_err_set(err, QR_ETLS, "Can't initiate TLS/SSL handshake with %s: %s", h,
                   gnutls_strerror(rc));
    qr_errslot_set_lib_code(err, rc);
    return tls_fail(t, QR_ETLS);
}

/* ---- handshake ------------------------------------------------------------------ */

static int version_of(gnutls_protocol_t p)
{
    switch (p) {
    case GNUTLS_SSL3:
        return QR_TLS_SSLV3;
    case GNUTLS_TLS1_0:
        return QR_TLS_V1_0;
    case GNUTLS_TLS1_1:
        return QR_TLS_V1_1;
    case GNUTLS_TLS1_2:
        return QR_TLS_V1_2;
    case GNUTLS_TLS1_3:
        return QR_TLS_V1_3;
    default:
        return -1;
    }
}

static void log_session(const qr_tls_layer *t)
{
    int v = version_of(gnutls_protocol_get_version(t->session));
    size_t bits = gnutls_cipher_get_key_size(gnutls_cipher_get(t->session)) * 8;
    const char *suite = gnutls_ciphersuite_get(t->session);

    if (!t->log)
        return;
    qr_log(t->log, QR_LOG_DEBUG, QR_LOG_EVENT, "SSL protocol: %s (0x%x)", qr_tls_version_name(v),
           v >= QR_TLS_SSLV3 ? 0x300 + (unsigned)(v - QR_TLS_SSLV3) : 0);
    qr_log(t->log, QR_LOG_DEBUG, QR_LOG_EVENT, "SSL cipher: %s (%zu bits)",
           suite ? suite : "unknown", bits);
}

static int tls_handshake_done(qr_tls_layer *t)
{
    if (!t->check.leaf_seen || (t->check.verify && !t->check.accepted)) {
        qr_err_set(t->base.stack->err, QR_ETLS,
                   "Can't initiate TLS/SSL handshake with %s: the peer certificate was not "
                   "verified",
                   t->host);
        return tls_fail(t, QR_ETLS);
    }
    t->state = TLS_OPEN;
    t->deadline = -1;
    log_session(t);
    return 0;
}

static int tls_handshake(qr_tls_layer *t)
{
    int rc = GNUTLS_E_AGAIN, tries;

    if (t->deadline < 0 && t->timeout_ms > 0)
        t->deadline = qr_now_ms() + t->timeout_ms;
    for (tries = 0; tries < TLS_RETRY; tries++) {
        rc = gnutls_handshake(t->session);
        if (rc == 0)
            return tls_handshake_done(t);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED || gnutls_error_is_fatal(rc))
            break;
    }
    if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED && gnutls_error_is_fatal(rc))
        return tls_fail_handshake(t, rc);
    rc = qr_layer_flush_below(&t->base);
    if (rc < 0 && rc != QR_EAGAIN)
        return tls_fail(t, rc);
    if (t->deadline >= 0 && qr_now_ms() >= t->deadline) {
        qr_err_set(t->base.stack->err, QR_ETLS,
                   "Can't initiate TLS/SSL handshake with %s: timed out after %d ms", t->host,
                   t->timeout_ms);
        qr_errslot_set_lib_code(t->base.stack->err, GNUTLS_E_TIMEDOUT);
        return tls_fail(t, QR_ETLS);
    }
    return QR_EAGAIN;
}

static int tls_step(qr_layer *l)
{
    qr_tls_layer *t = tls_of(l);

    switch (t->state) {
    case TLS_HANDSHAKE:
        return tls_handshake(t);
    case TLS_FAILED:
        return t->fail_code;
    default:
        return 0;
    }
}

/* ---- records ---------------------------------------------------------------------- */

/* read/write in a state that does not allow it. */
static int tls_not_ready(qr_tls_layer *t, const char *what)
{
    if (t->state == TLS_FAILED)
        return t->fail_code;
    return qr_err_set(t->base.stack->err, QR_EINVAL, "TLS %s %s %s", what, t->host,
                      t->state == TLS_HANDSHAKE ? "before the handshake is done" : "after close");
}

static ssize_t tls_eof(qr_tls_layer *t, int clean)
{
    return qr_err_set(t->base.stack->err, QR_EOF, "TLS read from %s: 0 bytes read (got EOF%s)",
                      t->host, clean ? "" : " without close_notify");
}

static ssize_t tls_read(qr_layer *l, void *buf, size_t cap)
{
    qr_tls_layer *t = tls_of(l);
    int tries;

    if (t->state == TLS_HANDSHAKE || t->state == TLS_FAILED)
        return tls_not_ready(t, "read from");
    t->recv_wants_out = 0;
    for (tries = 0; tries < TLS_RETRY; tries++) {
        ssize_t n = gnutls_record_recv(t->session, buf, cap);

        if (n > 0)
            return n;
        if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION)
            return tls_eof(t, n == 0);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            t->recv_wants_out = gnutls_record_get_direction(t->session) == 1;
            return QR_EAGAIN;
        }
        if (gnutls_error_is_fatal((int)n))
            return tls_fail_io(t, "read from", (int)n);
    }
    return QR_EAGAIN;
}

/* Hand wbuf to GnuTLS: 0 all taken, QR_EAGAIN, or an error. */
static int tls_drain(qr_tls_layer *t)
{
    while (t->woff < t->wlen) {
        size_t len = t->wagain ? t->wagain : t->wlen - t->woff;
        ssize_t n = gnutls_record_send(t->session, t->wbuf + t->woff, len);

        if (n > 0) {
            t->wagain = 0;
            t->woff += (size_t)n;
        } else if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            t->wagain = len;
            return QR_EAGAIN;
        } else {
            return tls_fail_io(t, "write to", (int)n);
        }
    }
    t->woff = t->wlen = 0;
    return 0;
}

/* Copy the iovec into the free tail of wbuf: bytes copied. */
static size_t tls_take(qr_tls_layer *t, const struct iovec *iov, int iovcnt)
{
    size_t total = 0;
    int i;

    if (!t->wagain && t->woff > 0) {
        memmove(t->wbuf, t->wbuf + t->woff, t->wlen - t->woff);
        t->wlen -= t->woff;
        t->woff = 0;
    }
    for (i = 0; i < iovcnt && t->wlen < TLS_WBUF; i++) {
        size_t n = iov[i].iov_len < TLS_WBUF - t->wlen ? iov[i].iov_len : TLS_WBUF - t->wlen;

        memcpy(t->wbuf + t->wlen, iov[i].iov_base, n);
        t->wlen += n;
        total += n;
    }
    return total;
}

static ssize_t tls_write(qr_layer *l, const struct iovec *iov, int iovcnt)
{
    qr_tls_layer *t = tls_of(l);
    size_t taken;
    int rc;

    if (t->state != TLS_OPEN)
        return tls_not_ready(t, "write to");
    if (qr_iov_len(iov, iovcnt) == 0)
        return 0;
    rc = tls_drain(t);
    if (rc < 0 && rc != QR_EAGAIN)
        return rc;
    taken = tls_take(t, iov, iovcnt);
    if (taken == 0)
        return QR_EAGAIN;
    if (t->wlen == TLS_WBUF)
        tls_drain(t); /* an error is sticky: flush() reports it */
    return (ssize_t)taken;
}

static int tls_flush(qr_layer *l)
{
    qr_tls_layer *t = tls_of(l);
    int rc;

    if (t->state == TLS_FAILED)
        return t->fail_code;
    rc = tls_drain(t);
    return rc ? rc : qr_layer_flush_below(l);
}

static int tls_pending_input(const qr_layer *l)
{
    const qr_tls_layer *t = tls_of(l);

    return (t->state == TLS_OPEN || t->state == TLS_CLOSING || t->state == TLS_CLOSED) &&
           gnutls_record_check_pending(t->session) > 0;
}

static int tls_interest(const qr_layer *l)
{
    const qr_tls_layer *t = tls_of(l);

    switch (t->state) {
    case TLS_HANDSHAKE:
    case TLS_CLOSING:
        return gnutls_record_get_direction(t->session) == 1 ? POLLOUT : POLLIN;
    case TLS_OPEN:
        return t->woff < t->wlen || t->recv_wants_out ? POLLOUT : 0;
    default:
        return 0;
    }
}

static int64_t tls_deadline(const qr_layer *l)
{
    const qr_tls_layer *t = tls_of(l);

    return t->state == TLS_HANDSHAKE ? t->deadline : -1;
}

static int tls_close(qr_layer *l)
{
    qr_tls_layer *t = tls_of(l);
    int rc;

    if (t->state == TLS_OPEN) {
        rc = tls_drain(t);
        if (rc)
            return rc;
        t->state = TLS_CLOSING;
    }
    if (t->state != TLS_CLOSING)
        return 0; /* never opened, failed, or already closed: nothing to say */
    rc = gnutls_bye(t->session, GNUTLS_SHUT_WR);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        return QR_EAGAIN;
    if (rc < 0)
        return tls_fail_io(t, "close_notify to", rc);
    t->state = TLS_CLOSED;
    return qr_layer_flush_below(l);
}

static void tls_destroy(qr_layer *l)
{
    qr_tls_layer *t = tls_of(l);

    if (t->session)
        gnutls_deinit(t->session);
    if (t->prio)
        gnutls_priority_deinit(t->prio);
    qr_tls_creds_unref(t->creds);
    qr_tls_pins_free(t->pins, t->npins);
    qr_free(t->host);
    qr_free(t->sni);
    qr_free(t->wbuf);
    qr_free(t);
}

static const qr_layer_ops tls_ops = {
    .name = "tls",
    .read = tls_read,
    .write = tls_write,
    .flush = tls_flush,
    .pending_input = tls_pending_input,
    .interest = tls_interest,
    .step = tls_step,
    .deadline = tls_deadline,
    .close = tls_close,
    .destroy = tls_destroy,
};

/* ---- creation ------------------------------------------------------------------------ */

/* host without brackets, and whether it is an IP literal (check.ip). */
static int tls_set_host(qr_tls_layer *t, const char *host, qr_errslot *err)
{
    size_t len = strlen(host);

    if (len >= 2 && host[0] == '[' && host[len - 1] == ']')
        t->host = qr_memdup0(host + 1, len - 2);
    else
        t->host = qr_strdup(host);
    if (!t->host)
        return qr_err_set(err, QR_ENOMEM, "TLS layer for %s: out of memory", host);
    if (inet_pton(AF_INET, t->host, t->check.ip) == 1)
        t->check.iplen = 4;
    else if (inet_pton(AF_INET6, t->host, t->check.ip) == 1)
        t->check.iplen = 16;
    t->check.host_is_ip = t->check.iplen > 0;
    t->check.host = t->host;
    return 0;
}

/* SNI (spec §3.4): hostname if set ("" = none), else host unless an IP literal. */
static int tls_set_sni(qr_tls_layer *t, const qr_tls_options *o, qr_errslot *err)
{
    const char *name = o->hostname ? o->hostname : t->check.host_is_ip ? NULL : t->host;
    int rc;

    if (!name || !*name)
        return 0;
    t->sni = qr_strdup(name);
    if (!t->sni)
        return qr_err_set(err, QR_ENOMEM, "TLS layer for %s: out of memory", t->host);
    rc = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS, name, strlen(name));
    if (rc < 0) {
        qr_err_set(err, QR_ETLS, "TLS layer for %s: cannot set SNI '%s': %s", t->host, name,
                   gnutls_strerror(rc));
        qr_errslot_set_lib_code(err, rc);
        return QR_ETLS;
    }
    if (t->log)
        qr_log(t->log, QR_LOG_DEBUG, QR_LOG_EVENT, "Using SNI with name %s", name);
    return 0;
}

static int tls_session_init(qr_tls_layer *t, const qr_tls_options *o, qr_errslot *err)
{
    int rc = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);

    if (rc < 0) {
        t->session = NULL;
        return qr_err_set(err, QR_ENOMEM, "TLS layer for %s: %s", t->host, gnutls_strerror(rc));
    }
    rc = t->prio ? gnutls_priority_set(t->session, t->prio)
                 : gnutls_set_default_priority(t->session);
    if (rc >= 0)
        rc = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE,
                                    qr_tls_creds_gnutls(t->creds));
    if (rc < 0) {
        qr_err_set(err, QR_ETLS, "TLS layer for %s: %s", t->host, gnutls_strerror(rc));
        qr_errslot_set_lib_code(err, rc);
        return QR_ETLS;
    }
    gnutls_session_set_ptr(t->session, t);
    gnutls_session_set_verify_function(t->session, tls_verify_cb);
    gnutls_transport_set_ptr(t->session, t);
    gnutls_transport_set_push_function(t->session, tls_push);
    gnutls_transport_set_vec_push_function(t->session, tls_vec_push);
    gnutls_transport_set_pull_function(t->session, tls_pull);
    gnutls_transport_set_pull_timeout_function(t->session, tls_pull_timeout);
    gnutls_handshake_set_timeout(t->session, 0);
    return tls_set_sni(t, o, err);
}

/* Everything create needs, in order; the caller destroys t on failure. */
static int tls_setup(qr_tls_layer *t, const qr_tls_options *o, qr_tls_creds *creds, qr_errslot *err)
{
    int rc = tls_set_host(t, o->host, err);

    if (!rc)
        rc = qr_tls_pins_parse(o->fingerprints, &t->pins, &t->npins, err);
    if (rc)
        return rc;
    t->check.verify = o->verify != 0;
    t->check.pins = t->pins;
    t->check.npins = t->npins;
    rc = qr_tls_priority_init(&t->prio, o, t->log, err);
    if (rc)
        return rc;
    if (creds)
        t->creds = qr_tls_creds_ref(creds);
    else if ((rc = qr_tls_creds_new(&t->creds, o, err, t->log)) != 0)
        return rc;
    return tls_session_init(t, o, err);
}

int qr_tls_layer_create(qr_layer **out, qr_stack *s, const qr_tls_options *o, qr_tls_creds *creds,
                        const qr_logger *log)
{
    qr_tls_layer *t;
    int rc;

    *out = NULL;
    if (!o->host || !*o->host)
        return qr_err_set(s->err, QR_EINVAL, "TLS layer: no host name to verify");
    t = qr_calloc(1, sizeof(*t));
    if (t)
        t->wbuf = qr_malloc(TLS_WBUF);
    if (!t || !t->wbuf) {
        qr_free(t);
        return qr_err_set(s->err, QR_ENOMEM, "TLS layer for %s: out of memory", o->host);
    }
    t->base.ops = &tls_ops;
    t->base.stack = s;
    t->log = log;
    t->check.log = log;
    t->state = TLS_HANDSHAKE;
    t->deadline = -1;
    t->timeout_ms = o->handshake_timeout_ms;
    rc = tls_setup(t, o, creds, s->err);
    if (rc) {
        tls_destroy(&t->base);
        return rc;
    }
    *out = &t->base;
    return 0;
}

int qr_tls_layer_version(const qr_layer *l)
{
    const qr_tls_layer *t = tls_of(l);

    if (t->state != TLS_OPEN && t->state != TLS_CLOSING && t->state != TLS_CLOSED)
        return -1;
    return version_of(gnutls_protocol_get_version(t->session));
}

const char *qr_tls_layer_sni(const qr_layer *l)
{
    return tls_of(l)->sni;
}

gnutls_session_t qr_tls_layer_session(const qr_layer *l)
{
    return tls_of(l)->session;
}
