/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c: pullimap's message sink (log.h).
 *
 * A line is built in memory (prefix, text, "\n") and written with one
 * write(2), retried after EINTR, so that a line is never cut by another
 * process writing to the same terminal or journal and nothing waits in a
 * stdio buffer when the program is killed. Write errors are ignored: a
 * closed stderr must not stop mail delivery (SIGPIPE is ignored by
 * main.c).
 *
 * The prefix is rendered per line by tools/common/logprefix.c: the
 * reference fixed pullimap's format (no `log-prefix` key), only %n and %m
 * vary. The mailbox name comes from the configuration, which allows any
 * byte 0x01-0x7F, so its control bytes are escaped before they reach the
 * terminal; the library's own lines are already escaped (log.h of the
 * library), server text that this program prints itself goes through
 * pl_log_clean().
 */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "fdwrite.h"
#include "log.h"
#include "wirelog.h"
#include "xalloc.h"

void pl_log_progress(struct pl_log *lg, uint64_t bytes, long long now_ms)
{
    char text[160];
    double secs;

    if (!lg->progress)
        return;
    if (lg->p_start_ms < 0)
        lg->p_start_ms = now_ms;
    lg->p_done++;
    lg->p_bytes += bytes;
    if (lg->p_last_ms >= 0 && now_ms - lg->p_last_ms < 200)
        return;
    lg->p_last_ms = now_ms;
    secs = (double)(now_ms - lg->p_start_ms) / 1000.0;
    if (secs >= 1.0)
        snprintf(text, sizeof(text), "%s: delivered %llu msgs, %.1f MiB, %.1f MiB/s", lg->section,
                 (unsigned long long)lg->p_done, (double)lg->p_bytes / 1048576.0,
                 (double)lg->p_bytes / 1048576.0 / secs);
    else
        snprintf(text, sizeof(text), "%s: delivered %llu msgs, %.1f MiB", lg->section,
                 (unsigned long long)lg->p_done, (double)lg->p_bytes / 1048576.0);
    qrt_status_draw(&lg->status, text);
}

void pl_log_progress_done(struct pl_log *lg)
{
    qrt_status_draw(&lg->status, NULL);
    lg->p_done = lg->p_bytes = 0;
    lg->p_start_ms = lg->p_last_ms = -1;
}

void pl_log_init(struct pl_log *lg, const char *section, int quiet, int debug, int fd)
{
    memset(lg, 0, sizeof(*lg));
    lg->status.fd = fd;
    lg->progress = !quiet && !debug && isatty(fd);
    lg->p_start_ms = lg->p_last_ms = -1;
    lg->prefix = qrt_logprefix_new(QRT_LOGPREFIX_DEFAULT);
    lg->section = section;
    lg->quiet = quiet;
    lg->debug = debug;
    lg->fd = fd;
}

static void held_clear(struct pl_log *lg)
{
    free(lg->held_mailbox);
    free(lg->held_text);
    lg->held_mailbox = lg->held_text = NULL;
}

void pl_log_close(struct pl_log *lg)
{
    held_clear(lg);
    lg->holding = 0;
    qrt_logprefix_free(lg->prefix);
    lg->prefix = NULL;
}

char *pl_log_clean(const char *s, size_t n)
{
    char *out = qrt_xmalloc(4 * n + 1), *q = out;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '\r' && i + 1 < n && s[i + 1] == '\n')
            continue; /* the LF that follows becomes the space */
        if (c == '\n' || c == '\r')
            *q++ = ' ';
        else if (c < 0x20 || c == 0x7f)
            q += sprintf(q, "\\x%02x", c);
        else
            *q++ = (char)c;
    }
    *q = '\0';
    return out;
}

/* PREFIX(section, mailbox) TEXT, or TEXT alone when !prefixed. */
static void emit(struct pl_log *lg, int prefixed, const char *mailbox, const char *text)
{
    char *prefix = NULL, *mbx = NULL, *line;
    size_t plen = 0, tlen = strlen(text);

    if (prefixed) {
        if (mailbox != NULL)
            mbx = pl_log_clean(mailbox, strlen(mailbox));
        prefix = qrt_logprefix_render(lg->prefix, lg->section, mbx);
        plen = strlen(prefix);
    }
    qrt_status_draw(&lg->status, NULL);
    line = qrt_xmalloc(plen + tlen + 1);
    if (plen > 0)
        memcpy(line, prefix, plen);
    memcpy(line + plen, text, tlen);
    line[plen + tlen] = '\n';
    qrt_write_all(lg->fd, line, plen + tlen + 1);
    free(line);
    free(prefix);
    free(mbx);
}

/* text without a leading "LEVEL: " that the library may have put there. */
static const char *strip_level(const char *text, const char *level)
{
    size_t n = strlen(level);

    return strncmp(text, level, n) == 0 && text[n] == ':' && text[n + 1] == ' ' ? text + n + 2
                                                                                : text;
}

