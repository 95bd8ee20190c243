/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Wire lines of a session's log, at QR_LOG_DEBUG.
 *
 *   C: A1 LOGIN joe <redacted>        one line per command, when it starts,
 *                                     rendered by the command builder
 *                                     (qr_cmd_render): literals show as their
 *                                     announcement `{N}` / `{N+}`, never their
 *                                     bytes; secret arguments are redacted
 *                                     unless the logger's level is TRACE
 *                                     (the reference's --debug --debug);
 *   S: * OK [CAPABILITY ...] ready    one line per server line, assembled
 *                                     from the parser's on_wire pieces, CRLF
 *                                     removed; after a literal the rest of
 *                                     the line shows as `S: [...]REST` (spec
 *                                     §8.1), the literal bytes never appear.
 * qr_log() escapes control characters and invalid UTF-8, so server text
 * cannot forge log lines. A server line longer than QR_SESSION_WIRE_LINE
 * is cut and ends with "...". Logging never fails the session: when memory
 * runs out the line is dropped.
 */
#include "config.h"

#include <string.h>

#include "session/session_p.h"

/* Whether the line ends with a literal announcement {N} (or ~{N}). */
static int ends_with_literal(const char *p, size_t len)
{
    size_t i;

    if (len < 3 || p[len - 1] != '}')
        return 0;
    i = len - 1;
    if (i > 0 && p[i - 1] == '+')
        i--;
    while (i > 0 && p[i - 1] >= '0' && p[i - 1] <= '9')
        i--;
    return i > 0 && i < len - 1 && p[i - 1] == '{';
}

static void emit_in(qr_session *s)
{
    const char *p = qr_dynbuf_str(&s->wire_in);
    size_t len = s->wire_in.len;

    if (len > 0 && p[len - 1] == '\n')
        len--;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: %s%.*s%s",
           s->wire_after_literal ? "[...]" : "", (int)len, p, s->wire_in_cut ? "..." : "");
    s->wire_after_literal = !s->wire_in_cut && ends_with_literal(p, len);
    s->wire_in_cut = 0;
    qr_dynbuf_reset(&s->wire_in);
}

void qr_slog_wire_in(qr_session *s, const char *bytes, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(bytes, '\n', len);
        size_t take = nl ? (size_t)(nl - bytes) + 1 : len;
        size_t room = s->wire_in.max - s->wire_in.len;

        if (take > room)
            s->wire_in_cut = 1;
        if (qr_dynbuf_add(&s->wire_in, bytes, take > room ? room : take) < 0)
            s->wire_in_cut = 1;
        if (nl != NULL)
            emit_in(s);
        bytes += take;
        len -= take;
    }
}

/* Length of a literal announcement `{N}`, `{N+}` or `~{N}` at p, followed by
 * a space or the end, else 0. */
static size_t literal_at(const char *p)
{
    const char *q = p;

    if (*q == '~')
        q++;
    if (*q++ != '{' || *q < '0' || *q > '9')
        return 0;
    while (*q >= '0' && *q <= '9')
        q++;
    if (*q == '+')
        q++;
    if (*q++ != '}' || (*q != ' ' && *q != '\0'))
        return 0;
    return (size_t)(q - p);
}

/*
 * Log a command line as the reference does: a line per literal, the text
 * after each literal on a line of its own starting with `[...]`
 * (`C: A1 APPEND INBOX () {33+}`, `C: [...] (\Seen) {20+}`, `C: [...]`).
 * Announcements inside quoted strings are not literals.
 */
static void log_out_pieces(qr_session *s, const char *line)
{
    const char *start = line, *p = line;
    int quoted = 0, first = 1;

    while (*p != '\0') {
        size_t n;

        if (quoted) {
            if (*p == '\\' && p[1] != '\0')
                p++;
            else if (*p == '"')
                quoted = 0;
            p++;
            continue;
        }
        if (*p == '"') {
            quoted = 1;
            p++;
            continue;
        }
        n = (*p == '{' || *p == '~') ? literal_at(p) : 0;
        if (n == 0) {
            p++;
            continue;
        }
        p += n;
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: %s%.*s", first ? "" : "[...]",
               (int)(p - start), start);
        first = 0;
        start = p;
    }
    if (first)
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: %s", line);
    else
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: [...]%s", start);
}

void qr_slog_wire_out(qr_session *s, const qr_scmd *c)
{
    qr_buf line = QR_BUF_INIT;
    qr_log_level level = qr_logger_enabled(&s->log, QR_LOG_TRACE) ? QR_LOG_TRACE : QR_LOG_DEBUG;

    if (!qr_logger_enabled(&s->log, QR_LOG_DEBUG))
        return;
    if (qr_cmd_render(c->cmd, c->tag, qr_queue_literal_mode(s), level, &line) == 0)
        log_out_pieces(s, line.ptr ? line.ptr : "");
    qr_buf_dispose(&line);
}
