/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_smtp, the object: options (defaults, copies, checks), creation and
 * freeing, the getters, and the error messages every other smtp_*.c file
 * records through qr_smtp_failf() and friends.
 *
 * Options are copied at qr_smtp_new() (the strings too; the password is
 * overwritten before it is freed) and checked there, so that a bad value
 * fails creation rather than the middle of a delivery: the protocol, the
 * STARTTLS mode, control characters in host, port and helo (a CR or LF
 * there would inject commands), spaces in helo, AUTH without a user name,
 * the SASL mechanism list (qr_auth_new's rules), and the TLS options when
 * STARTTLS may happen (priority, pins). Trust anchors are loaded at the
 * first STARTTLS only (smtp_session.c) and kept for later connections:
 * many servers on 127.0.0.1 offer no STARTTLS, and loading the system
 * store costs tens of milliseconds.
 *
 * Messages are one line, "smtp PLACE: STEP: DETAIL", where PLACE is
 * HOST:PORT (an IPv6 address in brackets) and STEP what was being done
 * ("connect", "greeting", "EHLO", "STARTTLS", "AUTH", "MAIL FROM",
 * "RCPT TO", "DATA", "end of data", "RSET", "QUIT"); a server's reply
 * shows as "CODE TEXT" with its lines joined by spaces and escaped like
 * log lines. Fatal failures close the connection (qr_smtp_fatal()).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session/auth_p.h"
#include "smtp/smtp_p.h"
#include "util/alloc.h"
#include "util/text.h"

/* The string members of qr_smtp_options, copied and freed by offset. */
static const size_t string_fields[] = {
    offsetof(qr_smtp_options, host),
    offsetof(qr_smtp_options, port),
    offsetof(qr_smtp_options, helo),
    offsetof(qr_smtp_options, ssl_cafile),
    offsetof(qr_smtp_options, ssl_capath),
    offsetof(qr_smtp_options, ssl_hostname),
    offsetof(qr_smtp_options, ssl_fingerprint),
    offsetof(qr_smtp_options, ssl_protocol_min),
    offsetof(qr_smtp_options, auth),
    offsetof(qr_smtp_options, username),
    offsetof(qr_smtp_options, password),
};
#define NSTRINGS (sizeof(string_fields) / sizeof(string_fields[0]))

static const char **field(qr_smtp_options *o, size_t i)
{
    return (const char **)(void *)((char *)o + string_fields[i]);
}

QR_EXTERN int qr_smtp_options_init(qr_smtp_options *opts, unsigned int version)
{
    if (opts == NULL || version != QR_SMTP_OPTIONS_VERSION)
        return QR_EINVAL;
    memset(opts, 0, sizeof(*opts));
    opts->version = QR_SMTP_OPTIONS_VERSION;
    opts->proto = QR_SMTP_PROTO_SMTP;
    opts->starttls = QR_SMTP_STARTTLS_OFFERED;
    opts->ssl_verify = 1;
    opts->pipelining = 1;
    opts->connect_timeout_ms = 30000;
    opts->io_timeout_ms = 300000;
    opts->log_level = QR_LOG_INFO;
    return 0;
}

static void free_options(qr_smtp *s)
{
    size_t i;

    for (i = 0; i < NSTRINGS; i++) {
        char *p = (char *)(uintptr_t)*field(&s->o, i);

        if (p != NULL && string_fields[i] == offsetof(qr_smtp_options, password))
            explicit_bzero(p, strlen(p));
        qr_free(p);
        *field(&s->o, i) = NULL;
    }
}

static int copy_options(qr_smtp *s, const qr_smtp_options *opts)
{
    static const struct {
        size_t off;
        const char *value;
    } defaults[] = {
        {offsetof(qr_smtp_options, host), "127.0.0.1"},
        {offsetof(qr_smtp_options, port), "25"},
        {offsetof(qr_smtp_options, helo), "localhost.localdomain"},
    };
    size_t i;

    s->o = *opts;
    for (i = 0; i < NSTRINGS; i++)
        *field(&s->o, i) = NULL;
    for (i = 0; i < NSTRINGS; i++) {
        const char *v = *field((qr_smtp_options *)(uintptr_t)opts, i);

        if (v != NULL && (*field(&s->o, i) = qr_strdup(v)) == NULL)
            return QR_ENOMEM;
    }
    for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        const char **f = (const char **)(void *)((char *)&s->o + defaults[i].off);

        if (*f != NULL && **f != '\0')
            continue;
        qr_free((void *)(uintptr_t)*f); /* "" means the default too */
        *f = qr_strdup(defaults[i].value);
        if (*f == NULL)
            return QR_ENOMEM;
    }
    return 0;
}

