/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * SMTP AUTH (RFC 4954) over the library's SASL object, qr_auth
 * (session/auth_p.h), which the IMAP side drives too: the same choice of
 * mechanism (the configured list, in order, first one the server offers),
 * the same policy (no password or token in clear unless
 * allow_plaintext_auth; weak mechanisms refused), the same libgsasl glue
 * and secret hygiene. Only the framing differs, and it lives here:
 *
 *   C: AUTH MECH [initial-response]      base64, "=" when empty
 *   S: 334 challenge                     base64
 *   C: response                          base64, "*" cancels
 *   ...
 *   S: 235 (success) | 4xx/5xx (failure)
 *
 * The offered mechanisms are the words after `AUTH` (or the pre-RFC
 * `AUTH=`) in the EHLO reply. The initial response goes on the command
 * line when the line stays within 512 octets (RFC 4954 §4); a longer one
 * (an OAuth token) is held back and sent as the answer to the server's
 * first, empty, 334. Command lines carrying SASL data are logged
 * `<redacted>` below QR_LOG_TRACE. Channel binding is not offered, so the
 * SCRAM-*-PLUS mechanisms are never chosen.
 *
 * Errors: QR_ECAPABILITY when the server offers no mechanism of the list
 * (or no AUTH at all); QR_EAUTH for a refusal (qr_smtp_last_reply() holds
 * it) or a policy or mechanism failure; connection errors. All are fatal
 * for qr_smtp_connect(), which closes the connection.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "session/auth_p.h"
#include "smtp/smtp_p.h"
#include "util/text.h"

#define MAX_MECHS 64

/* The mechanism names of every AUTH line of the EHLO reply. */
static size_t offered(const char *ehlo, char (*names)[QR_AUTH_MECH_MAX + 1], const char **ptrs)
{
    const char *line = strchr(ehlo, '\n');
    size_t n = 0;

    while (line != NULL) {
        const char *end, *p;

        line++;
        end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if (end - line >= 5 && strncasecmp(line, "AUTH", 4) == 0 &&
            (line[4] == ' ' || line[4] == '=')) {
            for (p = line + 5; p < end && n < MAX_MECHS;) {
                const char *w;

                while (p < end && *p == ' ')
                    p++;
                for (w = p; p < end && *p != ' ';)
                    p++;
                if (p > w && (size_t)(p - w) <= QR_AUTH_MECH_MAX) {
                    memcpy(names[n], w, (size_t)(p - w));
                    names[n][p - w] = '\0';
                    ptrs[n] = names[n];
                    n++;
                }
            }
        }
        line = *end != '\0' ? end : NULL;
    }
    return n;
}

/* Answer a 334: the held initial response, or the mechanism's next step. */
static int answer(qr_smtp *s, qr_auth *a, qr_dynbuf *held)
{
    const char *line = NULL;
    size_t len = 0;
    int secret = 0, rc;

    qr_smtp_cmd_clear(s);
    qr_smtp_cmd_begin(s);
    if (held->len > 0) {
        qr_smtp_cmd_secret(s);
        qr_smtp_cmd_add(s, held->ptr, held->len);
        qr_auth_erase_buf(held);
    } else {
        rc = qr_auth_step(a, s->rp.text.ptr != NULL ? s->rp.text.ptr : "", s->rp.text.len, &line,
                          &len, &secret);
        if (rc == QR_EINVAL || line == NULL)
            return qr_smtp_fatal(s, qr_smtp_failf(s, QR_EPROTO, "unexpected 334 challenge"));
        /* rc < 0: line is "*", which cancels; the final reply reports rc */
        if (secret)
            qr_smtp_cmd_secret(s);
        qr_smtp_cmd_add(s, line, len);
    }
    qr_smtp_cmd_end(s);
    return qr_smtp_cmd_send(s);
}

