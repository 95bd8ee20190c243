/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-handle logging (see util/logger.h). Formatting and escaping use
 * fixed stack buffers, so logging never allocates and never fails.
 */
#include "config.h"

#include "util/logger.h"

#include <stdio.h>
#include <string.h>

#include "util/text.h"

void qr_logger_init(qr_logger *lg, qr_log_fn fn, void *payload, qr_log_level level)
{
    lg->fn = fn;
    lg->payload = payload;
    lg->level = level;
}

int qr_logger_enabled(const qr_logger *lg, qr_log_level level)
{
    return lg->fn != NULL && level <= lg->level;
}

void qr_vlog(const qr_logger *lg, qr_log_level level, qr_log_category cat, const char *fmt,
             va_list ap)
{
    char raw[QR_LOG_LINE_MAX];
    char line[QR_LOG_LINE_MAX];
    size_t rawlen, len;
    int n;

    if (!qr_logger_enabled(lg, level))
        return;
    n = vsnprintf(raw, sizeof(raw), fmt, ap);
    if (n < 0)
        return;
    rawlen = (size_t)n < sizeof(raw) ? (size_t)n : sizeof(raw) - 1;
    len = qr_text_escape(line, sizeof(line), raw, rawlen);
    if ((size_t)n >= sizeof(raw) && len + 3 < sizeof(line) &&
        (len < 3 || memcmp(line + len - 3, "...", 3) != 0)) {
        memcpy(line + len, "...", 4);
        len += 3;
    }
    lg->fn(level, cat, line, len, lg->payload);
}

void qr_log(const qr_logger *lg, qr_log_level level, qr_log_category cat, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qr_vlog(lg, level, cat, fmt, ap);
    va_end(ap);
}