/* No byte below 0x20 and no DEL (no space either when !spaces). */
static int clean(const char *v, int spaces)
{
    for (; *v != '\0'; v++)
        if ((unsigned char)*v < 0x20 || *v == 0x7f || (!spaces && *v == ' '))
            return 0;
    return 1;
}

/* Check the TLS options STARTTLS would use (not the trust anchors). */
static int check_tls(qr_smtp *s)
{
    qr_tls_options t;
    qr_tls_pin *pins = NULL;
    size_t npins = 0;
    char *prio = NULL;
    int append, rc;

    qr_tls_options_init(&t);
    t.host = s->o.host;
    t.protocol_min = s->o.ssl_protocol_min;
    t.fingerprints = s->o.ssl_fingerprint;
    rc = qr_tls_priority_string(&t, NULL, &prio, &append, &s->terr);
    qr_free(prio);
    if (rc == 0 && t.fingerprints != NULL) {
        rc = qr_tls_pins_parse(t.fingerprints, &pins, &npins, &s->terr);
        qr_tls_pins_free(pins, npins);
    }
    return rc;
}

/* Check the copied options. 0 or QR_EINVAL (QR_ENOMEM from the checks). */
static int check_options(qr_smtp *s)
{
    qr_auth_options ao;
    qr_auth *a = NULL;
    int rc;

    if ((unsigned)s->o.proto > QR_SMTP_PROTO_LMTP || s->o.starttls < QR_SMTP_STARTTLS_NEVER ||
        s->o.starttls > QR_SMTP_STARTTLS_REQUIRED || !clean(s->o.host, 0) || !clean(s->o.port, 0) ||
        !clean(s->o.helo, 0))
        return QR_EINVAL;
    if (s->o.auth != NULL) {
        if (s->o.username == NULL || s->o.username[0] == '\0')
            return QR_EINVAL;
        qr_auth_options_init(&ao, QR_AUTH_OPTIONS_VERSION);
        ao.mechanisms = s->o.auth;
        rc = qr_auth_new(&a, &ao);
        qr_auth_free(a);
        if (rc < 0)
            return rc;
    }
    if (s->o.starttls != QR_SMTP_STARTTLS_NEVER)
        return check_tls(s);
    return 0;
}

/* "HOST:PORT", an IPv6 address in brackets. */
static int make_place(qr_smtp *s)
{
    const char *h = s->o.host;
    int v6 = strchr(h, ':') != NULL && h[0] != '[';
    size_t n = strlen(h) + strlen(s->o.port) + 4;

    s->place = qr_malloc(n);
    if (s->place == NULL)
        return QR_ENOMEM;
    snprintf(s->place, n, "%s%s%s:%s", v6 ? "[" : "", h, v6 ? "]" : "", s->o.port);
    return 0;
}

QR_EXTERN void qr_smtp_free(qr_smtp *s)
{
    if (s == NULL)
        return;
    qr_smtp_close(s);
    qr_tls_creds_unref(s->creds);
    free_options(s);
    qr_free(s->place);
    qr_free(s->rbuf);
    qr_free(s->ibuf);
    qr_free(s->obuf);
    qr_smtp_rparser_free(&s->rp);
    qr_dynbuf_free(&s->last_text);
    qr_dynbuf_free(&s->ehlo);
    if (s->cmd.ptr != NULL)
        explicit_bzero(s->cmd.ptr, s->cmd.alloc);
    qr_dynbuf_free(&s->cmd);
    qr_free(s);
}

