/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Character classes of the IMAP grammar and the choice of a string form.
 *
 * RFC 3501 (and RFC 9051) give a client three ways to send a string:
 *   - an atom, 1*ASTRING-CHAR, where the grammar says astring;
 *   - a quoted string, for 7-bit text without CR or LF, with `"` and `\`
 *     escaped by a backslash;
 *   - a literal, for anything else (8-bit data, CR, LF), announced by its
 *     length.
 * qr_quote_form() picks the cheapest safe one. It follows the reference
 * client (spec/imap-client.md §7.2) with three deliberate differences, all
 * in form and not in meaning:
 *   - NIL in any case is quoted: it is a valid astring atom, but servers
 *     with a generic nstring parser have been seen to read it as NIL;
 *   - values longer than QR_CMD_QUOTED_MAX bytes are sent as literals, to
 *     keep command lines short (RFC 7162 §4 asks for 8192 octets at most);
 *   - NUL has no form at all: CHAR8 (the bytes of a literal) is %x01-ff, so
 *     the reference's literal with a NUL inside is a protocol error. We
 *     refuse it instead (QR_QFORM_INVALID).
 * With QR_QUOTE_UTF8 (UTF8=ACCEPT, RFC 6855) 8-bit bytes may be quoted; the
 * caller has checked that they are valid UTF-8.
 *
 * Also here: decimal numbers and literal announcements, written by hand so
 * that no printf format is involved in protocol output.
 */
#include "config.h"

#include <string.h>

#include "proto/builder_p.h"

int qr_is_atom_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return 0; /* CTL, SP, DEL and 8-bit */
    return strchr("(){%*\"\\]", c) == NULL;
}

int qr_is_astring_char(unsigned char c)
{
    return c == ']' || qr_is_atom_char(c);
}

int qr_is_tag_char(unsigned char c)
{
    return c != '+' && qr_is_astring_char(c);
}

/* TEXT-CHAR of a quoted string: 7-bit, not NUL, CR or LF. */
static int is_quotable(unsigned char c, unsigned int flags)
{
    if (c >= 0x80)
        return (flags & QR_QUOTE_UTF8) != 0;
    return c != 0 && c != '\r' && c != '\n';
}

static int is_nil(const char *p, size_t len)
{
    return len == 3 && (p[0] | 0x20) == 'n' && (p[1] | 0x20) == 'i' && (p[2] | 0x20) == 'l';
}

enum qr_qform qr_quote_form(const char *p, size_t len, unsigned int flags)
{
    const unsigned char *s = (const unsigned char *)p;
    int atom = !(flags & QR_QUOTE_NO_ATOM) && len > 0 && !is_nil(p, len);
    int quotable = 1;
    size_t i;

    if (len > 0 && memchr(p, '\0', len) != NULL)
        return QR_QFORM_INVALID;
    for (i = 0; i < len && (atom || quotable); i++) {
        if (atom && !qr_is_astring_char(s[i]))
            atom = 0;
        if (quotable && !is_quotable(s[i], flags))
            quotable = 0;
    }
    if (len > QR_CMD_QUOTED_MAX)
        return QR_QFORM_LITERAL;
    if (atom)
        return QR_QFORM_ATOM;
    return quotable ? QR_QFORM_QUOTED : QR_QFORM_LITERAL;
}

int qr_quote_append(qr_dynbuf *out, const char *p, size_t len)
{
    size_t i, extra = 2;
    int rc;

    for (i = 0; i < len; i++)
        extra += p[i] == '"' || p[i] == '\\';
    rc = qr_dynbuf_reserve(out, len + extra);
    if (rc < 0)
        return rc;
    out->ptr[out->len++] = '"';
    for (i = 0; i < len; i++) {
        if (p[i] == '"' || p[i] == '\\')
            out->ptr[out->len++] = '\\';
        out->ptr[out->len++] = p[i];
    }
    out->ptr[out->len++] = '"';
    out->ptr[out->len] = '\0';
    return 0;
}

size_t qr_fmt_u64(char *buf, uint64_t v)
{
    char rev[20];
    size_t n = 0, i;

    do {
        rev[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (i = 0; i < n; i++)
        buf[i] = rev[n - 1 - i];
    return n;
}

size_t qr_fmt_lit_header(char *buf, uint64_t size, int binary, int plus)
{
    size_t n = 0;

    if (binary)
        buf[n++] = '~';
    buf[n++] = '{';
    n += qr_fmt_u64(buf + n, size);
    if (plus)
        buf[n++] = '+';
    buf[n++] = '}';
    buf[n++] = '\r';
    buf[n++] = '\n';
    return n;
}

int qr_lit_is_sync(qr_cmd_literal_mode mode, uint64_t size)
{
    switch (mode) {
    case QR_CMD_LITERAL_PLUS:
        return 0;
    case QR_CMD_LITERAL_MINUS:
        return size > QR_CMD_LITMINUS_MAX;
    case QR_CMD_LITERAL_SYNC:
    default:
        return 1;
    }
}
