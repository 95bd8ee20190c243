/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Opening and closing an SMTP / LMTP session: qr_smtp_connect() and
 * qr_smtp_quit(), plus the reply judging every step shares.
 *
 * Connect (spec pullimap.md §5.1, and issue 8 beyond it):
 *
 *   1. TCP to host:port (a name, an IPv4 address, an IPv6 address with or
 *      without brackets; every address of a name is tried in turn, each
 *      for connect_timeout_ms);
 *   2. the greeting: 220;
 *   3. `EHLO helo` (SMTP) or `LHLO helo` (LMTP): 250, whose lines are the
 *      extensions (qr_smtp_has_ext());
 *   4. STARTTLS when the server offers it (mode OFFERED) or always
 *      (REQUIRED: QR_ECAPABILITY when it is not offered), unless NEVER:
 *      `STARTTLS`, 220, then nothing else may have arrived in clear (bytes
 *      after the 220 would be read as if they came through TLS:
 *      CVE-2011-0411's command injection, the other way round), the TLS
 *      handshake with the IMAP side's verification (chain, host name or
 *      ssl_hostname, pins), and EHLO/LHLO again: what the server said in
 *      clear is forgotten (RFC 3207 §4.2);
 *   5. AUTH when mechanisms are configured (smtp_auth.c).
 *
 * Any failure closes the connection: the handle can connect again.
 * The reference looks at PIPELINING only, and only as a whole line in
 * upper case; keywords are matched case-insensitively here (RFC 5321
 * §2.4), with PIPELINING used unless the options turn it off.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "smtp/smtp_p.h"

int qr_smtp_code_ok(int code, int want)
{
    return want < 10 ? code / 100 == want : code == want;
}

int qr_smtp_expect(qr_smtp *s, int want)
{
    int code = qr_smtp_io_reply(s, 1);

    if (code < 0)
        return code;
    if (qr_smtp_code_ok(code, want))
        return 0;
    return qr_smtp_fail_reply(s, code >= 400 ? QR_ENO : QR_EPROTO);
}

int qr_smtp_command(qr_smtp *s, const char *first, ...)
{
    const char *piece;
    va_list ap;

    qr_smtp_cmd_clear(s);
    qr_smtp_cmd_begin(s);
    va_start(ap, first);
    for (piece = first; piece != NULL; piece = va_arg(ap, const char *))
        qr_smtp_cmd_adds(s, piece);
    va_end(ap);
    qr_smtp_cmd_end(s);
    return qr_smtp_cmd_send(s);
}

/* EHLO or LHLO, keeping the reply's lines as the extension list. */
static int hello(qr_smtp *s)
{
    int lmtp = s->o.proto == QR_SMTP_PROTO_LMTP, rc;

    s->step = lmtp ? "LHLO" : "EHLO";
    rc = qr_smtp_command(s, lmtp ? "LHLO " : "EHLO ", s->o.helo, (const char *)NULL);
    if (rc == 0)
        rc = qr_smtp_expect(s, 250);
    if (rc != 0)
        return rc;
    qr_dynbuf_reset(&s->ehlo);
    if (qr_dynbuf_add(&s->ehlo, s->last_text.ptr, s->last_text.len) != 0)
        return qr_smtp_fatal(s, qr_smtp_failf(s, QR_ENOMEM, "out of memory"));
    return 0;
}

static int starttls(qr_smtp *s)
{
    int rc;

    if (s->o.starttls == QR_SMTP_STARTTLS_NEVER)
        return 0;
    if (!qr_smtp_ehlo_find(qr_dynbuf_str(&s->ehlo), "STARTTLS", NULL, NULL)) {
        if (s->o.starttls != QR_SMTP_STARTTLS_REQUIRED)
            return 0;
        s->step = "STARTTLS";
        return qr_smtp_fatal(s, qr_smtp_failf(s, QR_ECAPABILITY,
                                              "the server does not offer STARTTLS, "
                                              "which is required"));
    }
    s->step = "STARTTLS";
    rc = qr_smtp_command(s, "STARTTLS", (const char *)NULL);
    if (rc == 0)
        rc = qr_smtp_expect(s, 220);
    if (rc != 0)
        return rc;
    if (qr_smtp_io_input_pending(s))
        return qr_smtp_fatal(s, qr_smtp_failf(s, QR_EPROTO,
                                              "bytes after the STARTTLS reply, before TLS "
                                              "(command injection?)"));
    rc = qr_smtp_io_starttls(s);
    if (rc == 0)
        rc = hello(s);
    return rc;
}

QR_EXTERN int qr_smtp_connect(qr_smtp *s)
{
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    qr_errslot_clear(&s->err);
    s->step = "connect";
    if (s->connected)
        return qr_smtp_failf(s, QR_EINVAL, "already connected");
    s->last.code = 0;
    s->last.text = "";
    s->lost = 0;
    qr_dynbuf_reset(&s->last_text);
    rc = qr_smtp_io_open(s);
    if (rc == 0) {
        s->step = "greeting";
        rc = qr_smtp_expect(s, 220);
    }
    if (rc == 0)
        rc = hello(s);
    if (rc == 0)
        rc = starttls(s);
    if (rc == 0 && s->o.auth != NULL)
        rc = qr_smtp_auth(s);
    if (rc != 0)
        qr_smtp_close(s);
    return rc;
}

QR_EXTERN int qr_smtp_quit(qr_smtp *s)
{
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    qr_errslot_clear(&s->err);
    if (!s->connected) {
        s->lost = 0;
        return 0;
    }
    s->step = "QUIT";
    rc = qr_smtp_command(s, "QUIT", (const char *)NULL);
    if (rc == 0)
        rc = qr_smtp_expect(s, 221);
    qr_smtp_close(s);
    s->lost = 0;
    return rc;
}
