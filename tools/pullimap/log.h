/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h: pullimap's messages (pullimap.md §4.1 step 2, §5.3, §9).
 *
 * pullimap has no log file: every line goes to stderr, written whole with
 * one write(2). Lines about the IMAP side carry the reference's fixed
 * prefix `%?n?%?m?%n(%m)&%n?: ?` with %n the SECTION and %m the mailbox
 * the pull has selected (control bytes written \xHH), so they read
 * `acct: ...` or `acct(INBOX): ...`; the SMTP/LMTP trace lines (`C: ...`,
 * `S: ...`) and the "die" messages (state file, configuration) have no
 * prefix.
 *
 * The callbacks turn the library's lines into these:
 *
 *   pl_log_pull_cb   (qr_pull) INFO lines such as `UID U from <S> (DATE)`
 *                    and `Removing N UID(s) SET`, dropped by --quiet;
 *                    WARNING as `WARNING: TEXT`; DEBUG lines with --debug;
 *                    its ERROR line is held back (pl_log_hold) so that
 *                    main.c decides how they show: as `ERROR: TEXT` with
 *                    the prefix, as a die message without it, or not at
 *                    all (a lost connection it cures, the cancellation a
 *                    signal asked for, a delivery failure already said);
 *   pl_log_conn_cb   (qr_conn) wire lines with the prefix (client lines
 *                    with their secrets as `[REDACTED]`, wirelog.h);
 *                    INFO (an [ALERT]) always; WARNING as `WARNING: `;
 *                    ERROR only with --debug, because the pull reports
 *                    the failure itself;
 *   pl_log_smtp_cb   (qr_smtp) wire lines without the prefix, as the
 *                    reference; WARNING with the prefix; ERROR only with
 *                    --debug (deliver.c reports delivery failures).
 */
#ifndef PL_LOG_H
#define PL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/log.h>

#include "logprefix.h"
#include "statusline.h"
#include "wirelog.h"

/** pl_log_write() flags. */
#define PL_LOG_QUIET    0x1u /* dropped under --quiet */
#define PL_LOG_MAILBOX  0x2u /* %m is the selected mailbox (else none) */
#define PL_LOG_NOPREFIX 0x4u /* no prefix at all */

/** How pl_log_release() shows the held ERROR line. */
enum pl_release {
    PL_RELEASE_ERROR, /* `PREFIX ERROR: TEXT` */
    PL_RELEASE_DIE,   /* `TEXT`, no prefix (state file, environment) */
    PL_RELEASE_DROP,  /* not at all */
};

/** The mailbox currently selected (the %m of IMAP lines), or NULL. */
typedef const char *(*pl_log_selected_fn)(void *arg);

/** The sink. */
struct pl_log {
    struct qrt_logprefix *prefix; /* the fixed format, owned */
    const char *section;          /* %n: the SECTION argument (borrowed) */
    int quiet;                    /* --quiet */
    int debug;                    /* number of --debug */
    int fd;                       /* where lines go (stderr; a test's file) */
    pl_log_selected_fn selected;  /* %m getter, or NULL */
    void *selected_arg;           /* passed to selected */
    int holding;                  /* pl_log_hold() in effect */
    char *held_text;              /* the held line without "ERROR: ", owned, or NULL */
    char *held_mailbox;           /* %m when it was logged, owned, or NULL */
    struct qrt_wire_auth auth;    /* the reference's `xxx` tag of a redacted IMAP login */
    struct qrt_status status;     /* the progress line (a terminal, not --quiet/--debug) */
    int progress;                 /* draw it */
    uint64_t p_done, p_bytes;     /* delivered since the progress started */
    long long p_start_ms;         /* monotonic ms of the first delivery, -1 */
    long long p_last_ms;          /* last drawing, -1 */
};

/** Prepare a sink writing to fd. */
void pl_log_init(struct pl_log *lg, const char *section, int quiet, int debug, int fd);

/**
 * The progress line (as interimap's): after each delivered message,
 * `SECTION: delivered N msgs, X.X MiB, R.R MiB/s`, redrawn at most five
 * times a second on a terminal; other lines erase it first.
 */
void pl_log_progress(struct pl_log *lg, uint64_t bytes, long long now_ms);
/** Erase the progress line (end of a pull). */
void pl_log_progress_done(struct pl_log *lg);

/** Drop the held line and free what the sink holds. */
void pl_log_close(struct pl_log *lg);

/** Write PREFIX TEXT (see the flags) as one line. Write errors are ignored. */
void pl_log_write(struct pl_log *lg, unsigned flags, const char *text);

/** pl_log_write() with a printf format. */
void pl_log_printf(struct pl_log *lg, unsigned flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Hold back the pull's ERROR line from now on, until pl_log_release().
 * The engine reports only its first failure; should more lines come, the
 * first one is kept.
 */
void pl_log_hold(struct pl_log *lg);

/** Stop holding; show the held line as `how` says. Returns 1 if there was one, else 0. */
int pl_log_release(struct pl_log *lg, enum pl_release how);

/**
 * A copy of n bytes of s fit for one log line: CR LF and LF become a
 * space, other control bytes and DEL \xHH. Returns an owned string.
 */
char *pl_log_clean(const char *s, size_t n);

/** qr_log_fn of the pull; payload is the struct pl_log. */
void pl_log_pull_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload);

/** qr_log_fn of the IMAP connection; payload is the struct pl_log. */
void pl_log_conn_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload);

/** qr_log_fn of the SMTP/LMTP client; payload is the struct pl_log. */
void pl_log_smtp_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload);

/** What one run or one IDLE cycle did, for the summary line. */
struct pl_summary {
    uint64_t delivered; /* messages delivered (recorded with --no-delivery) */
    uint64_t bytes;     /* their bytes */
    uint64_t deferred;  /* temporary failures */
    uint64_t purged;    /* messages expunged by purge-after */
    double seconds;     /* how long it took */
    int no_delivery;    /* --no-delivery: nothing was handed to the server */
};

/**
 * "Summary: N messages delivered (X.X MiB), D deferred, P purged in T.TT s";
 * with --no-delivery "Summary: N messages marked without delivery, P
 * purged in T.TT s". Returns an owned string.
 */
char *pl_summary_text(const struct pl_summary *s);

#endif /* PL_LOG_H */
