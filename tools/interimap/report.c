/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * report.c: summary and progress texts (report.h). The traffic line of
 * each connection is tools/common/traffic.c's, shared with pullimap.
 *
 * The progress line is ours: a terminal only, never in the log file. The
 * engine calls back for every message; the line is redrawn at most every
 * IM_PROGRESS_INTERVAL_MS milliseconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"
#include "xalloc.h"

#define MIB 1048576.0

char *im_summary_text(const qr_sync_stats *s, double seconds)
{
    char *text = NULL;

    if (asprintf(&text,
                 "Summary: %llu mailboxes synced, %llu messages copied (local <- remote %llu, "
                 "local -> remote %llu, %.1f MiB), %llu flag updates, %llu expunged in %.2f s",
                 (unsigned long long)s->mailboxes,
                 (unsigned long long)(s->copied[0] + s->copied[1]),
                 (unsigned long long)s->copied[0], (unsigned long long)s->copied[1],
                 (double)(s->copied_bytes[0] + s->copied_bytes[1]) / MIB,
                 (unsigned long long)(s->flags_updated[0] + s->flags_updated[1]),
                 (unsigned long long)(s->expunged[0] + s->expunged[1]), seconds) < 0)
        qrt_oom();
    return text;
}

size_t im_progress_text(char *buf, size_t size, int dir, uint64_t done, uint64_t total,
                        uint64_t bytes, double rate)
{
    int n, k;

    if (total > 0 && total >= done)
        n = snprintf(buf, size, "%s: %llu/%llu msgs, %.1f MiB",
                     dir ? "local -> remote" : "local <- remote", (unsigned long long)done,
                     (unsigned long long)total, (double)bytes / MIB);
    else
        n = snprintf(buf, size, "%s: %llu msgs, %.1f MiB",
                     dir ? "local -> remote" : "local <- remote", (unsigned long long)done,
                     (double)bytes / MIB);
    if (n < 0 || (size_t)n >= size)
        return 0;
    if (rate >= 0) {
        k = snprintf(buf + n, size - (size_t)n, ", %.1f MiB/s", rate / MIB);
        if (k < 0 || (size_t)k >= size - (size_t)n)
            return (size_t)n;
        n += k;
    }
    return (size_t)n;
}

static long long monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void im_progress_init(struct im_progress *p, struct im_log *log)
{
    memset(p, 0, sizeof(*p));
    p->log = log;
    p->clock_ms = monotonic_ms;
    p->start_ms = -1;
    p->last_draw_ms = -1;
}

/* Follow the mailbox and the direction that moved. */
static void track(struct im_progress *p, const qr_sync_stats *st, const char *mailbox)
{
    int same = (mailbox == NULL && p->mailbox == NULL) ||
               (mailbox != NULL && p->mailbox != NULL && strcmp(mailbox, p->mailbox) == 0);

    if (!same) {
        free(p->mailbox);
        p->mailbox = mailbox ? qrt_xstrdup(mailbox) : NULL;
        p->base[0] = p->last[0];
        p->base[1] = p->last[1];
    }
    for (int i = 0; i < 2; i++) {
        if (st->copied[i] != p->last[i])
            p->moved[i] = 1;
    }
    p->last[0] = st->copied[0];
    p->last[1] = st->copied[1];
}

void im_progress_cb(const qr_sync_stats *st, const char *mailbox, void *payload)
{
    struct im_progress *p = payload;
    long long now = p->clock_ms();
    uint64_t bytes = st->copied_bytes[0] + st->copied_bytes[1];
    double rate = -1;
    char line[128];
    int d;

    if (p->start_ms < 0) {
        p->start_ms = now;
        p->start_bytes = bytes;
    }
    track(p, st, mailbox);
    if (p->last_draw_ms >= 0 && now - p->last_draw_ms < IM_PROGRESS_INTERVAL_MS)
        return;
    if (now - p->start_ms >= 1000)
        rate = (double)(bytes - p->start_bytes) * 1000.0 / (double)(now - p->start_ms);
    /* Keep the direction shown while it moves: no flicker when both do. */
    if (!p->moved[p->dir] && p->moved[!p->dir])
        p->dir = !p->dir;
    p->moved[0] = p->moved[1] = 0;
    d = p->dir;
    if (im_progress_text(line, sizeof(line), d, st->copied[d] - p->base[d], st->to_copy,
                         st->copied_bytes[d], rate) > 0)
        im_log_status(p->log, line);
    p->last_draw_ms = now;
}

void im_progress_done(struct im_progress *p)
{
    if (p->log != NULL)
        im_log_status(p->log, NULL);
    free(p->mailbox);
    p->mailbox = NULL;
}
