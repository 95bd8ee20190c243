/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c: interimap's log sink (log.h).
 *
 * Every line is assembled in memory and written with one write(2) per
 * destination, so a line is never interleaved with another process's
 * output in an O_APPEND log file and nothing sits in a stdio buffer when
 * the program is killed. Write errors are ignored on purpose (SIGPIPE is
 * ignored by main.c; a closed stderr must not stop a synchronisation).
 *
 * Mapping of the library's lines:
 *
 *   qr_sync lines  DEBUG -> IM_DEBUG; ERROR, WARNING, INFO -> IM_LOG; the
 *                  text is final ("WARNING: ..." included); the component
 *                  gives %n, the line's mailbox %m; QR_SYNC_LOG_QUIET is
 *                  honoured under --quiet.
 *   qr_conn lines  the connection's name gives %n and the mailbox
 *                  selected on that side (qr_sync_selected(), through the
 *                  side's getter) %m. Wire lines: IM_DEBUG, through
 *                  qrt_wire_text() (tools/common/wirelog.h: "C: " / "S: "
 *                  in front, secrets "[REDACTED]"); DEBUG/TRACE events:
 *                  IM_DEBUG; INFO (an [ALERT]): IM_LOG, never quiet, as
 *                  the reference; WARNING: IM_LOG "WARNING: TEXT"; ERROR:
 *                  IM_DEBUG "ERROR: TEXT" (the engine logs the failure
 *                  itself, with its component, so printing it here too
 *                  would show it twice; without --debug it is dropped).
 *
 * Held lines (im_log_hold): the engine's ERROR lines are kept aside while
 * a call runs; main.c drops them when the failure is a lost connection it
 * reconnects after (its own WARNING says why) or the cancellation a
 * signal asked for, else prints them. An IM_LOG line written meanwhile
 * prints them first; debug lines do not (a trace line arriving after the
 * failure must not force the ERROR out).
 *
 * Reopening (SIGHUP in watch mode): the handler only sets lg->reopen;
 * the file is opened again by its path before the next line is written
 * (and between passes), never inside the handler.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "exitcodes.h"
#include "fdwrite.h"
#include "log.h"
#include "wirelog.h"
#include "xalloc.h"

/** One line held back by im_log_hold(). */
struct im_log_held {
    enum im_channel ch;
    unsigned flags;
    const char *name; /* static: im_log_component_name() */
    char *mailbox;    /* owned, or NULL */
    char *text;       /* owned */
};

static void default_clock(struct timeval *now)
{
    gettimeofday(now, NULL);
}

void im_log_init(struct im_log *lg, const char *prefix_format, int quiet, int err_fd)
{
    memset(lg, 0, sizeof(*lg));
    lg->prefix = qrt_logprefix_new(prefix_format ? prefix_format : QRT_LOGPREFIX_DEFAULT);
    lg->err_fd = err_fd;
    lg->file_fd = -1;
    lg->quiet = quiet;
    lg->clock = default_clock;
}

int im_log_open_file(struct im_log *lg, const char *path, struct qrt_err *err)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);

    if (fd < 0)
        return qrt_err_set(err, QRT_EXIT_FATAL, "Can't open %s: %s", path, strerror(errno));
    if (lg->file_fd >= 0)
        close(lg->file_fd);
    lg->file_fd = fd;
    if (lg->path != path) {
        free(lg->path);
        lg->path = qrt_xstrdup(path);
    }
    return 0;
}

void im_log_reopen_pending(struct im_log *lg)
{
    struct qrt_err err = QRT_ERR_INIT;

    if (!lg->reopen)
        return;
    lg->reopen = 0;
    if (lg->path == NULL)
        return;
    if (im_log_open_file(lg, lg->path, &err) < 0) {
        im_log_printf(lg, IM_LOG, 0, NULL, NULL, "WARNING: %s", err.msg);
        qrt_err_clear(&err);
    }
}

static void held_free(struct im_log *lg)
{
    for (size_t i = 0; i < lg->n_held; i++) {
        free(lg->held[i].mailbox);
        free(lg->held[i].text);
    }
    free(lg->held);
    lg->held = NULL;
    lg->n_held = 0;
}

void im_log_hold(struct im_log *lg)
{
    lg->holding = 1;
}

/* Print the held lines (they stay held no more). */
static void held_flush(struct im_log *lg)
{
    size_t n = lg->n_held;
    struct im_log_held *h = lg->held;

    lg->held = NULL;
    lg->n_held = 0;
    for (size_t i = 0; i < n; i++) {
        im_log_write(lg, h[i].ch, h[i].flags, h[i].name, h[i].mailbox, h[i].text);
        free(h[i].mailbox);
        free(h[i].text);
    }
    free(h);
}

void im_log_release(struct im_log *lg, int print)
{
    lg->holding = 0;
    if (print)
        held_flush(lg);
    else
        held_free(lg);
}

void im_log_close(struct im_log *lg)
{
    im_log_status(lg, NULL);
    held_free(lg);
    lg->holding = 0;
    if (lg->file_fd >= 0)
        close(lg->file_fd);
    lg->file_fd = -1;
    free(lg->path);
    lg->path = NULL;
    qrt_logprefix_free(lg->prefix);
    lg->prefix = NULL;
}

