/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_errslot: the per-handle error detail behind qr_<module>_last_error().
 *
 * Each handle embeds one slot. Recording an error never allocates, so it
 * cannot fail: text that does not fit is cut and ends with "...". The slot
 * keeps the public qr_error's pointers aimed at its own arrays, so a
 * `const qr_error *` obtained from qr_errslot_get() stays valid until the
 * next record or clear on the same slot.
 *
 * In builds with QR_ENABLE_ERROR_ORIGIN (debug builds) the file, line and
 * function where an error was first recorded are kept too (libgit2's
 * git_error_set, dbus-broker's error_origin).
 */
#ifndef QR_UTIL_ERROR_H
#define QR_UTIL_ERROR_H

#include <stdarg.h>

#include <qresync/common.h>
#include <qresync/error.h>

#define QR_ERR_MESSAGE_MAX   1024
#define QR_ERR_RESP_CODE_MAX 128
#define QR_ERR_RESP_TEXT_MAX 1024
#define QR_ERR_ORIGIN_MAX    160

typedef struct qr_errslot {
    qr_error pub;                         /* returned by qr_errslot_get() */
    char message[QR_ERR_MESSAGE_MAX];     /* pub.message points here */
    char resp_code[QR_ERR_RESP_CODE_MAX]; /* pub.resp_code points here when set */
    char resp_text[QR_ERR_RESP_TEXT_MAX]; /* pub.resp_text points here when set */
    char origin[QR_ERR_ORIGIN_MAX];       /* pub.origin points here when set */
} qr_errslot;

/* Empty slot: code QR_OK, message "". */
void qr_errslot_clear(qr_errslot *slot);
/* The public view; borrowed from the slot. */
const qr_error *qr_errslot_get(const qr_errslot *slot);

/*
 * Record code with a printf-style message; returns code so that callers can
 * write `return qr_err_set(&h->err, QR_EINVAL, "...")`. sys_errno, lib_code
 * and the response fields are reset to 0/NULL; set them afterwards with the
 * helpers below.
 */
int qr_errslot_set(qr_errslot *slot, const char *file, int line, const char *func, int code,
                   const char *fmt, ...) QR_PRINTF(6, 7);
int qr_errslot_vset(qr_errslot *slot, const char *file, int line, const char *func, int code,
                    const char *fmt, va_list ap) QR_PRINTF(6, 0);
/* Record the errno of a failed system call (and append ": strerror"). */
void qr_errslot_set_errno(qr_errslot *slot, int errnum);
/* Record the code of the library (GnuTLS, zlib, SQLite, GSASL) behind it. */
void qr_errslot_set_lib_code(qr_errslot *slot, int lib_code);
/* Record a server's response code (may be NULL) and text (may be NULL). */
void qr_errslot_set_resp(qr_errslot *slot, const char *resp_code, const char *resp_text);

#define qr_err_set(slot, code, ...)                                                                \
    qr_errslot_set((slot), __FILE__, __LINE__, __func__, (code), __VA_ARGS__)

#endif /* QR_UTIL_ERROR_H */
