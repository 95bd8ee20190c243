/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deliver.c: SMTP/LMTP delivery of the pulled messages (deliver.h).
 *
 * The body comes from the engine as a stream (qr_pull_message.read); it
 * is read through a small wrapper that remembers the stream's own error,
 * so that a failure of the IMAP side while the body is sent (the engine's
 * stream broke) is given back to the engine as it is, and not mistaken
 * for a delivery failure. After such an error the SMTP connection is
 * unusable (the message cannot be withdrawn once DATA started) and is
 * dropped.
 *
 * Server replies are put on one line (pl_log_clean()) before they are
 * printed: a multi-line 4xx/5xx reply reads `451 first line second line`.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <qresync/error.h>

#include "connopts.h"
#include "deliver.h"
#include "retry.h"
#include "xalloc.h"

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int pl_deliver_is_loopback(const char *host)
{
    unsigned char a[16];

    if (strcasecmp(host, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, host, a) == 1)
        return a[0] == 127;
    if (inet_pton(AF_INET6, host, a) == 1) {
        static const unsigned char one[16] = {[15] = 1};

        return memcmp(a, one, sizeof(one)) == 0;
    }
    return 0;
}

static int starttls_mode(enum qrt_deliver_starttls m, int loopback)
{
    switch (m) {
    case QRT_STARTTLS_NO:
        return QR_SMTP_STARTTLS_NEVER;
    case QRT_STARTTLS_REQUIRED:
        return QR_SMTP_STARTTLS_REQUIRED;
    case QRT_STARTTLS_OFFERED:
        return QR_SMTP_STARTTLS_OFFERED;
    case QRT_STARTTLS_DEFAULT:
        break;
    }
    return loopback ? QR_SMTP_STARTTLS_NEVER : QR_SMTP_STARTTLS_OFFERED;
}

void pl_deliver_init(struct pl_deliver *d, const struct qrt_pullimap_settings *s, const char *rcpt,
                     int no_delivery, int debug, struct pl_log *log)
{
    qr_smtp_options *o = &d->opts;
    int loopback = pl_deliver_is_loopback(s->deliver_addr);

    memset(d, 0, sizeof(*d));
    d->rcpt = rcpt;
    d->no_delivery = no_delivery;
    d->log = log;
    d->first_ms = -1;
    snprintf(d->port, sizeof(d->port), "%u", s->deliver_port);
    qr_smtp_options_init(o, QR_SMTP_OPTIONS_VERSION);
    o->proto = s->proto == QRT_DELIVER_LMTP ? QR_SMTP_PROTO_LMTP : QR_SMTP_PROTO_SMTP;
    o->host = s->deliver_addr;
    o->port = d->port;
    o->helo = s->deliver_ehlo;
    o->starttls = starttls_mode(s->deliver_starttls, loopback);
    o->ssl_verify = s->deliver_ssl_verify;
    o->ssl_cafile = s->deliver_ssl_cafile;
    o->ssl_capath = s->deliver_ssl_capath;
    o->ssl_hostname = s->deliver_ssl_hostname;
    o->ssl_fingerprint = s->deliver_ssl_fingerprint;
    o->ssl_protocol_min = s->deliver_ssl_protocol_min;
    /* AUTH when asked for, or when a user name is given (like IMAP's auth). */
    o->auth = s->deliver_auth ? s->deliver_auth : s->deliver_username ? "PLAIN LOGIN" : NULL;
    o->username = s->deliver_username;
    o->password = s->deliver_password;
    o->allow_plaintext_auth = loopback;
    o->log_fn = pl_log_smtp_cb;
    o->log_payload = log;
    o->log_level = qrt_debug_level(debug);
}

void pl_deliver_mark(struct pl_deliver *d)
{
    d->first_ms = -1;
}

void pl_deliver_close(struct pl_deliver *d)
{
    qr_smtp_free(d->smtp);
    d->smtp = NULL;
}

/* The server's last reply as "CODE TEXT" on one line, owned. */
static char *reply_text(const qr_smtp *s)
{
    const qr_smtp_reply *r = qr_smtp_last_reply(s);
    char *clean = pl_log_clean(r->text, strlen(r->text)), *out = NULL;

    if (asprintf(&out, "%d%s%s", r->code, clean[0] ? " " : "", clean) < 0)
        qrt_oom();
    free(clean);
    return out;
}

/* The handle's last error, on one line, owned. */
static char *error_text(const qr_smtp *s, int rc)
{
    const qr_error *e = s ? qr_smtp_last_error(s) : NULL;
    const char *msg = e && e->message && e->message[0] ? e->message : qr_strerror(rc);

    return pl_log_clean(msg, strlen(msg));
}

