/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One mail transaction: qr_smtp_send().
 *
 *   MAIL FROM:<sender>[ SIZE=n][ BODY=8BITMIME][ SMTPUTF8]   2xx
 *   RCPT TO:<rcpt>                                          2xx (251, 252 too)
 *   DATA                                                    354
 *   the body through the encoder (smtp_data.c), then "."    2xx
 *
 * Parameters, only when the server announced them (RFC 1870, 6152,
 * 6531): SIZE= with a known size; BODY=8BITMIME for an 8-bit body;
 * SMTPUTF8 when an address holds 8-bit bytes (required then: without it
 * QR_ECAPABILITY before anything is sent). The reference sends none.
 *
 * PIPELINING (RFC 2920; spec pullimap.md §5.2): when offered and allowed
 * the three lines go out in one write and the three replies are read in
 * order; else each command waits for its reply and a refusal stops the
 * sequence. The first refusal is the one reported (qr_smtp_last_reply();
 * the replies read after it are logged only). A DATA that a broken
 * server accepted although MAIL or RCPT was refused gets an empty body
 * (".") so that the dialogue stays in step. Then RSET, so that the
 * connection can carry the next message; an RSET that fails closes it.
 *
 * Addresses are checked before anything is written: no byte below 0x20,
 * no DEL, no `<` or `>` (a CR or LF would inject commands, a bracket
 * would end the path early); QR_EINVAL, and the connection stays as it
 * was. The final reply (one with LMTP too: one recipient) ends the
 * transaction, so a refusal there needs no RSET. A failing read callback
 * after DATA leaves no way to withdraw the message short of dropping the
 * connection, which is what happens (never a "." after a truncated body).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "smtp/smtp_p.h"

/* Longest sender or recipient accepted (RFC 5321 §4.5.3.1.3: 256 for a path). */
#define ADDR_MAX 1024

/* 1 when a is acceptable: no control character, no '<' or '>' outside a
 * quoted string (RFC 5321 allows them in a quoted local part, e.g.
 * "a <b>"@example.org), quotes balanced; *eight |= 1 when it holds 8-bit
 * bytes. */
static int addr_ok(const char *a, int *eight)
{
    size_t n = 0;
    int quoted = 0;

    for (; a[n] != '\0'; n++) {
        unsigned char c = (unsigned char)a[n];

        if (c < 0x20 || c == 0x7f)
            return 0;
        if (c >= 0x80)
            *eight = 1;
        if (quoted && c == '\\' && a[n + 1] != '\0') {
            n++;
            if ((unsigned char)a[n] < 0x20 || a[n] == 0x7f)
                return 0;
        } else if (c == '"') {
            quoted = !quoted;
        } else if (!quoted && (c == '<' || c == '>')) {
            return 0;
        }
    }
    return !quoted && n <= ADDR_MAX;
}

/* The MAIL, RCPT and DATA lines, built into s->cmd. */
static int build_envelope(qr_smtp *s, const char *sender, const char *rcpt, uint64_t size,
                          int eightbit, int utf8)
{
    const char *ehlo = qr_dynbuf_str(&s->ehlo);
    char num[32];

    qr_smtp_cmd_begin(s);
    qr_smtp_cmd_adds(s, "MAIL FROM:<");
    qr_smtp_cmd_adds(s, sender);
    qr_smtp_cmd_adds(s, ">");
    if (size > 0 && qr_smtp_ehlo_find(ehlo, "SIZE", NULL, NULL)) {
        snprintf(num, sizeof(num), " SIZE=%llu", (unsigned long long)size);
        qr_smtp_cmd_adds(s, num);
    }
    if ((eightbit || utf8) && qr_smtp_ehlo_find(ehlo, "8BITMIME", NULL, NULL))
        qr_smtp_cmd_adds(s, " BODY=8BITMIME");
    if (utf8)
        qr_smtp_cmd_adds(s, " SMTPUTF8");
    qr_smtp_cmd_end(s);
    qr_smtp_cmd_begin(s);
    qr_smtp_cmd_adds(s, "RCPT TO:<");
    qr_smtp_cmd_adds(s, rcpt);
    qr_smtp_cmd_adds(s, ">");
    qr_smtp_cmd_end(s);
    qr_smtp_cmd_begin(s);
    qr_smtp_cmd_adds(s, "DATA");
    return qr_smtp_cmd_end(s);
}

/* After a refusal: RSET, keeping the refusal as the error and last reply. */
static int reset(qr_smtp *s)
{
    const char *refused_at = s->step;
    int code;

    if (!s->connected)
        return QR_ENO; /* a 421 closed it */
    s->step = "RSET";
    code = qr_smtp_command(s, "RSET", (const char *)NULL);
    if (code == 0)
        code = qr_smtp_io_reply(s, 0);
    if (code > 0 && code / 100 != 2) {
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "smtp %s: RSET refused (%d): closing", s->place,
               code);
        qr_smtp_close(s);
    }
    s->step = refused_at;
    if (code < 0 || !s->connected)
        qr_smtp_fail_reply(s, QR_ENO); /* the refusal, not the RSET, is the news */
    return QR_ENO;
}

/* Write line i of the envelope in s->cmd (without PIPELINING). */
static int write_line(qr_smtp *s, const size_t *line_end, size_t i)
{
    size_t from = i > 0 ? line_end[i - 1] : 0;

    return qr_smtp_io_write(s, s->cmd.ptr + from, line_end[i] - from);
}

