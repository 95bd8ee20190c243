/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h: interimap's log sink (interimap.md §4).
 *
 * Two channels, as the reference's "log" and "logger":
 *
 *   IM_LOG    informational, warning and error lines: always on stderr,
 *             and also in the log file when `logfile` is set;
 *   IM_DEBUG  debug lines: in the log file when it is set, else on stderr.
 *
 * A line is PREFIX TEXT, PREFIX being the `log-prefix` format rendered
 * with %n = the component name (local, remote, database, or none) and
 * %m = the mailbox (control bytes escaped as \xHH). In the log file each
 * line starts with a timestamp and a space: strftime("%b %e %H:%M:%S") in
 * local time (C locale: the program never calls setlocale), then "." and
 * the microseconds of the second as a plain, unpadded decimal integer,
 * exactly as the reference writes it (".5003" is 5003 µs), because
 * scripts parse it. The file is opened O_APPEND | O_CLOEXEC and every line
 * goes out in one write(2), so nothing waits in a buffer.
 *
 * On a terminal the sink also keeps one status line (the copy progress,
 * report.h) at the bottom of stderr: it is erased before any other line
 * is written there and never reaches the log file.
 *
 * The callbacks im_log_sync_cb (qr_sync_log_fn) and im_log_conn_cb
 * (qr_log_fn) turn the library's lines into sink lines; see log.c for the
 * mapping of levels and categories.
 *
 * Two more things for the program's own needs: the log file can be
 * reopened (SIGHUP in watch mode, after logrotate moved it: the signal
 * handler sets `reopen`, and the next line, or im_log_reopen_pending(),
 * reopens the file by its path); and the engine's ERROR lines can be held
 * back while a call runs (im_log_hold()), so that the program can drop
 * them when the failure turns out to be a lost connection that it cures
 * by reconnecting, or the cancellation it asked for.
 */
#ifndef IM_LOG_H
#define IM_LOG_H

#include <signal.h>
#include <stddef.h>
#include <sys/time.h>

#include <qresync/log.h>
#include <qresync/sync.h>

#include "err.h"
#include "logprefix.h"
#include "statusline.h"
#include "wirelog.h"

/** The two channels. */
enum im_channel {
    IM_LOG,   /* stderr, and the log file when set */
    IM_DEBUG, /* the log file when set, else stderr */
};

/** im_log_write() flags: --quiet drops the line. */
#define IM_LOG_QUIET 0x1u

/** The sink. Fill with im_log_init(); the fields are for the tests to read. */
struct im_log {
    struct qrt_logprefix *prefix;       /* the log-prefix format, owned */
    int err_fd;                         /* stderr (2) or a test's descriptor */
    int file_fd;                        /* the log file, -1 when none; owned */
    int quiet;                          /* --quiet: lines flagged IM_LOG_QUIET are dropped */
    struct qrt_status status;           /* the status line on err_fd */
    void (*clock)(struct timeval *now); /* wall clock for timestamps (gettimeofday) */
    char *path;                         /* the log file's path, owned, or NULL */
    volatile sig_atomic_t reopen;       /* set (a signal handler may) to reopen the file */
    int holding;                        /* im_log_hold(): ERROR lines of the engine wait */
    struct im_log_held *held;           /* those lines, owned */
    size_t n_held;                      /* their number */
};

/**
 * Prepare a sink writing to err_fd (no log file yet). prefix_format is the
 * `log-prefix` value (QRT_LOGPREFIX_DEFAULT when unset).
 */
void im_log_init(struct im_log *lg, const char *prefix_format, int quiet, int err_fd);

/**
 * Open the log file for appending (created with mode 0666 & ~umask).
 * Error (status 255): "Can't open PATH: ERRNO-TEXT".
 */
int im_log_open_file(struct im_log *lg, const char *path, struct qrt_err *err);

