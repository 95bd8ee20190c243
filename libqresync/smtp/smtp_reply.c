/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SMTP reply parser: bytes in, lines and complete replies out, no I/O.
 *
 * Grammar (RFC 5321 §4.2, and what the reference accepts, spec
 * pullimap.md §5.2):
 *
 *     reply  = *( code "-" [ text ] CRLF ) code [ SP [ text ] ] CRLF
 *     code   = %x32-35 DIGIT DIGIT
 *
 * Every line of a reply carries the same code; the last line has a space
 * (or nothing) after the code, the others a hyphen. Stricter than the
 * RFC's reader on purpose, like the reference: a line must end in CRLF (a
 * bare LF ends it as a protocol error, not as a line), and a bare CR or a
 * NUL inside a line is an error too (the text would be cut or could hide a
 * line break from a log). 8-bit bytes are kept (servers send UTF-8 text);
 * the logger escapes what is not printable.
 *
 * The parser stops after each line so that the caller can log it
 * (`S: LINE`) before going on; `used` says how much of the input it took,
 * and the rest belongs to the next line or, after the last one, to the
 * next reply (PIPELINING: several replies may sit in one read).
 *
 * Limits: a line holds at most QR_SMTP_LINE_MAX bytes with its CRLF and a
 * reply's text QR_SMTP_REPLY_MAX; beyond, QR_EPROTO (a server that talks
 * without end is broken, and no buffer grows without a cap).
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "smtp/smtp_p.h"

void qr_smtp_rparser_init(qr_smtp_rparser *p)
{
    memset(p, 0, sizeof(*p));
    qr_dynbuf_init(&p->line, QR_SMTP_LINE_MAX);
    qr_dynbuf_init(&p->text, QR_SMTP_REPLY_MAX);
}

void qr_smtp_rparser_reset(qr_smtp_rparser *p)
{
    p->code = 0;
    p->done = 0;
    p->nlines = 0;
    p->line_complete = 0;
    p->why = NULL;
    qr_dynbuf_reset(&p->line);
    qr_dynbuf_reset(&p->text);
}

void qr_smtp_rparser_free(qr_smtp_rparser *p)
{
    qr_dynbuf_free(&p->line);
    qr_dynbuf_free(&p->text);
}

static int fail(qr_smtp_rparser *p, const char *why)
{
    p->why = why;
    return QR_EPROTO;
}

/* A complete line (CRLF removed) in p->line: check it, add its text. */
static int end_line(qr_smtp_rparser *p)
{
    const char *l = p->line.ptr != NULL ? p->line.ptr : "";
    size_t n = p->line.len;
    int code, rc;

    p->line_complete = 1;
    if (n < 3 || l[0] < '2' || l[0] > '5' || l[1] < '0' || l[1] > '9' || l[2] < '0' || l[2] > '9')
        return fail(p, "malformed reply code");
    if (n > 3 && l[3] != ' ' && l[3] != '-')
        return fail(p, "malformed reply code");
    code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
    if (p->nlines > 0 && code != p->code)
        return fail(p, "reply code changed within a multi-line reply");
    if (p->nlines > 0 && (rc = qr_dynbuf_addc(&p->text, '\n')) != 0)
        return rc == QR_ENOMEM ? rc : fail(p, "reply too long");
    if (n > 4 && (rc = qr_dynbuf_add(&p->text, l + 4, n - 4)) != 0)
        return rc == QR_ENOMEM ? rc : fail(p, "reply too long");
    p->code = code;
    p->nlines++;
    if (n > 3 && l[3] == '-')
        return QR_SMTP_R_LINE;
    p->done = 1;
    return QR_SMTP_R_DONE;
}

/* Append b[0..n) (no LF among them) to the line, checking its bytes. */
static int add_bytes(qr_smtp_rparser *p, const char *b, size_t n)
{
    int rc;

    if (n == 0)
        return 0;
    if (memchr(b, '\0', n) != NULL)
        return fail(p, "NUL in a reply line");
    /* a CR is allowed only as the last byte before the LF: check the one
     * already held (if any) and every new one but the last */
    if (p->line.len > 0 && p->line.ptr[p->line.len - 1] == '\r')
        return fail(p, "bare CR in a reply line");
    if (n > 1 && memchr(b, '\r', n - 1) != NULL)
        return fail(p, "bare CR in a reply line");
    /* the line's cap counts the CRLF still to come */
    if (p->line.len + n + (b[n - 1] == '\r' ? 1 : 2) > QR_SMTP_LINE_MAX)
        return fail(p, "reply line too long");
    rc = qr_dynbuf_add(&p->line, b, n);
    return rc == QR_ELIMIT ? fail(p, "reply line too long") : rc;
}

int qr_smtp_rparser_feed(qr_smtp_rparser *p, const char *buf, size_t len, size_t *used)
{
    const char *lf;
    size_t n;
    int rc;

    *used = 0;
    if (p->done || p->why != NULL)
        return fail(p, p->why != NULL ? p->why : "reply already complete");
    if (p->line_complete) {
        p->line_complete = 0;
        qr_dynbuf_reset(&p->line);
    }
    lf = len > 0 ? memchr(buf, '\n', len) : NULL;
    n = lf != NULL ? (size_t)(lf - buf) : len;
    rc = add_bytes(p, buf, n);
    if (rc != 0)
        return rc;
    *used = n;
    if (lf == NULL)
        return QR_SMTP_R_MORE;
    *used = n + 1;
    if (p->line.len == 0 || p->line.ptr[p->line.len - 1] != '\r') {
        p->line_complete = 1;
        return fail(p, "reply line not ending in CRLF");
    }
    p->line.ptr[--p->line.len] = '\0';
    return end_line(p);
}

int qr_smtp_ehlo_find(const char *text, const char *keyword, const char **params, size_t *plen)
{
    size_t klen = strlen(keyword);
    const char *line = strchr(text, '\n'); /* the first line is the server's name */

    while (line != NULL) {
        const char *end;

        line++;
        end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        if ((size_t)(end - line) >= klen && strncasecmp(line, keyword, klen) == 0 &&
            (line + klen == end || line[klen] == ' ' || line[klen] == '=')) {
            const char *pp = line + klen < end ? line + klen + 1 : end;

            if (params != NULL)
                *params = pp;
            if (plen != NULL)
                *plen = (size_t)(end - pp);
            return 1;
        }
        line = *end != '\0' ? end : NULL;
    }
    return 0;
}
