/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The DATA encoder: a message body as it must travel after `354`, in
 * constant memory, whatever the pieces the body arrives in.
 *
 * Rules (RFC 5321 §2.3.8 and §4.5.2; spec pullimap.md §5.2 and issue 8's
 * "beyond the reference"):
 *   - a line ends in CRLF on the wire: CRLF stays, and a bare LF or a bare
 *     CR becomes CRLF (so no bare LF ever reaches DATA; the reference
 *     passes them through);
 *   - a line that starts with `.` gets one more `.` in front, the first
 *     line included;
 *   - every other byte, NUL and 8-bit ones included, is copied unchanged;
 *   - at the end: CRLF when the last line has no line break (an empty
 *     body has no line at all, so it gets none), then `.` CRLF.
 *
 * State between calls: `bol` (the next byte starts a line) and `cr` (a CR
 * was read and its line break not yet written, because only the next byte
 * tells whether it is CRLF or a bare CR). The output for a CR is written
 * when the next byte (or the end) arrives, which is what makes every split
 * of the input give the same bytes. Each input byte yields at most two
 * output bytes, plus the two of a held CR: QR_SMTP_ENC_BOUND.
 */
#include "config.h"

#include <string.h>

#include "smtp/smtp_p.h"

void qr_smtp_enc_init(qr_smtp_enc *e)
{
    memset(e, 0, sizeof(*e));
    e->bol = 1;
}

size_t qr_smtp_enc_update(qr_smtp_enc *e, const void *in, size_t len, char *out)
{
    const unsigned char *p = in;
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        unsigned char c = p[i];

        if (e->cr) { /* the held CR ends a line, whatever follows */
            out[o++] = '\r';
            out[o++] = '\n';
            e->cr = 0;
            e->bol = 1;
            if (c == '\n')
                continue; /* CRLF: that was its LF */
        }
        if (c == '\r') {
            e->cr = 1;
            continue;
        }
        if (c == '\n') { /* a bare LF */
            out[o++] = '\r';
            out[o++] = '\n';
            e->bol = 1;
            continue;
        }
        if (e->bol && c == '.')
            out[o++] = '.';
        out[o++] = (char)c;
        e->bol = 0;
    }
    e->in += len;
    e->out += o;
    return o;
}

size_t qr_smtp_enc_finish(qr_smtp_enc *e, char *out)
{
    size_t o = 0;

    if (e->cr || !e->bol) {
        out[o++] = '\r';
        out[o++] = '\n';
    }
    out[o++] = '.';
    out[o++] = '\r';
    out[o++] = '\n';
    e->cr = 0;
    e->bol = 1;
    e->out += o;
    return o;
}
