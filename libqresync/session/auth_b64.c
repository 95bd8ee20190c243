/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Base64 (RFC 4648 §4) for the AUTHENTICATE exchange, over libgsasl's
 * gsasl_base64_to()/gsasl_base64_from().
 *
 * IMAP carries every SASL message as base64 on one line (RFC 9051 §6.2.2),
 * with padding and without line breaks, which is what libgsasl writes. A
 * challenge libgsasl cannot decode is a protocol error (QR_EPROTO): the
 * server, or something on the path, is broken.
 *
 * Results land in a qr_dynbuf (under its hard cap) and the buffer is left
 * unchanged on error. The bytes are often secrets (PLAIN credentials, SCRAM
 * proofs), so libgsasl's temporary copy is overwritten before it is freed,
 * and qr_auth_erase_buf() overwrites a buffer before releasing it.
 */
#include "config.h"

#include <gsasl.h>
#include <string.h>

#include "session/auth_p.h"
#include "util/alloc.h"

/* Append gsasl's malloc'd result to out, then wipe and free it. */
static int take_gsasl_result(qr_dynbuf *out, char *res, size_t len)
{
    int rc = qr_dynbuf_add(out, res, len);

    explicit_bzero(res, len);
    gsasl_free(res);
    return rc;
}

int qr_b64_encode(qr_dynbuf *out, const void *p, size_t n)
{
    char *res = NULL;
    size_t len = 0;
    int rc = gsasl_base64_to(p, n, &res, &len);

    if (rc == GSASL_MALLOC_ERROR)
        return QR_ENOMEM;
    if (rc != GSASL_OK)
        return QR_ELIMIT;
    return take_gsasl_result(out, res, len);
}

int qr_b64_decode(qr_dynbuf *out, const char *s, size_t n)
{
    char *res = NULL;
    size_t len = 0;
    int rc;

    if (n % 4 != 0) /* libgsasl accepts missing padding; IMAP requires it */
        return QR_EPROTO;
    rc = gsasl_base64_from(s, n, &res, &len);
    if (rc == GSASL_MALLOC_ERROR)
        return QR_ENOMEM;
    if (rc != GSASL_OK)
        return QR_EPROTO;
    return take_gsasl_result(out, res, len);
}

void qr_auth_erase_buf(qr_dynbuf *b)
{
    if (b->ptr != NULL)
        explicit_bzero(b->ptr, b->alloc);
    qr_dynbuf_free(b);
}
