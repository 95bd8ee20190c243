/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file sync.h
 * @brief Stateful two-way synchronisation of two IMAP servers (the engine
 *        of interimap), with its state in an SQLite database compatible
 *        with InterIMAP 0.5.7.
 *
 * A qr_sync joins two connections, `local` and `remote`, and a state
 * database. qr_sync_run() performs one synchronisation pass: it waits for
 * both connections to be set up (they connect concurrently), checks the
 * extensions the pass needs (LIST-EXTENDED, LIST-STATUS, UIDPLUS and
 * QRESYNC enabled), lists the mailboxes on both servers at once, creates
 * or upgrades the database schema, reconciles the mailbox lists, resumes
 * an interrupted pass, and then synchronises every mailbox that changed on
 * either side since the state saved last time: expunges, flag changes
 * (conflicts resolved by the union of both flag lists) and new messages,
 * copied with MULTIAPPEND batches while the source's FETCH still streams.
 *
 * **Compatibility.** Commands, commit points, database contents and log
 * texts are those of InterIMAP 0.5.7 (see the project's docs). On top of
 * it: both servers work at the same time, commands are pipelined, message
 * bodies above 1 MiB go through an unnamed temporary file instead of
 * memory, and every APPEND batch is recorded in a journal table
 * (`qr_append_journal`, ignored by the Perl tool) before it is sent, so
 * that a pass killed between an APPEND and the commit of its mapping adopts
 * the copies the next time instead of copying the messages again.
 *
 * **Mailbox names.** The engine works with server names as the servers
 * spell them (modified UTF-7, the server's hierarchy delimiter, the
 * list-reference prefix) and with internal names (reference removed,
 * delimiter replaced by NUL), which the database stores.
 *
 * **Logging.** Every line the pass prints goes to the log callback with
 * the component it is about, the mailbox (a server name) when there is
 * one, and whether `--quiet` hides it. The text is final (`WARNING: ...`,
 * `ERROR: ...` included); the host adds its prefix. The library never
 * prints anything itself.
 *
 * **Threads.** A qr_sync is not thread-safe. Connections and loop given to
 * it must not be used by anything else while qr_sync_run() runs.
 */
#ifndef QRESYNC_SYNC_H
#define QRESYNC_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/common.h>
#include <qresync/conn.h>
#include <qresync/error.h>
#include <qresync/log.h>
#include <qresync/loop.h>

QR_BEGIN_DECLS

/**
 * A synchronisation of two servers (opaque).
 * @since 0.1
 */
typedef struct qr_sync qr_sync;

/**
 * The two servers.
 * @since 0.1
 */
typedef enum qr_sync_side {
    QR_SYNC_LOCAL = 0, /**< the `[local]` server */
    QR_SYNC_REMOTE = 1 /**< the `[remote]` server */
} qr_sync_side;

/**
 * What a log line is about (the `%n` of interimap's log-prefix).
 * @since 0.1
 */
typedef enum qr_sync_component {
    QR_SYNC_COMP_NONE = 0,    /**< the pass itself (no name) */
    QR_SYNC_COMP_LOCAL = 1,   /**< the local server: "local" */
    QR_SYNC_COMP_REMOTE = 2,  /**< the remote server: "remote" */
    QR_SYNC_COMP_DATABASE = 3 /**< the state database: "database" */
} qr_sync_component;

/** qr_sync_log_line.flags: `--quiet` hides the line. @since 0.1 */
#define QR_SYNC_LOG_QUIET 0x1u

/**
 * One line of the pass's log.
 * @since 0.1
 */
typedef struct qr_sync_log_line {
    qr_log_level level;          /**< ERROR, WARNING, INFO or DEBUG */
    qr_sync_component component; /**< what it is about */
    const char *mailbox;         /**< the mailbox (server name of that component's server),
                                      or NULL */
    const char *text;            /**< the text, NUL-terminated, e.g. `Added 1 UID(s) 1 <- 1` */
    size_t len;                  /**< strlen(text) */
    unsigned int flags;          /**< QR_SYNC_LOG_* bits */
} qr_sync_log_line;

/**
 * A log callback.
 *
 * @param line    The line; borrowed for the call.
 * @param payload The options' log_payload.
 * @since 0.1
 */
typedef void (*qr_sync_log_fn)(const qr_sync_log_line *line, void *payload);

/**
 * Whether a mailbox is left out (interimap's `ignore-mailbox`).
 *
 * @param name    The internal name (hierarchy delimiter replaced by NUL).
 * @param len     Its length in bytes.
 * @param payload The options' ignore_payload.
 * @return 1 to leave the mailbox out, 0 to keep it, a negative QR_E* code
 *         to stop the pass with that error.
 * @since 0.1
 */
typedef int (*qr_sync_ignore_fn)(const char *name, size_t len, void *payload);

/**
 * Counters of a pass (and the progress of its copies).
 * @since 0.1
 */
typedef struct qr_sync_stats {
    uint64_t mailboxes;        /**< mailboxes selected and synchronised */
    uint64_t copied[2];        /**< messages copied to local [0] and to remote [1] */
    uint64_t copied_bytes[2];  /**< their bytes */
    uint64_t flags_updated[2]; /**< messages whose flags were stored on local/remote */
    uint64_t expunged[2];      /**< messages expunged on local/remote */
    uint64_t to_copy;          /**< progress: an estimate of what the current copy pass
                                    (one mailbox, one direction) copies: the source's EXISTS
                                    minus the mapped messages; 0 when unknown */
    uint64_t to_copy_bytes;    /**< reserved; 0 */
    uint64_t adopted;          /**< copies of an interrupted pass adopted from the journal */
} qr_sync_stats;

/**
 * Progress callback, called as messages are copied (at most a few times a
 * second is the host's business: it is called for every message).
 *
 * @param stats   The counters so far; borrowed.
 * @param mailbox The mailbox being copied (local server name), or NULL.
 * @param payload The options' progress_payload.
 * @since 0.1
 */
typedef void (*qr_sync_progress_fn)(const qr_sync_stats *stats, const char *mailbox, void *payload);

/** qr_sync_options.flags: watch mode (never create the database file). @since 0.1 */
#define QR_SYNC_WATCH 0x1u
/** qr_sync_options.flags: the patterns came from the command line (ignore-mailbox does
 * not apply). @since 0.1 */
#define QR_SYNC_CLI_MAILBOXES 0x2u

/** qr_sync_options.flags: notify mode (RFC 5465 NOTIFY instead of LIST-STATUS polling;
 * see qr_sync_idle()). @since 0.1 */
#define QR_SYNC_NOTIFY 0x4u

/** @name Targets of qr_sync_delete() and qr_sync_rename() @{ */
#define QR_SYNC_TARGET_LOCAL    0x1u /**< the local server */
#define QR_SYNC_TARGET_REMOTE   0x2u /**< the remote server */
#define QR_SYNC_TARGET_DATABASE 0x4u /**< the state database */
/** @} */

/** Current version of qr_sync_options. @since 0.1 */
#define QR_SYNC_OPTIONS_VERSION 1

/**
 * How to synchronise. Fill with qr_sync_options_init().
 * @since 0.1
 */
typedef struct qr_sync_options {
    unsigned int version;            /**< QR_SYNC_OPTIONS_VERSION */
    unsigned int flags;              /**< QR_SYNC_* bits */
    qr_conn *conn[2];                /**< the local and remote connections (borrowed;
                                          connecting or ready, with `enable` "QRESYNC") */
    const char *database;            /**< the database file path */
    const char *list_reference[2];   /**< each server's `list-reference`, or NULL for "" */
    const char *const *patterns;     /**< LIST patterns: bytes, a NUL stands for the
                                          hierarchy delimiter; none lists `*` */
    const size_t *pattern_lens;      /**< their lengths */
    size_t npatterns;                /**< their number */
    const char *list_select_opts;    /**< `list-select-opts` items, e.g. "SUBSCRIBED", or
                                          NULL */
    qr_sync_ignore_fn ignore;        /**< `ignore-mailbox`, or NULL */
    void *ignore_payload;            /**< passed to ignore */
    qr_sync_log_fn log_fn;           /**< log callback, or NULL */
    void *log_payload;               /**< passed to log_fn */
    qr_log_level log_level;          /**< most verbose level passed to log_fn (default
                                          QR_LOG_INFO) */
    qr_sync_progress_fn progress_fn; /**< progress callback, or NULL */
    void *progress_payload;          /**< passed to progress_fn */
    int connect_timeout_ms;          /**< how long to wait for the set-up of the
                                          connections (default 0: the connections' own
                                          timeouts) */
} qr_sync_options;

/**
 * Fill options with the defaults.
 *
 * @param opts    The options.
 * @param version QR_SYNC_OPTIONS_VERSION.
 * @return 0; QR_EINVAL for NULL or an unknown version.
 * @since 0.1
 */
QR_EXTERN int qr_sync_options_init(qr_sync_options *opts, unsigned int version);

/**
 * Create a synchronisation. Nothing is opened yet.
 *
 * @param out  Receives it; NULL on failure.
 * @param opts The options (copied, strings and patterns too; the connections
 *             are borrowed and must outlive the qr_sync).
 * @return 0; QR_EINVAL (NULL argument, unknown version or flags, one
 *         connection without the other, no database path, the same
 *         connection twice); QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_sync_free().
 * @since 0.1
 */
QR_EXTERN int qr_sync_new(qr_sync **out, const qr_sync_options *opts);

/**
 * Free a synchronisation: roll back what was not committed and close the
 * database. The connections are not closed (they are the caller's).
 *
 * @param s The synchronisation; NULL is a no-op.
 * @since 0.1
 */
QR_EXTERN void qr_sync_free(qr_sync *s);

/**
 * Open the database (creating it unless QR_SYNC_WATCH) and take its
 * exclusive lock. qr_sync_run() does it when it was not done; call it
 * first to fail early, before the servers are contacted, as interimap does.
 *
 * @param s The synchronisation.
 * @return 0; QR_ELOCKED ("database is locked"); QR_ESTORE or QR_EIO (the
 *         file cannot be created or opened); QR_ENOMEM. The detail is in
 *         qr_sync_last_error().
 * @since 0.1
 */
QR_EXTERN int qr_sync_open(qr_sync *s);

/**
 * Give the connections, when qr_sync_new() had none: lets a program take
 * the database lock with qr_sync_open() before it starts any tunnel or
 * connection, as interimap does.
 *
 * @param s      The synchronisation (no connections yet, not running).
 * @param local  The local connection (borrowed; must outlive s).
 * @param remote The remote connection (borrowed; must outlive s).
 * @return 0; QR_EINVAL (NULL argument, the same connection twice, or
 *         connections already given).
 * @since 0.1
 */
QR_EXTERN int qr_sync_attach(qr_sync *s, qr_conn *local, qr_conn *remote);

/**
 * Run one synchronisation pass: wait for the connections, list, reconcile,
 * recover, synchronise every dirty mailbox, as the file documentation says.
 *
 * @param s The synchronisation (with its connections).
 * @return 0 when every mailbox was synchronised; QR_EINVAL without
 *         connections; else the first error:
 *         QR_ECAPABILITY (a required extension is missing), QR_EUIDVALIDITY,
 *         QR_ENO / QR_EBAD (a command refused), QR_ERROR (the pass refused
 *         to go on: a mailbox exists on one side only although the
 *         database knows it, the namespaces differ, [NOMODSEQ]), QR_EPROTO,
 *         QR_EOF, QR_EIO, QR_ETLS, QR_EAUTH, QR_ECANCELED (a connection
 *         failed), QR_ESTORE / QR_ELOCKED (the database), QR_ENOMEM. The error line was logged
 * (level QR_LOG_ERROR) with its component; qr_sync_last_error() has the detail. Whatever was not
 *         committed is rolled back when the qr_sync is freed; the next pass
 *         resumes from the database. (A missing extension is logged as the
 *         reference's fatal text alone, `Non LIST-EXTENDED-capable IMAP
 *         server.`, without `ERROR: `.)
 * @since 0.1
 */
QR_EXTERN int qr_sync_run(qr_sync *s);

/**
 * `interimap --delete`: delete the mailboxes named by the patterns of the
 * options (command-line names, local delimiter) on each target: DELETE on
 * the servers where they exist, their rows in the database (committed per
 * mailbox). Not recursive. INBOX is refused. Lists first (without RETURN
 * options) and checks the schema, as the reference does.
 *
 * @param s       The synchronisation (with its connections).
 * @param targets QR_SYNC_TARGET_* bits; 0 does nothing.
 * @return 0; the errors of qr_sync_run(); QR_EINVAL (no connections, or
 *         `INBOX can't be deleted`).
 * @since 0.1
 */
QR_EXTERN int qr_sync_delete(qr_sync *s, unsigned int targets);

/**
 * `interimap --rename SOURCE DEST`: the two patterns of the options. DEST
 * existing on a target aborts before anything changes; then RENAME on the
 * servers where SOURCE was listed, and the database rows of SOURCE and its
 * descendants renamed (committed).
 *
 * @param s       The synchronisation (with its connections; two patterns).
 * @param targets QR_SYNC_TARGET_* bits.
 * @return 0; the errors of qr_sync_run(); QR_EINVAL (not two patterns);
 *         QR_ERROR (DEST exists).
 * @since 0.1
 */
QR_EXTERN int qr_sync_rename(qr_sync *s, unsigned int targets);

/**
 * `interimap --repair`: list, reconcile and recover as qr_sync_run() does,
 * then compare every mapped pair of every listed mailbox with a full UID
 * and flag download on both sides, repair what is wrong (with the
 * reference's warnings) and synchronise the mailbox.
 *
 * @param s The synchronisation (with its connections).
 * @return As qr_sync_run().
 * @since 0.1
 */
QR_EXTERN int qr_sync_repair(qr_sync *s);

/**
 * Watch mode: wait between two passes of qr_sync_run(). Without
 * QR_SYNC_NOTIFY: UNSELECT (NOOP without UNSELECT) on both servers, then
 * wait `seconds` while the connections stay served; the next
 * qr_sync_run() lists again, so new mailboxes are picked up. With
 * QR_SYNC_NOTIFY: the first call sends the NOTIFY commands; each call waits
 * on both servers at once until a mailbox becomes dirty (returns at once
 * then), or `seconds` pass (then NOOP on both). Mailbox creation,
 * deletion and renaming notifications make the next pass list again;
 * `[NOTIFICATIONOVERFLOW]` makes it a full pass.
 *
 * @param s       The synchronisation, after a successful qr_sync_run().
 * @param seconds The longest wait.
 * @return 0 when the next pass is due; QR_ECANCELED after
 *         qr_sync_cancel(); a connection's error; QR_ECAPABILITY (NOTIFY
 *         missing in notify mode).
 * @since 0.1
 */
QR_EXTERN int qr_sync_idle(qr_sync *s, int seconds);

/**
 * Ask a running qr_sync_run(), qr_sync_idle() (or the other commands) to
 * stop at the next safe point: every command in flight completes, nothing
 * more is committed, and the call returns QR_ECANCELED. Everything not
 * committed is rolled back at qr_sync_free(); the database stays
 * consistent. Only sets a flag: safe to call from a signal handler (the
 * signal also interrupts the poll() the loop sleeps in).
 *
 * @param s The synchronisation; NULL is a no-op.
 * @since 0.1
 */
QR_EXTERN void qr_sync_cancel(qr_sync *s);

/**
 * The counters of the last (or current) pass.
 *
 * @param s The synchronisation.
 * @return Borrowed; valid until s is freed.
 * @since 0.1
 */
QR_EXTERN const qr_sync_stats *qr_sync_stats_get(const qr_sync *s);

/**
 * The mailbox selected on one side, as the server spells it, while that
 * connection is in the SELECTED state (the `%m` of interimap's log-prefix
 * for protocol lines), else NULL.
 *
 * @param s    The synchronisation.
 * @param side The side.
 * @return Borrowed until the next call into s, or NULL.
 * @since 0.1
 */
QR_EXTERN const char *qr_sync_selected(const qr_sync *s, qr_sync_side side);

/**
 * The detail of the last failure.
 *
 * @param s The synchronisation.
 * @return Borrowed; code QR_OK when nothing failed.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_sync_last_error(const qr_sync *s);

/**
 * The component the last failure is about (for the host's exit status).
 *
 * @param s The synchronisation.
 * @return A qr_sync_component.
 * @since 0.1
 */
QR_EXTERN qr_sync_component qr_sync_error_component(const qr_sync *s);

QR_END_DECLS

#endif /* QRESYNC_SYNC_H */
