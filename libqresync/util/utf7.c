/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Modified UTF-7 for IMAP mailbox names (RFC 3501 section 5.1.3).
 *
 * Encoding walks the UTF-8 input one code point at a time (qr_utf8_decode
 * rejects overlong forms, surrogates and truncated sequences). A printable
 * ASCII character closes any open shift and is copied ('&' as "&-"); any
 * other character opens a shift if none is open and adds its UTF-16 code
 * units, 16 bits each, to a bit accumulator that is drained 6 bits at a
 * time into the modified base64 alphabet. Closing a shift writes the last
 * 0, 2 or 4 bits padded with zeros, then '-' (always written, even where
 * RFC 2152 would allow leaving it out, as RFC 3501 requires).
 *
 * Decoding is the exact inverse and accepts nothing else: it rejects every
 * form the encoder would not produce (see utf7.h for the list), so that one
 * mailbox name has one spelling. Inside a shift the accumulator never holds
 * more than 21 bits (16 + 5 pending), so a uint32_t suffices.
 *
 * Both directions append to a qr_dynbuf and, on any error, cut it back to
 * its length on entry, so a failed call leaves it as it was. The decoder
 * accepts out == NULL to validate only (qr_utf7_valid).
 */
#include "config.h"

#include "util/utf7.h"

#include <qresync/error.h>
#include <stdint.h>

#include "util/text.h"

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/* Whether cp is written as itself (printable US-ASCII). */
static int is_direct(unsigned long cp)
{
    return cp >= 0x20 && cp <= 0x7e;
}

/* Cut out back to `len` bytes after a failure. */
static void truncate_to(qr_dynbuf *out, size_t len)
{
    out->len = len;
    if (out->ptr)
        out->ptr[len] = '\0';
}

/* Encoder state inside a shift. */
typedef struct encoder {
    qr_dynbuf *out; /* destination (borrowed) */
    uint32_t bits;  /* pending bits, the low `nbits` of them */
    int nbits;      /* 0 to 5 between code units */
    int shifted;    /* a '&' shift is open */
} encoder;

static int enc_unit(encoder *e, uint32_t unit)
{
    int rc = 0;

    e->bits = (e->bits << 16) | unit;
    e->nbits += 16;
    while (e->nbits >= 6 && rc == 0) {
        e->nbits -= 6;
        rc = qr_dynbuf_addc(e->out, b64_alphabet[(e->bits >> e->nbits) & 0x3f]);
    }
    e->bits &= (1u << e->nbits) - 1;
    return rc;
}

/* Close an open shift: the last bits, zero-padded, then '-'. */
static int enc_close(encoder *e)
{
    int rc = 0;

    if (!e->shifted)
        return 0;
    if (e->nbits)
        rc = qr_dynbuf_addc(e->out, b64_alphabet[(e->bits << (6 - e->nbits)) & 0x3f]);
    if (rc == 0)
        rc = qr_dynbuf_addc(e->out, '-');
    e->bits = 0;
    e->nbits = 0;
    e->shifted = 0;
    return rc;
}

static int enc_char(encoder *e, unsigned long cp)
{
    int rc;

    if (is_direct(cp)) {
        rc = enc_close(e);
        if (rc == 0)
            rc = cp == '&' ? qr_dynbuf_add(e->out, "&-", 2) : qr_dynbuf_addc(e->out, (char)cp);
        return rc;
    }
    if (!e->shifted) {
        rc = qr_dynbuf_addc(e->out, '&');
        if (rc < 0)
            return rc;
        e->shifted = 1;
    }
    if (cp < 0x10000)
        return enc_unit(e, (uint32_t)cp);
    cp -= 0x10000;
    rc = enc_unit(e, (uint32_t)(0xD800 + (cp >> 10)));
    return rc < 0 ? rc : enc_unit(e, (uint32_t)(0xDC00 + (cp & 0x3ff)));
}

