/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-smtp-reply: arbitrary server bytes through the SMTP reply parser
 * (libqresync/smtp/smtp_reply.c), as qr_smtp reads them: replies one
 * after the other from one stream, fed in chunks.
 *
 * Input: the first byte sets the chunk size (1 + byte % 64); the rest is
 * what the server sends.
 *
 * Properties (abort() on violation, so libFuzzer records the input):
 *   - every feed consumes at most what it was given, and makes progress
 *     or reports a complete line or an error; it never reads past the end
 *     of the line it stops at;
 *   - a complete reply agrees with an independent reading of the bytes it
 *     consumed: CRLF-terminated lines, each `DDD-text` but the last
 *     `DDD[ text]`, one code in 200..599, the texts joined by "\n";
 *   - an error is QR_EPROTO with a reason, and sticky until reset;
 *   - the line and text buffers stay within their caps.
 * The EHLO lookup is run on every complete reply's text too.
 */
#include "config.h"

#include <qresync/error.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp_p.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* The oracle: rebuild code and text from the bytes of one reply. */
static void check_reply(const qr_smtp_rparser *p, const char *b, size_t n)
{
    size_t off = 0, text = 0, lines = 0;
    const char *t = qr_dynbuf_str(&p->text);

    REQUIRE(p->code >= 200 && p->code <= 599);
    while (off < n) {
        const char *lf = memchr(b + off, '\n', n - off);
        size_t len;

        REQUIRE(lf != NULL);
        len = (size_t)(lf - (b + off));
        REQUIRE(len >= 4 && b[off + len - 1] == '\r');
        len--; /* without the CR */
        REQUIRE(memchr(b + off, '\r', len) == NULL && memchr(b + off, '\0', len) == NULL);
        REQUIRE((b[off] - '0') * 100 + (b[off + 1] - '0') * 10 + (b[off + 2] - '0') == p->code);
        REQUIRE(len == 3 || b[off + 3] == ' ' || b[off + 3] == '-');
        REQUIRE((lf + 1 == b + n) == (len == 3 || b[off + 3] == ' '));
        if (lines++ > 0)
            REQUIRE(t[text++] == '\n');
        if (len > 4) {
            REQUIRE(memcmp(t + text, b + off + 4, len - 4) == 0);
            text += len - 4;
        }
        off = (size_t)(lf - b) + 1;
    }
    REQUIRE(text == p->text.len && lines == p->nlines);
    qr_smtp_ehlo_find(t, "PIPELINING", NULL, NULL);
    qr_smtp_ehlo_find(t, "AUTH", NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qr_smtp_rparser p;
    const char *in = (const char *)data + 1;
    size_t chunk, n, off = 0, start = 0;

    if (size == 0)
        return 0;
    chunk = 1 + data[0] % 64;
    n = size - 1;
    qr_smtp_rparser_init(&p);
    while (off < n) {
        size_t lim = off + chunk < n ? off + chunk : n, used = 0, again = 1;
        int rc = qr_smtp_rparser_feed(&p, in + off, lim - off, &used);

        REQUIRE(used <= lim - off);
        REQUIRE(p.line.len < QR_SMTP_LINE_MAX && p.text.len <= QR_SMTP_REPLY_MAX);
        if (rc < 0) { /* the client drops the connection here */
            REQUIRE(rc == QR_EPROTO && p.why != NULL);
            REQUIRE(qr_smtp_rparser_feed(&p, "250 x\r\n", 7, &again) == QR_EPROTO && again == 0);
            break;
        }
        if (rc == QR_SMTP_R_MORE) {
            REQUIRE(used == lim - off && memchr(in + off, '\n', used) == NULL);
            off += used;
            continue;
        }
        /* a line ended: exactly at the first LF */
        REQUIRE(used > 0 && in[off + used - 1] == '\n');
        REQUIRE(memchr(in + off, '\n', used - 1) == NULL);
        off += used;
        if (rc == QR_SMTP_R_DONE) {
            check_reply(&p, in + start, off - start);
            qr_smtp_rparser_reset(&p);
            start = off;
        }
    }
    qr_smtp_rparser_free(&p);
    return 0;
}