/*
 * MAIL, RCPT, DATA (the lines are in s->cmd): 0 when DATA got 354,
 * QR_ENO after a refusal (RSET done), or a fatal error.
 */
static int envelope(qr_smtp *s)
{
    static const char *const steps[] = {"MAIL FROM", "RCPT TO", "DATA"};
    static const int want[] = {2, 2, 354};
    int pipe =
        s->o.pipelining && qr_smtp_ehlo_find(qr_dynbuf_str(&s->ehlo), "PIPELINING", NULL, NULL);
    const char *refused = NULL;
    size_t line_end[3], i, off = 0;
    int code = 0, rc = 0;

    for (i = 0; i < 3; i++) { /* where each line ends in s->cmd */
        off = (size_t)(strstr(s->cmd.ptr + off, "\r\n") - s->cmd.ptr) + 2;
        line_end[i] = off;
    }
    if (pipe)
        rc = qr_smtp_io_write(s, s->cmd.ptr, s->cmd.len);
    for (i = 0; rc == 0 && i < 3 && (refused == NULL || (pipe && s->connected)); i++) {
        s->step = steps[i];
        if (!pipe)
            rc = write_line(s, line_end, i);
        code = rc == 0 ? qr_smtp_io_reply(s, refused == NULL) : rc;
        if (code < 0)
            rc = code;
        else if (refused == NULL && !qr_smtp_code_ok(code, want[i])) {
            rc = qr_smtp_fail_reply(s, code >= 400 ? QR_ENO : QR_EPROTO);
            if (rc == QR_ENO) {
                refused = steps[i];
                rc = 0;
            }
        }
    }
    qr_smtp_cmd_clear(s);
    if (rc != 0 || refused == NULL)
        return rc;
    if (pipe && code == 354 && s->connected) { /* DATA accepted after a refusal: end it empty */
        s->step = "end of data";
        rc = qr_smtp_io_write(s, ".\r\n", 3);
        if (rc == 0)
            rc = qr_smtp_io_reply(s, 0);
        if (rc < 0)
            return rc;
    }
    s->step = refused;
    return reset(s);
}

/* The body through the encoder, then the final dot. */
static int send_body(qr_smtp *s, qr_cmd_read_fn read, void *payload)
{
    qr_smtp_enc e;
    size_t n;
    int rc;

    qr_smtp_enc_init(&e);
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: [...]");
    for (;;) {
        size_t got = 0;

        rc = read(s->ibuf, QR_SMTP_CHUNK, &got, payload);
        if (rc == 0 && got > QR_SMTP_CHUNK)
            rc = QR_EINVAL;
        if (rc != 0) {
            if (rc > 0 || rc == QR_EAGAIN)
                rc = QR_EINVAL;
            qr_smtp_failf(s, rc, "the message source failed after %llu bytes: %s",
                          (unsigned long long)e.in, qr_strerror(rc));
            return qr_smtp_fatal(s, rc);
        }
        if (got == 0)
            break;
        n = qr_smtp_enc_update(&e, s->ibuf, got, s->obuf);
        rc = qr_smtp_io_write(s, s->obuf, n);
        if (rc != 0)
            return rc;
    }
    n = qr_smtp_enc_finish(&e, s->obuf);
    return qr_smtp_io_write(s, s->obuf, n);
}

QR_EXTERN int qr_smtp_send(qr_smtp *s, const char *sender, const char *rcpt, uint64_t size,
                           int eightbit, int utf8, qr_cmd_read_fn read, void *read_payload)
{
    int eight_addr = 0, rc;

    if (s == NULL)
        return QR_EINVAL;
    qr_errslot_clear(&s->err);
    s->step = "MAIL FROM";
    if (sender == NULL || rcpt == NULL || read == NULL)
        return qr_smtp_failf(s, QR_EINVAL, "missing sender, recipient or message source");
    if (!addr_ok(sender, &eight_addr))
        return qr_smtp_failf(s, QR_EINVAL,
                             "invalid sender address (control character, "
                             "'<' or '>' outside quotes, or too long)");
    if (!addr_ok(rcpt, &eight_addr)) {
        s->step = "RCPT TO";
        return qr_smtp_failf(s, QR_EINVAL,
                             "invalid recipient address (control character, "
                             "'<' or '>' outside quotes, or too long)");
    }
    if (!s->connected && s->lost)
        return qr_smtp_failf(s, QR_EOF, "the connection was lost earlier (connect again)");
    if (!s->connected)
        return qr_smtp_failf(s, QR_EINVAL, "not connected");
    utf8 = utf8 || eight_addr;
    if (utf8 && !qr_smtp_ehlo_find(qr_dynbuf_str(&s->ehlo), "SMTPUTF8", NULL, NULL))
        return qr_smtp_failf(s, QR_ECAPABILITY,
                             "an address needs SMTPUTF8, which the server does not offer");
    qr_smtp_cmd_clear(s);
    rc = build_envelope(s, sender, rcpt, size, eightbit, utf8);
    if (rc != 0)
        return qr_smtp_cmd_send(s); /* records the failure, sends nothing */
    rc = envelope(s);
    if (rc == 0) {
        s->step = "DATA";
        rc = send_body(s, read, read_payload);
    }
    if (rc == 0) {
        s->step = "end of data";
        rc = qr_smtp_expect(s, 2);
    }
    return rc;
}
