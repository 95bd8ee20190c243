/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wirelog.c: trace lines (wirelog.h).
 *
 * The library marks every secret it leaves out of a wire line with
 * "<redacted>" (one marker per argument); the reference printed a whole
 * redacted command tail as one "[REDACTED]". The output is never longer
 * than the input plus the three bytes of a missing "C: " / "S: ".
 */
#include <string.h>

#include "wirelog.h"
#include "xalloc.h"

#define MARK     "<redacted>"
#define MARK_LEN (sizeof(MARK) - 1)

static int marker_at(const char *p, const char *end)
{
    return (size_t)(end - p) >= MARK_LEN && memcmp(p, MARK, MARK_LEN) == 0;
}

char *qrt_wire_text(qr_log_category category, const char *text, size_t len)
{
    const char *tag = category == QR_LOG_WIRE_OUT ? "C: " : "S: ";
    const char *p = text, *end = text + len;
    char *out, *q;

    if (category != QR_LOG_WIRE_OUT && category != QR_LOG_WIRE_IN)
        return qrt_xstrndup(text, len);
    out = q = qrt_xmalloc(len + 4);
    if (len < 3 || memcmp(text, tag, 3) != 0) {
        memcpy(q, tag, 3);
        q += 3;
    }
    while (p < end) {
        if (category != QR_LOG_WIRE_OUT || !marker_at(p, end)) {
            *q++ = *p++;
            continue;
        }
        /* One marker, then any " <redacted>" that follows it. */
        p += MARK_LEN;
        while (p < end && *p == ' ' && marker_at(p + 1, end))
            p += 1 + MARK_LEN;
        memcpy(q, "[REDACTED]", 10);
        q += 10;
    }
    *q = '\0';
    return out;
}
