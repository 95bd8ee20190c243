/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wirelog.c: trace lines (wirelog.h).
 *
 * The library marks every secret it leaves out of a wire line with
 * "<redacted>" (one marker per argument); the reference printed a whole
 * redacted command tail as one "[REDACTED]". The output is never longer
 * than the input plus the three bytes of a missing "C: " / "S: ".
 */
#include <stdlib.h>
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

/* *line with the token at [off, off+len) replaced by "xxx" (reallocated). */
static void put_xxx(char **line, size_t off, size_t len)
{
    size_t n = strlen(*line);
    char *r = qrt_xmalloc(n - len + 3 + 1);

    memcpy(r, *line, off);
    memcpy(r + off, "xxx", 3);
    memcpy(r + off + 3, *line + off + len, n - off - len + 1);
    free(*line);
    *line = r;
}

int qrt_wire_hide_auth(struct qrt_wire_auth *st, char **linep)
{
    char *line = *linep;
    size_t tl;

    if (strncmp(line, "C: ", 3) == 0 && strstr(line, "[REDACTED]") != NULL) {
        const char *tag = line + 3, *sp = strchr(tag, ' ');

        if (st->tag[0] != '\0' && (sp == NULL || sp == tag || tag[0] == '['))
            return 1; /* a continuation line of the exchange */
        if (sp == NULL || (size_t)(sp - tag) >= sizeof(st->tag))
            return 0;
        tl = (size_t)(sp - tag);
        memcpy(st->tag, tag, tl);
        st->tag[tl] = '\0';
        put_xxx(linep, 3, tl);
        return 0;
    }
    if (st->tag[0] == '\0')
        return 0;
    tl = strlen(st->tag);
    if (strncmp(line, "S: ", 3) == 0 && strncmp(line + 3, st->tag, tl) == 0 &&
        line[3 + tl] == ' ') {
        put_xxx(linep, 3, tl);
        st->tag[0] = '\0';
        return 0;
    }
    /* the SASL exchange between the command and its reply */
    if (strncmp(line, "S: + ", 5) == 0 || strcmp(line, "S: +") == 0 ||
        strncmp(line, "C: [", 4) == 0 || strncmp(line, "C: <", 4) == 0)
        return 1;
    return 0;
}