/* The final reply (code) decides, through qr_auth_finish(). */
static int outcome(qr_smtp *s, qr_auth *a, int code)
{
    char text[QR_ERR_RESP_TEXT_MAX], esc[QR_ERR_RESP_TEXT_MAX];
    size_t i, n;
    int rc;

    if (code != 235 && code < 400)
        return qr_smtp_fail_reply(s, QR_EPROTO);
    n = (size_t)snprintf(text, sizeof(text), "%d %s", code, qr_dynbuf_str(&s->last_text));
    n = n < sizeof(text) ? n : sizeof(text) - 1;
    for (i = 0; i < n; i++)
        if (text[i] == '\n')
            text[i] = ' ';
    qr_text_escape(esc, sizeof(esc), text, n);
    rc = qr_auth_finish(a, code == 235 ? 0 : QR_ENO, esc);
    if (rc == 0) {
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "smtp %s: authenticated with %s", s->place,
               qr_auth_mechanism(a));
        return 0;
    }
    qr_smtp_failf(s, rc, "%s", qr_auth_last_error(a)->message);
    if (code != 235) {
        char num[12];

        snprintf(num, sizeof(num), "%03d", code % 1000);
        qr_errslot_set_resp(&s->err, num, qr_dynbuf_str(&s->last_text));
    }
    return qr_smtp_fatal(s, rc);
}

/* AUTH MECH [ir], the 334 rounds, the outcome. */
static int exchange(qr_smtp *s, qr_auth *a, const char *ir, size_t irlen)
{
    const char *mech = qr_auth_mechanism(a);
    qr_dynbuf held;
    int rc, code;

    qr_dynbuf_init(&held, QR_AUTH_LINE_MAX);
    qr_smtp_cmd_clear(s);
    qr_smtp_cmd_begin(s);
    qr_smtp_cmd_adds(s, "AUTH ");
    qr_smtp_cmd_adds(s, mech);
    if (ir != NULL && 5 + strlen(mech) + 1 + (irlen > 0 ? irlen : 1) + 2 <= QR_SMTP_AUTH_IR_MAX) {
        qr_smtp_cmd_adds(s, " ");
        qr_smtp_cmd_secret(s);
        qr_smtp_cmd_add(s, irlen > 0 ? ir : "=", irlen > 0 ? irlen : 1);
    } else if (ir != NULL && qr_dynbuf_add(&held, ir, irlen) != 0) {
        qr_smtp_cmd_clear(s);
        return qr_smtp_fatal(s, qr_smtp_failf(s, QR_ENOMEM, "out of memory"));
    }
    qr_smtp_cmd_end(s);
    rc = qr_smtp_cmd_send(s);
    while (rc == 0) {
        code = qr_smtp_io_reply(s, 1);
        if (code < 0)
            rc = code;
        else if (code == 334)
            rc = answer(s, a, &held);
        else {
            rc = outcome(s, a, code);
            break;
        }
    }
    qr_auth_erase_buf(&held);
    return rc;
}

int qr_smtp_auth(qr_smtp *s)
{
    char names[MAX_MECHS][QR_AUTH_MECH_MAX + 1], esc[256];
    const char *mechs[MAX_MECHS], *ir = NULL, *params = "";
    qr_auth_options ao;
    qr_auth_link link;
    qr_auth *a = NULL;
    size_t n, irlen = 0, plen = 0;
    int rc;

    s->step = "AUTH";
    n = offered(qr_dynbuf_str(&s->ehlo), names, mechs);
    if (n == 0)
        return qr_smtp_fatal(
            s, qr_smtp_failf(s, QR_ECAPABILITY, "the server offers no SASL mechanism"));
    qr_auth_options_init(&ao, QR_AUTH_OPTIONS_VERSION);
    ao.username = s->o.username;
    ao.password = s->o.password;
    ao.mechanisms = s->o.auth;
    ao.allow_plaintext = s->o.allow_plaintext_auth;
    rc = qr_auth_new(&a, &ao);
    if (rc < 0)
        return qr_smtp_fatal(s, qr_smtp_failf(s, rc, "%s", qr_strerror(rc)));
    memset(&link, 0, sizeof(link));
    link.secure = s->tls;
    rc = qr_auth_start_sasl(a, mechs, n, &link, "smtp", &ir, &irlen);
    if (rc == QR_EAUTH && qr_auth_mechanism(a)[0] == '\0') {
        qr_smtp_ehlo_find(qr_dynbuf_str(&s->ehlo), "AUTH", &params, &plen);
        qr_text_escape(esc, sizeof(esc), params, plen);
        rc = qr_smtp_failf(s, QR_ECAPABILITY, "no mechanism of \"%s\" among the server's (%s)",
                           s->o.auth, esc);
    } else if (rc < 0)
        qr_smtp_failf(s, rc, "%s", qr_auth_last_error(a)->message);
    else
        rc = exchange(s, a, ir, irlen);
    qr_auth_free(a);
    return rc < 0 ? qr_smtp_fatal(s, rc) : rc;
}
