/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file log.h
 * @brief The logging callback.
 *
 * The library never writes to stdout, stderr or a file. Each handle that has
 * something to say (a session's wire traffic, a warning about a server reply)
 * calls a log callback that the caller installs on it, with a level, a
 * category and one line of text. Lines never contain CR or LF; server text
 * is already escaped (control characters as `\xHH`), so a callback may write
 * it to a terminal as it is. Credentials are replaced by `<redacted>` unless
 * the caller asked for QR_LOG_TRACE on the handle.
 */
#ifndef QRESYNC_LOG_H
#define QRESYNC_LOG_H

#include <stddef.h>

#include <qresync/common.h>

QR_BEGIN_DECLS

/**
 * How important a log line is. A handle's threshold passes every line at or
 * below it (QR_LOG_ERROR is the most important).
 * @since 0.1
 */
typedef enum qr_log_level {
    QR_LOG_ERROR = 0,   /**< the operation failed; the same text is in qr_error */
    QR_LOG_WARNING = 1, /**< something odd the library worked around */
    QR_LOG_INFO = 2,    /**< what a user would want to know (e.g. an [ALERT]) */
    QR_LOG_DEBUG = 3,   /**< protocol traffic, secrets redacted */
    QR_LOG_TRACE = 4    /**< everything, secrets included (like --debug --debug) */
} qr_log_level;

/**
 * What a log line is about.
 * @since 0.1
 */
typedef enum qr_log_category {
    QR_LOG_EVENT = 0,   /**< a state change or a remark of the library */
    QR_LOG_WIRE_IN = 1, /**< bytes received, as one line (`S: ...` in the tools) */
    QR_LOG_WIRE_OUT = 2 /**< bytes sent, as one line (`C: ...` in the tools) */
} qr_log_category;

/**
 * A log callback.
 *
 * @param level    How important the line is.
 * @param category What the line is about.
 * @param text     The line, NUL-terminated, without a line ending.
 * @param len      strlen(text).
 * @param payload  The pointer given when the callback was installed.
 *
 * **Ownership:** `text` is borrowed for the duration of the call.
 * The callback must not call back into the handle that logs.
 * @since 0.1
 */
typedef void (*qr_log_fn)(qr_log_level level, qr_log_category category, const char *text,
                          size_t len, void *payload);

QR_END_DECLS

#endif /* QRESYNC_LOG_H */