QR_EXTERN int qr_smtp_new(qr_smtp **out, const qr_smtp_options *opts)
{
    qr_smtp *s;
    int rc;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL || opts->version != QR_SMTP_OPTIONS_VERSION)
        return QR_EINVAL;
    s = qr_calloc(1, sizeof(*s));
    if (s == NULL)
        return QR_ENOMEM;
    qr_errslot_clear(&s->err);
    qr_errslot_clear(&s->terr);
    qr_stack_init(&s->stack, &s->terr);
    qr_smtp_rparser_init(&s->rp);
    qr_dynbuf_init(&s->last_text, QR_SMTP_REPLY_MAX);
    qr_dynbuf_init(&s->ehlo, QR_SMTP_REPLY_MAX);
    qr_dynbuf_init(&s->cmd, QR_SMTP_CMD_MAX);
    s->last.text = "";
    s->step = "connect";
    rc = copy_options(s, opts);
    if (rc == 0)
        rc = check_options(s);
    if (rc == 0)
        rc = make_place(s);
    if (rc == 0) {
        s->rbuf = qr_malloc(QR_SMTP_RBUF);
        s->ibuf = qr_malloc(QR_SMTP_CHUNK);
        s->obuf = qr_malloc(QR_SMTP_ENC_BOUND(QR_SMTP_CHUNK));
        if (s->rbuf == NULL || s->ibuf == NULL || s->obuf == NULL)
            rc = QR_ENOMEM;
    }
    if (rc < 0) {
        qr_smtp_free(s);
        return rc == QR_ENOMEM ? rc : QR_EINVAL;
    }
    qr_logger_init(&s->log, s->o.log_fn, s->o.log_payload, s->o.log_level);
    *out = s;
    return 0;
}

QR_EXTERN int qr_smtp_has_ext(const qr_smtp *s, const char *name)
{
    if (s == NULL || name == NULL || *name == '\0' || !s->connected)
        return 0;
    return qr_smtp_ehlo_find(qr_dynbuf_str(&s->ehlo), name, NULL, NULL);
}

QR_EXTERN const qr_smtp_reply *qr_smtp_last_reply(const qr_smtp *s)
{
    static const qr_smtp_reply none = {0, ""};

    return s != NULL ? &s->last : &none;
}

QR_EXTERN const qr_error *qr_smtp_last_error(const qr_smtp *s)
{
    static const qr_error no_handle = {QR_EINVAL, "no smtp handle", 0, 0, NULL, NULL, NULL};

    return s != NULL ? qr_errslot_get(&s->err) : &no_handle;
}

/* ---- failures -------------------------------------------------------------- */

int qr_smtp_failf(qr_smtp *s, int code, const char *fmt, ...)
{
    char detail[QR_ERR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    qr_err_set(&s->err, code, "smtp %s: %s: %s", s->place, s->step, detail);
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "%s", s->err.message);
    return code;
}

void qr_smtp_close(qr_smtp *s)
{
    if (!s->connected)
        return;
    s->lost = 1; /* qr_smtp_quit() and qr_smtp_connect() clear it */
    qr_stack_destroy(&s->stack);
    qr_stack_init(&s->stack, &s->terr);
    s->connected = 0;
    s->tls = 0;
    s->roff = s->rlen = 0;
    qr_dynbuf_reset(&s->ehlo);
}

int qr_smtp_fatal(qr_smtp *s, int code)
{
    qr_smtp_close(s);
    return code;
}

int qr_smtp_fail_transport(qr_smtp *s, int code)
{
    const qr_error *t = qr_errslot_get(&s->terr);
    int sys = t->sys_errno, lib = t->lib_code;

    qr_smtp_failf(s, code, "%s", t->message[0] != '\0' ? t->message : qr_strerror(code));
    s->err.pub.sys_errno = sys;
    s->err.pub.lib_code = lib;
    return qr_smtp_fatal(s, code);
}

int qr_smtp_fail_reply(qr_smtp *s, int code)
{
    char text[QR_ERR_RESP_TEXT_MAX], esc[QR_ERR_RESP_TEXT_MAX], num[12];
    size_t i, n = s->last_text.len < sizeof(text) - 1 ? s->last_text.len : sizeof(text) - 1;

    memcpy(text, qr_dynbuf_str(&s->last_text), n);
    text[n] = '\0';
    for (i = 0; i < n; i++)
        if (text[i] == '\n')
            text[i] = ' ';
    qr_text_escape(esc, sizeof(esc), text, n);
    qr_smtp_failf(s, code, "%s%d%s%s", code == QR_ENO ? "" : "unexpected reply ", s->last.code,
                  esc[0] != '\0' ? " " : "", esc);
    snprintf(num, sizeof(num), "%03d", s->last.code % 1000);
    qr_errslot_set_resp(&s->err, num, qr_dynbuf_str(&s->last_text));
    if (s->last.code == 421 || code != QR_ENO)
        qr_smtp_close(s);
    return code;
}
