/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * report.h: what interimap says about a run besides the engine's lines:
 * the end-of-run summary and the copy progress on a terminal (ours). The
 * traffic statistics of each connection (imap-client.md §11.3) are
 * tools/common/traffic.h's.
 */
#ifndef IM_REPORT_H
#define IM_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/sync.h>

#include "log.h"

/**
 * "Summary: N mailboxes synced, M messages copied (local <- remote A,
 * local -> remote B, X.X MiB), F flag updates, E expunged in T.TT s".
 * Returns an owned string.
 */
char *im_summary_text(const qr_sync_stats *s, double seconds);

/**
 * One progress line: "local <- remote: DONE/TOTAL msgs, X.X MiB, R.R MiB/s"
 * (dir 0; dir 1 is "local -> remote"); "DONE msgs" when total is 0 or
 * smaller than done; no rate part when rate < 0. Returns its length.
 */
size_t im_progress_text(char *buf, size_t size, int dir, uint64_t done, uint64_t total,
                        uint64_t bytes, double rate);

/** The copy progress shown on the sink's status line. */
struct im_progress {
    struct im_log *log;          /* where the line is drawn */
    long long (*clock_ms)(void); /* monotonic milliseconds (tests fix it) */
    long long start_ms;          /* time of the first report, -1 before it */
    long long last_draw_ms;      /* time of the last drawing, -1 before it */
    uint64_t start_bytes;        /* bytes copied (both ways) at the first report */
    uint64_t last[2];            /* stats->copied at the previous report */
    uint64_t base[2];            /* stats->copied when the current mailbox started */
    char *mailbox;               /* the current mailbox, owned, or NULL */
    int moved[2];                /* stats->copied[i] changed since the last drawing */
    int dir;                     /* direction shown: 0 to local, 1 to remote */
};

/** Redraw at most this often. */
#define IM_PROGRESS_INTERVAL_MS 200

void im_progress_init(struct im_progress *p, struct im_log *log);

/**
 * qr_sync_progress_fn; payload is the struct im_progress. The direction
 * shown changes only when the other one moved since the last drawing and
 * the shown one did not. DONE counts the messages copied that way in the
 * current mailbox, TOTAL is stats->to_copy, X the bytes copied that way
 * during the pass, R the average rate of all copies since the first
 * report (shown after one second).
 */
void im_progress_cb(const qr_sync_stats *stats, const char *mailbox, void *payload);

/** Erase the line and free what p holds. */
void im_progress_done(struct im_progress *p);

#endif /* IM_REPORT_H */
