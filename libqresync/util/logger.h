/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_logger: the log callback, payload and threshold a handle carries.
 *
 * qr_log() formats a line, escapes it (util/text.h) so that no CR, LF or
 * other control character reaches the callback, and calls the callback if
 * the level passes the threshold. A handle without a callback logs nothing.
 * Lines longer than QR_LOG_LINE_MAX are cut and end with "...".
 */
#ifndef QR_UTIL_LOGGER_H
#define QR_UTIL_LOGGER_H

#include <stdarg.h>

#include <qresync/common.h>
#include <qresync/log.h>

#define QR_LOG_LINE_MAX 2048

typedef struct qr_logger {
    qr_log_fn fn;       /* callback, or NULL for silence */
    void *payload;      /* passed to fn, owned by the caller */
    qr_log_level level; /* lines above this level are dropped */
} qr_logger;

void qr_logger_init(qr_logger *lg, qr_log_fn fn, void *payload, qr_log_level level);
/* Whether a line of this level would reach the callback. */
int qr_logger_enabled(const qr_logger *lg, qr_log_level level);
void qr_log(const qr_logger *lg, qr_log_level level, qr_log_category cat, const char *fmt, ...)
    QR_PRINTF(4, 5);
void qr_vlog(const qr_logger *lg, qr_log_level level, qr_log_category cat, const char *fmt,
             va_list ap) QR_PRINTF(4, 0);

#endif /* QR_UTIL_LOGGER_H */