size_t im_log_timestamp(char *buf, size_t size, const struct timeval *tv)
{
    struct tm tm;
    time_t t = tv->tv_sec;
    size_t n;
    int k;

    if (localtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    n = strftime(buf, size, "%b %e %H:%M:%S", &tm);
    if (n == 0)
        return 0;
    k = snprintf(buf + n, size - n, ".%ld", (long)tv->tv_usec);
    if (k < 0 || (size_t)k >= size - n)
        return 0;
    return n + (size_t)k;
}

/* A copy of s with bytes 0x00-0x1F and 0x7F written \xHH. */
static char *escape_controls(const char *s)
{
    size_t n = 0;
    char *out, *q;

    for (const char *p = s; *p != '\0'; p++)
        n += ((unsigned char)*p < 0x20 || *p == 0x7f) ? 4 : 1;
    out = q = qrt_xmalloc(n + 1);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f)
            q += sprintf(q, "\\x%02x", *p);
        else
            *q++ = (char)*p;
    }
    *q = '\0';
    return out;
}

static void to_stderr(struct im_log *lg, const char *line, size_t len)
{
    im_log_status(lg, NULL);
    qrt_write_all(lg->err_fd, line, len);
}

static void to_file(struct im_log *lg, const char *line, size_t len)
{
    char ts[64];
    struct timeval now;
    size_t n;
    char *buf;

    lg->clock(&now);
    n = im_log_timestamp(ts, sizeof(ts), &now);
    buf = qrt_xmalloc(n + 1 + len);
    memcpy(buf, ts, n);
    buf[n] = ' ';
    memcpy(buf + n + 1, line, len);
    qrt_write_all(lg->file_fd, buf, n + 1 + len);
    free(buf);
}

void im_log_write(struct im_log *lg, enum im_channel ch, unsigned flags, const char *name,
                  const char *mailbox, const char *text)
{
    char *mbx, *prefix, *line;
    size_t plen, tlen;

    im_log_reopen_pending(lg);
    if (ch == IM_LOG && lg->n_held > 0)
        held_flush(lg);
    mbx = mailbox ? escape_controls(mailbox) : NULL;
    prefix = qrt_logprefix_render(lg->prefix, name, mbx);
    plen = strlen(prefix);
    tlen = strlen(text);
    free(mbx);
    if ((flags & IM_LOG_QUIET) && lg->quiet) {
        free(prefix);
        return;
    }
    line = qrt_xmalloc(plen + tlen + 2);
    memcpy(line, prefix, plen);
    memcpy(line + plen, text, tlen);
    line[plen + tlen] = '\n';
    line[plen + tlen + 1] = '\0';
    if (lg->file_fd >= 0)
        to_file(lg, line, plen + tlen + 1);
    if (ch == IM_LOG || lg->file_fd < 0)
        to_stderr(lg, line, plen + tlen + 1);
    free(line);
    free(prefix);
}

void im_log_printf(struct im_log *lg, enum im_channel ch, unsigned flags, const char *name,
                   const char *mailbox, const char *fmt, ...)
{
    va_list ap;
    char *text = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0)
        qrt_oom();
    im_log_write(lg, ch, flags, name, mailbox, text);
    free(text);
}

void im_log_status(struct im_log *lg, const char *text)
{
    lg->status.fd = lg->err_fd;
    qrt_status_draw(&lg->status, text);
}

const char *im_log_component_name(qr_sync_component c)
{
    switch (c) {
    case QR_SYNC_COMP_LOCAL:
        return "local";
    case QR_SYNC_COMP_REMOTE:
        return "remote";
    case QR_SYNC_COMP_DATABASE:
        return "database";
    case QR_SYNC_COMP_NONE:
        break;
    }
    return NULL;
}

void im_log_sync_cb(const qr_sync_log_line *line, void *payload)
{
    struct im_log *lg = payload;
    char *text = qrt_xstrndup(line->text, line->len);
    enum im_channel ch = line->level >= QR_LOG_DEBUG ? IM_DEBUG : IM_LOG;
    unsigned flags = (line->flags & QR_SYNC_LOG_QUIET) ? IM_LOG_QUIET : 0;

    if (lg->holding && line->level == QR_LOG_ERROR) {
        struct im_log_held *h;

        lg->held = qrt_xreallocarray(lg->held, lg->n_held + 1, sizeof(*lg->held));
        h = &lg->held[lg->n_held++];
        h->ch = ch;
        h->flags = flags;
        h->name = im_log_component_name(line->component);
        h->mailbox = line->mailbox ? qrt_xstrdup(line->mailbox) : NULL;
        h->text = text;
        return;
    }
    im_log_write(lg, ch, flags, im_log_component_name(line->component), line->mailbox, text);
    free(text);
}

void im_log_conn_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload)
{
    struct im_log_side *side = payload;
    const char *mailbox;
    char *line;

    if (category == QR_LOG_EVENT && level == QR_LOG_ERROR && !side->debug)
        return;
    mailbox = side->selected ? side->selected(side->selected_arg) : NULL;
    if (category != QR_LOG_EVENT) {
        line = qrt_wire_text(category, text, len);
        if (qrt_wire_hide_auth(&side->auth, &line)) {
            free(line);
            return;
        }
    } else if (level <= QR_LOG_WARNING) {
        if (asprintf(&line, "%s: %.*s", level == QR_LOG_ERROR ? "ERROR" : "WARNING", (int)len,
                     text) < 0)
            qrt_oom();
    } else {
        line = qrt_xstrndup(text, len);
    }
    im_log_write(side->log,
                 (category == QR_LOG_EVENT && (level == QR_LOG_INFO || level == QR_LOG_WARNING))
                     ? IM_LOG
                     : IM_DEBUG,
                 0, side->name, mailbox, line);
    free(line);
}