static int temporary(struct pl_deliver *d, uint32_t uid, const char *why)
{
    pl_log_printf(d->log, PL_LOG_MAILBOX,
                  "WARNING: temporary delivery failure for UID %lu: %s; will retry",
                  (unsigned long)uid, why);
    return QR_EAGAIN;
}

/* what: "permanent delivery failure for" (a 5xx reply) or "cannot deliver"
 * (TLS, AUTH, configuration). */
static int permanent(struct pl_deliver *d, uint32_t uid, const char *what, const char *why)
{
    pl_log_printf(d->log, PL_LOG_MAILBOX, "ERROR: %s UID %lu: %s", what, (unsigned long)uid, why);
    d->failed = 1;
    return QR_EUSER;
}

/* A refused command (QR_ENO): 4xx temporary, anything else permanent. */
static int refused(struct pl_deliver *d, uint32_t uid)
{
    int code = qr_smtp_last_reply(d->smtp)->code;
    char *why = reply_text(d->smtp);
    int rc = code >= 400 && code < 500 ? temporary(d, uid, why)
                                       : permanent(d, uid, "permanent delivery failure for", why);

    free(why);
    return rc;
}

/* Connect at the first message of a pull; 0 or what to tell the engine. */
static int connect_smtp(struct pl_deliver *d, uint32_t uid)
{
    char *why;
    int rc = qr_smtp_new(&d->smtp, &d->opts);

    if (rc == 0)
        rc = qr_smtp_connect(d->smtp);
    if (rc == 0)
        return 0;
    if (rc == QR_ENO) {
        rc = refused(d, uid);
    } else {
        why = error_text(d->smtp, rc);
        /* Certificates, AUTH, STARTTLS required: retrying changes nothing. */
        if (rc != QR_ETLS && qrt_connection_lost(rc, 0))
            rc = temporary(d, uid, why);
        else
            rc = permanent(d, uid, "cannot deliver", why);
        free(why);
    }
    pl_deliver_close(d);
    if (rc == QR_EAGAIN)
        d->down = 1;
    return rc;
}

/* The engine's body stream, its errors remembered. */
static int read_body(void *buf, size_t cap, size_t *got, void *payload)
{
    struct pl_deliver *d = payload;
    int rc = d->m->read(buf, cap, got, d->m->read_payload);

    if (rc < 0)
        d->read_error = rc;
    return rc;
}

static int has_8bit(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s >= 0x80)
            return 1;
    return 0;
}

/* qr_smtp_send() failed with rc: what to tell the engine. */
static int send_failed(struct pl_deliver *d, uint32_t uid, int rc)
{
    char *why;

    if (d->read_error != 0) {
        /* The IMAP side broke while the body was sent: the engine says why. */
        pl_deliver_close(d);
        return d->read_error;
    }
    if (rc == QR_ENO)
        return refused(d, uid);
    why = error_text(d->smtp, rc);
    if (qrt_connection_lost(rc, 0)) {
        /* Dropped (an idle time-out while the engine fetched, a restart):
         * the next message connects again. */
        pl_deliver_close(d);
        rc = temporary(d, uid, why);
    } else {
        rc = permanent(d, uid, "cannot deliver", why);
    }
    free(why);
    return rc;
}

int pl_deliver_message(const qr_pull_message *m, void *payload)
{
    struct pl_deliver *d = payload;
    int rc;

    if (d->first_ms < 0)
        d->first_ms = now_ms();
    if (d->no_delivery)
        return 0;
    if (d->down) {
        d->not_tried++;
        return QR_EAGAIN;
    }
    if (d->smtp == NULL && (rc = connect_smtp(d, m->uid)) != 0)
        return rc;
    d->m = m;
    d->read_error = 0;
    rc = qr_smtp_send(d->smtp, m->sender, d->rcpt, m->size, m->eightbit,
                      has_8bit(m->sender) || has_8bit(d->rcpt), read_body, d);
    d->m = NULL;
    if (rc == 0)
        pl_log_progress(d->log, m->size, now_ms());
    return rc == 0 ? 0 : send_failed(d, m->uid, rc);
}

int pl_deliver_end(void *payload)
{
    struct pl_deliver *d = payload;

    if (d->not_tried > 0)
        pl_log_printf(d->log, PL_LOG_MAILBOX,
                      "WARNING: %llu more message(s) deferred without a delivery attempt; will "
                      "retry",
                      (unsigned long long)d->not_tried);
    pl_log_progress_done(d->log);
    d->down = 0;
    d->not_tried = 0;
    if (d->smtp != NULL && qr_smtp_quit(d->smtp) < 0 && d->log->debug) {
        char *why = error_text(d->smtp, QR_ERROR);

        pl_log_printf(d->log, PL_LOG_NOPREFIX, "QUIT: %s", why);
        free(why);
    }
    pl_deliver_close(d);
    return 0;
}