int qr_utf7_encode(qr_dynbuf *out, const char *utf8, size_t len)
{
    const unsigned char *s = (const unsigned char *)utf8;
    encoder e = {out, 0, 0, 0};
    size_t start = out->len, i = 0;
    int rc = 0;

    while (i < len && rc == 0) {
        unsigned long cp = 0;
        size_t n = qr_utf8_decode(s + i, len - i, &cp);
        if (n == 0 || cp == 0) {
            rc = QR_EINVAL;
            break;
        }
        rc = enc_char(&e, cp);
        i += n;
    }
    if (rc == 0)
        rc = enc_close(&e);
    if (rc < 0)
        truncate_to(out, start);
    return rc;
}

/* Value of a modified base64 byte, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == ',')
        return 63;
    return -1;
}

/* Append cp as UTF-8 (nothing when out is NULL). */
static int put_utf8(qr_dynbuf *out, unsigned long cp)
{
    char u[4];
    size_t n;

    if (out == NULL)
        return 0;
    if (cp < 0x80) {
        u[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    return qr_dynbuf_add(out, u, n);
}

/* One UTF-16 unit of a shift; *high holds a pending high surrogate. */
static int dec_unit(qr_dynbuf *out, uint32_t unit, uint32_t *high)
{
    if (*high) {
        unsigned long cp;
        if (unit < 0xDC00 || unit > 0xDFFF)
            return QR_EINVAL; /* high surrogate not followed by a low one */
        cp = 0x10000 + (((unsigned long)*high - 0xD800) << 10) + (unit - 0xDC00);
        *high = 0;
        return put_utf8(out, cp);
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
        *high = unit;
        return 0;
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF)
        return QR_EINVAL; /* low surrogate alone */
    if (unit == 0 || is_direct(unit))
        return QR_EINVAL; /* NUL, or a character that must be direct */
    return put_utf8(out, unit);
}

/*
 * Decode the shift starting at s[*pos], just after its '&' (which is not
 * followed by '-'); on success *pos is just after the closing '-'.
 */
static int dec_shift(qr_dynbuf *out, const unsigned char *s, size_t len, size_t *pos)
{
    uint32_t bits = 0, high = 0;
    int nbits = 0, v, rc;
    size_t i;

    for (i = *pos; i < len && (v = b64_value(s[i])) >= 0; i++) {
        bits = (bits << 6) | (uint32_t)v;
        nbits += 6;
        if (nbits >= 16) {
            nbits -= 16;
            rc = dec_unit(out, (bits >> nbits) & 0xffff, &high);
            if (rc < 0)
                return rc;
            bits &= (1u << nbits) - 1;
        }
    }
    if (i == len || s[i] != '-')
        return QR_EINVAL; /* not closed, or a byte outside the alphabet */
    if (nbits >= 6 || bits != 0 || high != 0)
        return QR_EINVAL; /* a needless byte, dirty padding, or a lone surrogate */
    *pos = i + 1;
    return 0;
}

/* qr_utf7_decode() with out == NULL allowed (validation only). */
static int decode(qr_dynbuf *out, const unsigned char *s, size_t len)
{
    size_t i = 0;
    int after_shift = 0, rc = 0;

    while (i < len && rc == 0) {
        if (s[i] < 0x20 || s[i] > 0x7e) {
            rc = QR_EINVAL;
        } else if (s[i] != '&') {
            rc = put_utf8(out, s[i++]);
            after_shift = 0;
        } else if (i + 1 < len && s[i + 1] == '-') {
            rc = put_utf8(out, '&');
            i += 2;
            after_shift = 0;
        } else if (after_shift) {
            rc = QR_EINVAL; /* two shifts in a row must be one */
        } else {
            i++;
            rc = dec_shift(out, s, len, &i);
            after_shift = 1;
        }
    }
    return rc;
}

int qr_utf7_decode(qr_dynbuf *out, const char *mutf7, size_t len)
{
    size_t start = out->len;
    int rc = decode(out, (const unsigned char *)mutf7, len);

    if (rc < 0)
        truncate_to(out, start);
    return rc;
}

int qr_utf7_valid(const char *mutf7, size_t len)
{
    return decode(NULL, (const unsigned char *)mutf7, len) == 0;
}
