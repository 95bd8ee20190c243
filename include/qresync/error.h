/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file error.h
 * @brief Error codes and per-handle error detail.
 *
 * Fallible libqresync functions return an `int`: 0 on success, a negative
 * QR_E* code on failure. Positive values are never errors; the only one is
 * QR_PAUSE, which callbacks (body sinks and the like) return to ask the
 * library to stop feeding them until the caller resumes it. Functions that
 * cannot fail return their value directly.
 *
 * A code says what kind of thing went wrong. The details (a message naming
 * the place, the errno of a failed system call, the server's response code
 * and text for a tagged NO or BAD) are kept per handle, never per thread:
 * each handle type has a `qr_<module>_last_error()` getter returning a
 * borrowed `const qr_error *` valid until the next call on that handle.
 */
#ifndef QRESYNC_ERROR_H
#define QRESYNC_ERROR_H

#include <qresync/common.h>

QR_BEGIN_DECLS

/**
 * Result codes. Values are part of the ABI and never change meaning.
 * @since 0.1
 */
typedef enum qr_error_code {
    QR_OK = 0,             /**< success */
    QR_ERROR = -1,         /**< generic or internal failure */
    QR_ENOMEM = -2,        /**< an allocation failed */
    QR_EINVAL = -3,        /**< caller misuse: bad argument or wrong state */
    QR_EAGAIN = -4,        /**< would block (non-blocking calls only) */
    QR_EOF = -5,           /**< the peer closed the connection */
    QR_EIO = -6,           /**< an operating-system call failed (errno in detail) */
    QR_ETLS = -7,          /**< TLS handshake, certificate or record error */
    QR_ECOMPRESS = -8,     /**< deflate stream error */
    QR_EPROTO = -9,        /**< the server broke the grammar or the protocol */
    QR_ELIMIT = -10,       /**< a configured size or length limit was exceeded */
    QR_ENO = -11,          /**< the server answered a command with a tagged NO */
    QR_EBAD = -12,         /**< the server answered a command with a tagged BAD */
    QR_EBYE = -13,         /**< the server sent BYE */
    QR_EAUTH = -14,        /**< authentication failed */
    QR_ECAPABILITY = -15,  /**< a required extension is missing */
    QR_ECANCELED = -16,    /**< cancelled, or connection lost before completion */
    QR_EUIDVALIDITY = -17, /**< the mailbox's UIDVALIDITY changed */
    QR_ESTORE = -18,       /**< the SQLite state store failed */
    QR_ELOCKED = -19,      /**< the state store is in use by another run */
    QR_EUSER = -20,        /**< a user callback asked to abort */
    QR_PAUSE = 1           /**< not an error: a callback asks to stop feeding */
} qr_error_code;

/**
 * Details of the last error recorded on a handle.
 *
 * Every pointer member is borrowed from the handle and stays valid until the
 * next call on that handle (or until the handle is freed). Members that do
 * not apply are 0 or NULL. New members are only ever appended, and the
 * library always allocates this structure, so programs never depend on its
 * size.
 * @since 0.1
 */
typedef struct qr_error {
    int code;              /**< a QR_E* code; QR_OK when nothing failed */
    const char *message;   /**< one line naming the problem and the place; never NULL */
    int sys_errno;         /**< errno of the failed system call (QR_EIO), else 0 */
    int lib_code;          /**< GnuTLS, zlib, SQLite or GSASL code behind the error, else
                              0 */
    const char *resp_code; /**< for QR_ENO/QR_EBAD/QR_EBYE: the response code,
                              e.g. "TRYCREATE", or NULL */
    const char *resp_text; /**< for QR_ENO/QR_EBAD/QR_EBYE: the server's text,
                              or NULL */
    const char *origin;    /**< debug builds: "file:line (function)" where it
                              began; else NULL */
} qr_error;

/**
 * A short static description of a result code.
 *
 * @param code A QR_E* code, QR_OK or QR_PAUSE. Unknown values give
 *             "unknown error".
 * @return A static, NUL-terminated English string; never NULL.
 *
 * **Ownership:** static; do not free.
 * @since 0.1
 */
QR_EXTERN const char *qr_strerror(int code);

/**
 * Whether a code leaves the handle that returned it unusable.
 *
 * Fatal codes (QR_ERROR, QR_ENOMEM, QR_EOF, QR_EIO, QR_ETLS, QR_ECOMPRESS,
 * QR_EPROTO, QR_EBYE) mean the connection or handle is broken: free it and,
 * if you want, start again. Others (a tagged NO, a limit, a missing
 * capability, a cancelled command) leave the handle usable.
 *
 * @param code A QR_E* code.
 * @return 1 if fatal, 0 otherwise (also 0 for QR_OK and QR_PAUSE).
 * @since 0.1
 */
QR_EXTERN int qr_error_is_fatal(int code);

QR_END_DECLS

#endif /* QRESYNC_ERROR_H */
