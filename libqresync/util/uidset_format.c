/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The text form of a qr_uidset: "1:5,7,9:12".
 *
 * Output is canonical because the set is: ranges in increasing order, a
 * one-UID range written as a bare number, never two elements that could be
 * one. Nothing else is ever produced (no '*', no descending `b:a`).
 *
 * Three writers share element_format():
 *  - qr_uidset_append_to() measures the whole text first, reserves it in
 *    the caller's dynbuf in one step (so failure leaves the dynbuf as it
 *    was) and writes in place;
 *  - qr_uidset_format() is the same into a fresh qr_buf;
 *  - qr_uidset_format_split() cuts the text into pieces of at most `budget`
 *    bytes at element boundaries, for commands that must respect a line
 *    length; it uses one scratch buffer of min(budget, total) bytes.
 */
#include "config.h"

#include "util/uidset_p.h"

#include <qresync/error.h>
#include <string.h>

#include "util/alloc.h"
#include "util/dynbuf.h"

/* Decimal digits of v (1 to 10). */
static size_t digits(uint32_t v)
{
    size_t n = 1;

    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Write v in decimal at dst; return the number of bytes written. */
static size_t write_u32(char *dst, uint32_t v)
{
    size_t n = digits(v), i = n;

    do {
        dst[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return n;
}

/* Length of the element for r: "lo" or "lo:hi". */
static size_t element_len(const qr_range *r)
{
    return r->lo == r->hi ? digits(r->lo) : digits(r->lo) + 1 + digits(r->hi);
}

/* Write the element for r at dst (at most QR_UIDSET_MAX_ELEMENT bytes). */
static size_t element_format(char *dst, const qr_range *r)
{
    size_t n = write_u32(dst, r->lo);

    if (r->lo != r->hi) {
        dst[n++] = ':';
        n += write_u32(dst + n, r->hi);
    }
    return n;
}

/* Length of the whole text, or 0 with QR_ELIMIT in *rc if it overflows. */
static size_t text_len(const qr_uidset *set, int *rc)
{
    size_t k, total = 0;

    *rc = 0;
    if (set->n > ((size_t)-1) / (QR_UIDSET_MAX_ELEMENT + 1)) {
        *rc = QR_ELIMIT;
        return 0;
    }
    for (k = 0; k < set->n; k++)
        total += element_len(&set->r[k]) + (k ? 1 : 0);
    return total;
}

int qr_uidset_append_to(const qr_uidset *set, qr_dynbuf *out)
{
    size_t k, total, at;
    int rc;

    total = text_len(set, &rc);
    if (rc == 0)
        rc = qr_dynbuf_reserve(out, total);
    if (rc < 0)
        return rc;
    at = out->len;
    for (k = 0; k < set->n; k++) {
        if (k)
            out->ptr[at++] = ',';
        at += element_format(out->ptr + at, &set->r[k]);
    }
    out->len = at;
    out->ptr[at] = '\0';
    return 0;
}

QR_EXTERN int qr_uidset_format(const qr_uidset *set, qr_buf *out)
{
    qr_dynbuf b;
    int rc;

    qr_dynbuf_init(&b, ((size_t)-1) - 1);
    rc = qr_uidset_append_to(set, &b);
    if (rc == 0)
        rc = qr_dynbuf_detach(&b, out);
    qr_dynbuf_free(&b);
    return rc == QR_ELIMIT ? QR_ENOMEM : rc;
}

QR_EXTERN int qr_uidset_format_split(const qr_uidset *set, size_t budget, qr_uidset_piece_fn piece,
                                     void *payload)
{
    size_t k, len = 0, cap;
    char *buf;
    int rc = 0;

    if (budget < QR_UIDSET_MAX_ELEMENT)
        return QR_EINVAL;
    if (set->n == 0)
        return 0;
    cap = text_len(set, &rc);
    if (rc < 0 || cap > budget)
        cap = budget;
    buf = qr_malloc(cap);
    if (buf == NULL)
        return QR_ENOMEM;
    for (k = 0; k < set->n && rc == 0; k++) {
        char el[QR_UIDSET_MAX_ELEMENT];
        size_t n = element_format(el, &set->r[k]);
        if (len && len + 1 + n > budget) {
            rc = piece(buf, len, payload);
            len = 0;
        }
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, el, n);
        len += n;
    }
    if (rc == 0)
        rc = piece(buf, len, payload);
    qr_free(buf);
    return rc;
}