/**
 * If `reopen` is set: clear it and open the log file again by its path
 * (logrotate moved it away); the previous descriptor is closed once the
 * new one is open. If that fails, the sink keeps writing to the previous
 * file and says "WARNING: Can't open PATH: ERRNO-TEXT" on both. Called by
 * im_log_write() before every line; the program calls it between passes.
 */
void im_log_reopen_pending(struct im_log *lg);

/**
 * Hold back the ERROR lines that im_log_sync_cb() receives from now on,
 * until im_log_release(). A line of the IM_LOG channel written meanwhile
 * first prints the held ones, so the visible order stays the engine's.
 */
void im_log_hold(struct im_log *lg);

/** Stop holding; print the held lines when print is non-zero, else drop them. */
void im_log_release(struct im_log *lg, int print);

/** Erase the status line, drop held lines, close the log file, free the prefix. */
void im_log_close(struct im_log *lg);

/**
 * Write the log-file timestamp of tv ("Nov 28 15:40:34.995003", no
 * trailing space) into buf; returns its length, 0 if it did not fit.
 */
size_t im_log_timestamp(char *buf, size_t size, const struct timeval *tv);

/**
 * Write one line: PREFIX(name, mailbox) TEXT on the channel. name and
 * mailbox may be NULL. Flags: IM_LOG_QUIET. Write errors are ignored (a
 * closed stderr must not stop a synchronisation).
 */
void im_log_write(struct im_log *lg, enum im_channel ch, unsigned flags, const char *name,
                  const char *mailbox, const char *text);

/** im_log_write() with a printf format. */
void im_log_printf(struct im_log *lg, enum im_channel ch, unsigned flags, const char *name,
                   const char *mailbox, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/**
 * Show text as the status line on err_fd (redrawn in place with "\r"),
 * or erase it when text is NULL. Never written to the log file.
 */
void im_log_status(struct im_log *lg, const char *text);

/** The component name of %n: "local", "remote", "database", or NULL. */
const char *im_log_component_name(qr_sync_component c);

/**
 * qr_sync_log_fn; payload is the struct im_log. DEBUG lines go to
 * IM_DEBUG, the others to IM_LOG; QR_SYNC_LOG_QUIET lines are dropped
 * under --quiet.
 */
void im_log_sync_cb(const qr_sync_log_line *line, void *payload);

/** The mailbox selected on a side (the %m of its protocol lines), or NULL. */
typedef const char *(*im_log_selected_fn)(void *arg);

/** The payload of im_log_conn_cb: one per connection. */
struct im_log_side {
    struct im_log *log;          /* the sink */
    const char *name;            /* "local" or "remote" */
    im_log_selected_fn selected; /* %m getter, or NULL (no mailbox) */
    void *selected_arg;          /* passed to selected */
    int debug;                   /* --debug given: ERROR events are shown */
    struct qrt_wire_auth auth;   /* the reference's `xxx` tag of a redacted login */
};

/**
 * qr_log_fn of a connection; payload is a struct im_log_side. Wire lines
 * (`C: ...`, `S: ...`, as qrt_wire_text() of tools/common/wirelog.h
 * writes them: "C: L1 LOGIN <redacted> <redacted>" reads
 * "C: L1 LOGIN [REDACTED]" as in the reference, §4.5) and DEBUG/TRACE
 * events go to IM_DEBUG with %m the selected mailbox; INFO (e.g.
 * [ALERT]) to IM_LOG; WARNING to IM_LOG as "WARNING: TEXT"; ERROR to IM_DEBUG as "ERROR: TEXT" and
 * only when the side's `debug` is set, because the sync engine reports the failure itself with its
 * component (sync.h): without --debug the IM_DEBUG channel still reaches stderr when there is no
 * log file, and the failure would be printed twice.
 */
void im_log_conn_cb(qr_log_level level, qr_log_category category, const char *text, size_t len,
                    void *payload);

#endif /* IM_LOG_H */