/* `LEVEL: TEXT` with or without the prefix. */
static void emit_level(struct pl_log *lg, int prefixed, const char *mailbox, const char *level,
                       const char *text)
{
    char *line = NULL;

    if (asprintf(&line, "%s: %s", level, strip_level(text, level)) < 0)
        qrt_oom();
    emit(lg, prefixed, mailbox, line);
    free(line);
}

static const char *selected(const struct pl_log *lg)
{
    return lg->selected ? lg->selected(lg->selected_arg) : NULL;
}

void pl_log_write(struct pl_log *lg, unsigned flags, const char *text)
{
    if ((flags & PL_LOG_QUIET) && lg->quiet)
        return;
    emit(lg, !(flags & PL_LOG_NOPREFIX), (flags & PL_LOG_MAILBOX) ? selected(lg) : NULL, text);
}

void pl_log_printf(struct pl_log *lg, unsigned flags, const char *fmt, ...)
{
    char *text = NULL;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        qrt_oom();
    pl_log_write(lg, flags, text);
    free(text);
}

void pl_log_hold(struct pl_log *lg)
{
    lg->holding = 1;
}

int pl_log_release(struct pl_log *lg, enum pl_release how)
{
    int had = lg->held_text != NULL;

    lg->holding = 0;
    if (had && how == PL_RELEASE_DIE)
        emit(lg, 0, NULL, lg->held_text);
    else if (had && how == PL_RELEASE_ERROR)
        emit_level(lg, 1, lg->held_mailbox, "ERROR", lg->held_text);
    held_clear(lg);
    return had;
}

/* Keep the engine's first ERROR line (it reports its first failure only). */
static void hold_line(struct pl_log *lg, const char *text)
{
    const char *mbx = selected(lg);

    if (lg->held_text != NULL)
        return;
    lg->held_mailbox = mbx ? qrt_xstrdup(mbx) : NULL;
    lg->held_text = qrt_xstrdup(strip_level(text, "ERROR"));
}

void pl_log_pull_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload)
{
    struct pl_log *lg = payload;
    char *line = qrt_wire_text(category, text, len);

    if (level == QR_LOG_ERROR && lg->holding)
        hold_line(lg, line);
    else if (level == QR_LOG_ERROR)
        emit_level(lg, 1, selected(lg), "ERROR", line);
    else if (level == QR_LOG_WARNING)
        emit_level(lg, 1, selected(lg), "WARNING", line);
    else
        pl_log_write(lg, PL_LOG_MAILBOX | (level == QR_LOG_INFO ? PL_LOG_QUIET : 0), line);
    free(line);
}

/*
 * A line of a connection: wire lines with the prefix when wire_prefixed
 * (IMAP) or without (SMTP/LMTP, as the reference); ERROR events only with
 * --debug, without prefix for SMTP; WARNING events with the prefix; the
 * rest (INFO such as an [ALERT], DEBUG) as wire lines.
 */
static void conn_line(struct pl_log *lg, qr_log_level level, qr_log_category category,
                      const char *text, size_t len, int wire_prefixed)
{
    int event = category == QR_LOG_EVENT;
    char *line;

    if (event && level == QR_LOG_ERROR && !lg->debug)
        return;
    line = qrt_wire_text(category, text, len);
    if (!event && wire_prefixed && qrt_wire_hide_auth(&lg->auth, &line)) {
        free(line);
        return;
    }
    if (event && level == QR_LOG_ERROR)
        emit_level(lg, wire_prefixed, wire_prefixed ? selected(lg) : NULL, "ERROR", line);
    else if (event && level == QR_LOG_WARNING)
        emit_level(lg, 1, selected(lg), "WARNING", line);
    else
        emit(lg, wire_prefixed, wire_prefixed ? selected(lg) : NULL, line);
    free(line);
}

void pl_log_conn_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload)
{
    conn_line(payload, level, category, text, len, 1);
}

void pl_log_smtp_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload)
{
    conn_line(payload, level, category, text, len, 0);
}

char *pl_summary_text(const struct pl_summary *s)
{
    char *text = NULL;
    int n;

    if (s->no_delivery)
        n = asprintf(&text, "Summary: %llu messages marked without delivery, %llu purged in %.2f s",
                     (unsigned long long)s->delivered, (unsigned long long)s->purged, s->seconds);
    else
        n = asprintf(&text,
                     "Summary: %llu messages delivered (%.1f MiB), %llu deferred, %llu purged "
                     "in %.2f s",
                     (unsigned long long)s->delivered, (double)s->bytes / 1048576.0,
                     (unsigned long long)s->deferred, (unsigned long long)s->purged, s->seconds);
    if (n < 0)
        qrt_oom();
    return text;
}
