/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_dynbuf: a growable byte buffer with a hard maximum.
 *
 * Every buffer that grows with input from the network (a token, a small
 * literal, an error message) is a qr_dynbuf whose maximum is fixed when it is
 * initialised, so no peer can make the library allocate without bound
 * (curl's dynbuf). Invariants:
 *   - len <= max at all times;
 *   - when ptr != NULL, ptr[len] == '\0' and alloc > len;
 *   - a failing add (QR_ELIMIT or QR_ENOMEM) leaves the buffer unchanged.
 * The buffer owns ptr; qr_dynbuf_free() releases it, qr_dynbuf_detach()
 * hands it to a public qr_buf.
 */
#ifndef QR_UTIL_DYNBUF_H
#define QR_UTIL_DYNBUF_H

#include <stdarg.h>
#include <stddef.h>

#include <qresync/buf.h>
#include <qresync/common.h>

typedef struct qr_dynbuf {
    char *ptr;    /* owned bytes, NUL-terminated when non-NULL */
    size_t len;   /* bytes in use, not counting the NUL */
    size_t alloc; /* bytes allocated at ptr */
    size_t max;   /* hard cap on len */
} qr_dynbuf;

/* Start an empty buffer that may hold up to max bytes. Allocates nothing. */
void qr_dynbuf_init(qr_dynbuf *b, size_t max);
/* Release the memory; the buffer is then empty and may be reused. */
void qr_dynbuf_free(qr_dynbuf *b);
/* Forget the contents but keep the memory. */
void qr_dynbuf_reset(qr_dynbuf *b);
/* Make room for n more bytes. QR_ELIMIT past max, QR_ENOMEM. */
int qr_dynbuf_reserve(qr_dynbuf *b, size_t n);
/* Append n bytes (p may be NULL when n == 0). QR_ELIMIT, QR_ENOMEM. */
int qr_dynbuf_add(qr_dynbuf *b, const void *p, size_t n);
/* Append one byte. QR_ELIMIT, QR_ENOMEM. */
int qr_dynbuf_addc(qr_dynbuf *b, char c);
/* Append formatted text (never for protocol output, only for messages). */
int qr_dynbuf_addf(qr_dynbuf *b, const char *fmt, ...) QR_PRINTF(2, 3);
int qr_dynbuf_vaddf(qr_dynbuf *b, const char *fmt, va_list ap) QR_PRINTF(2, 0);
/* Drop the first n bytes (n <= len), moving the rest to the front. */
void qr_dynbuf_consume(qr_dynbuf *b, size_t n);
/* The contents as a C string; "" when nothing was ever added. Borrowed. */
const char *qr_dynbuf_str(const qr_dynbuf *b);
/*
 * Move the contents into out (which must be empty or disposed); the buffer
 * is left empty. QR_ENOMEM if an empty buffer needs its first allocation.
 */
int qr_dynbuf_detach(qr_dynbuf *b, qr_buf *out);

#endif /* QR_UTIL_DYNBUF_H */
