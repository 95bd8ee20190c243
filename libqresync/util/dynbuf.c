/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Capped growable buffer (see dynbuf.h for the invariants).
 *
 * Growth doubles the allocation, starting at 64 bytes, and never allocates
 * more than max + 1 bytes (room for the NUL), so a buffer capped at 100
 * bytes never holds more than 101 allocated bytes however it is fed.
 */
#include "config.h"

#include "util/dynbuf.h"

#include <qresync/error.h>
#include <stdio.h>
#include <string.h>

#include "util/alloc.h"

#define DYNBUF_MIN_ALLOC 64

void qr_dynbuf_init(qr_dynbuf *b, size_t max)
{
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
}

void qr_dynbuf_free(qr_dynbuf *b)
{
    qr_free(b->ptr);
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
}

void qr_dynbuf_reset(qr_dynbuf *b)
{
    b->len = 0;
    if (b->ptr)
        b->ptr[0] = '\0';
}

int qr_dynbuf_reserve(qr_dynbuf *b, size_t n)
{
    size_t need, want;
    char *p;

    if (n > b->max - b->len)
        return QR_ELIMIT;
    need = b->len + n + 1;
    if (need <= b->alloc)
        return 0;
    want = b->alloc ? b->alloc : DYNBUF_MIN_ALLOC;
    while (want < need && want <= ((size_t)-1) / 2)
        want *= 2;
    if (want < need)
        want = need;
    if (want > b->max + 1)
        want = b->max + 1;
    p = qr_realloc(b->ptr, want);
    if (p == NULL)
        return QR_ENOMEM;
    if (b->ptr == NULL)
        p[0] = '\0';
    b->ptr = p;
    b->alloc = want;
    return 0;
}

int qr_dynbuf_add(qr_dynbuf *b, const void *p, size_t n)
{
    int rc = qr_dynbuf_reserve(b, n);

    if (rc < 0)
        return rc;
    if (n)
        memcpy(b->ptr + b->len, p, n);
    b->len += n;
    b->ptr[b->len] = '\0';
    return 0;
}

int qr_dynbuf_addc(qr_dynbuf *b, char c)
{
    return qr_dynbuf_add(b, &c, 1);
}

int qr_dynbuf_vaddf(qr_dynbuf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    int n, rc;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return QR_EINVAL;
    rc = qr_dynbuf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int qr_dynbuf_addf(qr_dynbuf *b, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = qr_dynbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return rc;
}

void qr_dynbuf_consume(qr_dynbuf *b, size_t n)
{
    if (n >= b->len) {
        qr_dynbuf_reset(b);
        return;
    }
    memmove(b->ptr, b->ptr + n, b->len - n);
    b->len -= n;
    b->ptr[b->len] = '\0';
}

const char *qr_dynbuf_str(const qr_dynbuf *b)
{
    return b->ptr ? b->ptr : "";
}

int qr_dynbuf_detach(qr_dynbuf *b, qr_buf *out)
{
    if (b->ptr == NULL) {
        int rc = qr_dynbuf_reserve(b, 0);
        if (rc < 0)
            return rc;
    }
    out->ptr = b->ptr;
    out->size = b->len;
    out->reserved = b->alloc;
    b->ptr = NULL;
    b->len = 0;
    b->alloc = 0;
    return 0;
}
