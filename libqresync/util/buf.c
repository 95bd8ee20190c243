/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_buf: memory handed to the caller (see include/qresync/buf.h).
 *
 * A qr_buf whose `reserved` is non-zero owns `ptr`, allocated with
 * qr_malloc(); one with `reserved == 0` points at memory it does not own and
 * qr_buf_dispose() only resets it.
 */
#include "config.h"

#include <qresync/buf.h>

#include "util/alloc.h"

QR_EXTERN void qr_buf_dispose(qr_buf *buf)
{
    if (buf == NULL)
        return;
    if (buf->reserved)
        qr_free(buf->ptr);
    buf->ptr = NULL;
    buf->size = 0;
    buf->reserved = 0;
}
