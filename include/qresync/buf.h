/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file buf.h
 * @brief Strings and bytes the library hands over to the caller.
 *
 * When a function gives the caller memory to keep, it fills a qr_buf. The
 * bytes are always followed by a NUL byte that is not counted in `size`, so
 * text can be used as a C string (it may still contain NUL bytes of its own:
 * use `size`). Release the memory with qr_buf_dispose().
 */
#ifndef QRESYNC_BUF_H
#define QRESYNC_BUF_H

#include <stddef.h>

#include <qresync/common.h>

QR_BEGIN_DECLS

/**
 * Bytes owned by the caller once a function has filled them in.
 * @since 0.1
 */
typedef struct qr_buf {
    char *ptr;       /**< the bytes, NUL-terminated; NULL when empty and unallocated */
    size_t size;     /**< number of bytes, not counting the terminating NUL */
    size_t reserved; /**< allocated size; 0 when ptr is not owned by the library */
} qr_buf;

/** Initialiser for an empty qr_buf. @since 0.1 */
#define QR_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/**
 * Free the memory of a qr_buf and reset it to QR_BUF_INIT.
 *
 * @param buf The buffer; NULL, or an empty buffer, is a no-op.
 *
 * **Ownership:** frees `buf->ptr` if the library allocated it; `buf` itself
 * belongs to the caller and is not freed.
 * @since 0.1
 */
QR_EXTERN void qr_buf_dispose(qr_buf *buf);

QR_END_DECLS

#endif /* QRESYNC_BUF_H */
